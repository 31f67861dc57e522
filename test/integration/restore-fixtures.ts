/**
 * Helpers for the restore tests: a private moto S3 server for the real barman-cloud 3.4 commands, copying a
 * bucket prefix into a file:// store, table data with random and text content, per-table checksums, and
 * starting PostgreSQL on a restored data directory.
 */
import * as fs from 'node:fs';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createPostgres, freePort, type PgVersion, type PostgresServer } from '../harness/postgres.js';
import { MOTO_SERVER, PEER_PYTHON } from '../harness/peers.js';

export const BARMAN_BUCKET = 'barman-src';

export interface Moto {
  endpoint: string;
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** barman-cloud 3.4 from Debian's package (the commands the cross-compatibility tests drive). */
export function hasBarman(): boolean {
  return fs.existsSync('/usr/bin/barman-cloud-backup') && fs.existsSync('/usr/bin/barman-cloud-restore');
}

/** moto_server of the peers' venv, for startMoto's private server. */
export function hasMotoServer(): boolean {
  return fs.existsSync(MOTO_SERVER);
}

/** A moto S3 server on a free loopback port (only for driving barman-cloud; pgstow reads the copy on fs). */
export async function startMoto(): Promise<Moto> {
  const port = await freePort();
  const proc: ChildProcess = spawn(MOTO_SERVER, ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try { await fetch(endpoint); break; } catch {
      if (Date.now() > deadline) throw new Error('moto_server did not start');
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    endpoint,
    env: { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_DEFAULT_REGION: 'us-east-1' },
    stop: async () => { proc.kill('SIGTERM'); },
  };
}

/** Runs a barman-cloud command; throws with its output on failure. */
export function barman(cmd: string, args: string[], env: Record<string, string>): string {
  const r = spawnSync(`/usr/bin/${cmd}`, args, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Copies every object below s3://bucket/prefix/ into dir (keys relative to the prefix), via boto3. */
export function copyBucketPrefix(moto: Moto, prefix: string, dir: string): void {
  const script = `
import boto3, os, sys
s3 = boto3.client('s3', endpoint_url=sys.argv[1])
pfx = sys.argv[2].rstrip('/') + '/'
for page in s3.get_paginator('list_objects_v2').paginate(Bucket=sys.argv[3], Prefix=pfx):
    for o in page.get('Contents', []):
        dest = os.path.join(sys.argv[4], o['Key'][len(pfx):])
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        s3.download_file(sys.argv[3], o['Key'], dest)
`;
  const r = spawnSync(PEER_PYTHON, ['-c', script, moto.endpoint, prefix, BARMAN_BUCKET, dir], { env: { ...process.env, ...moto.env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`copy failed: ${r.stderr}`);
}

/** Tables with random numbers, random text and long repetitive text; one of them in `tablespace`. */
export async function createTables(pg: PostgresServer, tablespace?: string): Promise<void> {
  await pg.query(`CREATE TABLE t_random (id int primary key, r double precision, b bytea, note text)`);
  await pg.query(`CREATE TABLE t_text (id int primary key, body text) ${tablespace ? `TABLESPACE ${tablespace}` : ''}`);
}

let nextId = 1;
/** Inserts `rows` rows into each table. */
export async function insertRows(pg: PostgresServer, rows: number): Promise<void> {
  const from = nextId;
  nextId += rows;
  await pg.query(`INSERT INTO t_random SELECT g, random(), decode(md5(random()::text) || md5(random()::text), 'hex'), 'row ' || g || ' ' || md5(g::text)
    FROM generate_series($1::int, $2::int) g`, [from, from + rows - 1]);
  await pg.query(`INSERT INTO t_text SELECT g, repeat('PostgreSQL restore test ' || g || ' ', 20) || chr(233) || md5(random()::text)
    FROM generate_series($1::int, $2::int) g`, [from, from + rows - 1]);
}

export type Checksums = Record<string, string>;

/** md5 of every row of each table in id order: equal checksums = equal data. */
export async function tableChecksums(pg: PostgresServer): Promise<Checksums> {
  const out: Checksums = {};
  for (const t of ['t_random', 't_text']) {
    const rows = await pg.query<{ n: string; sum: string | null }>(`SELECT count(*)::text AS n, md5(string_agg(x::text, '|' ORDER BY id)) AS sum FROM ${t} x`);
    out[t] = `${rows[0]?.n}:${rows[0]?.sum}`;
  }
  return out;
}

/** Waits until PostgreSQL reports `wal` (or a later segment) as archived. */
export async function waitArchived(pg: PostgresServer, wal: string): Promise<void> {
  await pg.waitFor(`archiving of ${wal}`, async () => {
    const rows = await pg.query<{ w: string | null }>('SELECT last_archived_wal AS w FROM pg_stat_archiver');
    const w = rows[0]?.w;
    return !!w && w.slice(0, 24) >= wal;
  }, 120_000);
}

/** Switches to a new WAL segment and waits until the finished one is archived. */
export async function switchAndArchive(pg: PostgresServer): Promise<void> {
  const rows = await pg.query<{ w: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS w');
  await waitArchived(pg, (rows[0] as { w: string }).w);
}

/** Starts PostgreSQL on a restored directory (archiving off so it never writes into the source archive). */
export async function startRestored(dataDir: string, env: Record<string, string> = {}, version?: PgVersion): Promise<PostgresServer> {
  const server = await createPostgres({ dataDir, settings: { archive_mode: 'off' }, env, ...(version ? { version } : {}) });
  await server.start(180_000);
  await server.waitFor('the end of recovery', async () => {
    const r = await server.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec');
    return r[0]?.rec === false;
  }, 180_000);
  return server;
}
