/**
 * Shared fixtures for the backup tests: a real PostgreSQL with WAL archiving to a local directory, a
 * tablespace and tables with random and text content; per-table checksums; tar member listing with Python's
 * tarfile in streaming mode (what barman-cloud-restore uses); and a plain restore of a pgstow backup from a
 * file:// store with tar(1), to prove the backup starts as a server with the same data.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { codecForSuffix } from '../../src/pipeline/codecs.js';
import { createPostgres, startPostgres, type PgVersion, type PostgresServer } from '../harness/postgres.js';
import { chownToPostgres, makeTempDir, removeDir } from '../harness/tmp.js';
import { PEER_PYTHON } from '../harness/peers.js';

export interface BackupFixture {
  pg: PostgresServer;
  walDir: string;
  tablespaceDir: string;
  cleanup(): Promise<void>;
}

export async function startArchivingPostgres(version: PgVersion, options: { tablespace?: boolean; rows?: number; archiveCommand?: string } = {}): Promise<BackupFixture> {
  const walDir = makeTempDir(`wal-archive-${version}`);
  const tablespaceDir = makeTempDir(`tblspc-${version}`);
  chownToPostgres(walDir);
  chownToPostgres(tablespaceDir);
  const pg = await startPostgres({
    version,
    settings: { archive_mode: 'on', archive_command: options.archiveCommand ?? `test ! -f ${walDir}/%f && cp %p ${walDir}/%f`, archive_timeout: 0 },
  });
  const rows = options.rows ?? 2000;
  await pg.query(`CREATE TABLE t_random AS SELECT g AS id, md5(random()::text) AS h, random() AS r, repeat(md5(g::text), 8) AS filler FROM generate_series(1, ${rows}) g`);
  await pg.query(`CREATE TABLE t_text (id serial PRIMARY KEY, body text)`);
  await pg.query(`INSERT INTO t_text (body) SELECT string_agg(chr(32 + ((g * 7 + k) % 90)), '') FROM generate_series(1, ${Math.max(1, rows / 10)}) g, generate_series(1, 300) k GROUP BY g`);
  if (options.tablespace !== false) {
    await pg.query(`CREATE TABLESPACE ts1 LOCATION '${tablespaceDir}'`);
    await pg.query(`CREATE TABLE t_ts TABLESPACE ts1 AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, ${rows}) g`);
  }
  await pg.query('CHECKPOINT');
  return {
    pg, walDir, tablespaceDir,
    async cleanup() { await pg.destroy(); removeDir(walDir); removeDir(tablespaceDir); },
  };
}

/** md5 over each table's rows in key order: equal data ⇔ equal checksums. */
export async function tableChecksums(pg: PostgresServer): Promise<Record<string, string>> {
  const tables = await pg.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
  const out: Record<string, string> = {};
  for (const { t } of tables) {
    const r = await pg.query<{ c: string; n: string }>(`SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) AS c, count(*)::text AS n FROM ${t} x`);
    out[t] = `${r[0]?.n}:${r[0]?.c}`;
  }
  return out;
}

export interface TarMember { name: string; type: string; size: number; uid: number; gid: number; uname: string; gname: string; mode: number; mtime: number }

/** Members of a (possibly gzip/bzip2) tar, read as barman-cloud-restore reads it: tarfile mode "r|*". */
export function tarMembers(file: string): TarMember[] {
  const script = `import tarfile, json, sys
out = []
with open(sys.argv[1], 'rb') as f:
    with tarfile.open(fileobj=f, mode='r|*') as t:
        for m in t:
            out.append({'name': m.name, 'type': 'dir' if m.isdir() else 'sym' if m.issym() else 'file' if m.isfile() else m.type.decode(), 'size': m.size, 'uid': m.uid, 'gid': m.gid, 'uname': m.uname, 'gname': m.gname, 'mode': m.mode, 'mtime': m.mtime})
print(json.dumps(out))`;
  return JSON.parse(execFileSync(PEER_PYTHON, ['-c', script, file], { maxBuffer: 64 * 1024 * 1024 }).toString()) as TarMember[];
}

let plainDir: string | undefined;

/** The plain tar for a stored volume: the file itself, or a decompressed copy in a temp directory. */
export async function plainTar(file: string): Promise<string> {
  const codec = codecForSuffix(file);
  if (!codec) return file;
  plainDir ??= makeTempDir('plain-tars');
  const out = path.join(plainDir, `${Math.random().toString(36).slice(2)}-${path.basename(file)}.tar`);
  await pipeline(createReadStream(file), codec.createDecompressor(), createWriteStream(out));
  return out;
}

export function removePlainTars(): void {
  if (plainDir) removeDir(plainDir);
  plainDir = undefined;
}

/** Lists every file below `dir` as relative paths. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r); else out.push(r);
    }
  };
  if (fs.existsSync(dir)) walk(dir, '');
  return out.sort();
}

/**
 * Restores a backup directory of a file:// store by hand (tar -x), relinks tablespaces, configures archive
 * recovery from `walDir`, starts PostgreSQL and returns it. Independent of pgstow's restore command.
 */
export async function restoreByHand(version: PgVersion, backupDir: string, walDir: string, tablespaces: { oid: number }[], restoreCommand = `cp ${walDir}/%f %p`): Promise<{ pg: PostgresServer; dataDir: string; cleanup(): Promise<void> }> {
  const base = makeTempDir('restored');
  const dataDir = path.join(base, 'data');
  fs.mkdirSync(dataDir, { mode: 0o700 });
  const files = fs.readdirSync(backupDir);
  const extract = async (file: string, into: string): Promise<void> => {
    execFileSync('tar', ['-xf', await plainTar(path.join(backupDir, file)), '-C', into]);
  };
  for (const f of files.filter((x) => /^data(_\d{4})?\.tar/.test(x)).sort()) await extract(f, dataDir);
  for (const ts of tablespaces) {
    const loc = path.join(base, `ts-${ts.oid}`);
    fs.mkdirSync(loc);
    for (const f of files.filter((x) => new RegExp(`^${ts.oid}(_\\d{4})?\\.tar`).test(x)).sort()) await extract(f, loc);
    fs.mkdirSync(path.join(dataDir, 'pg_tblspc'), { recursive: true });
    fs.symlinkSync(loc, path.join(dataDir, 'pg_tblspc', String(ts.oid)));
  }
  fs.mkdirSync(path.join(dataDir, 'pg_wal', 'archive_status'), { recursive: true });
  fs.writeFileSync(path.join(dataDir, 'recovery.signal'), '');
  fs.appendFileSync(path.join(dataDir, 'postgresql.conf'), `\nrestore_command = '${restoreCommand}'\narchive_mode = off\nrecovery_target_action = 'promote'\n`);
  chownToPostgres(base);
  const pg = await createPostgres({ version, dataDir });
  await pg.start();
  await pg.waitFor('recovery to finish', async () => (await pg.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r === false);
  return { pg, dataDir, async cleanup() { await pg.destroy(); removeDir(base); } };
}

/** The backup.info key set barman-cloud 3.4 writes (spec §2.2). */
export const BARMAN_34_KEYS = ['backup_label', 'begin_offset', 'begin_time', 'begin_wal', 'begin_xlog', 'compression', 'config_file',
  'copy_stats', 'deduplicated_size', 'end_offset', 'end_time', 'end_wal', 'end_xlog', 'error', 'hba_file', 'ident_file',
  'included_files', 'mode', 'pgdata', 'server_name', 'size', 'status', 'systemid', 'tablespaces', 'timeline', 'version',
  'xlog_segment_size'];

export function readInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}
