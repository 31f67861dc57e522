/**
 * WAL archiving under a pgbench write load: archive_command set to each tool in turn; counts segments generated
 * vs archived during the load, the largest `.ready` backlog, and how long the backlog takes to drain after.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import type { PostgresServer } from '../../test/harness/postgres.js';
import { binCommandLine } from '../../test/harness/cli.js';
import type { PgbackrestConfig, StoreEndpoint } from './tools.js';

export interface LoadResult {
  tool: string;
  config: string;
  /** Length of the pgbench run, seconds. */
  loadSeconds: number;
  generated: number;
  archivedDuringLoad: number;
  maxBacklog: number;
  drainSeconds: number;
}

function shellEnv(env: Record<string, string>): string {
  return Object.entries(env).map(([k, v]) => `${k}='${v.replace(/'/g, "'\\''")}'`).join(' ');
}

export async function runArchiveUnderLoad(ctx: {
  pg: PostgresServer; seconds: number; tmp: string;
  stores: Record<'s3rver' | 'azurite', (prefix: string) => StoreEndpoint>;
  pgbr: () => PgbackrestConfig;
  /** Removes what a tool archived once it is measured (each stores gigabytes: four of them filled the disk). */
  dropArchived?: () => void;
}): Promise<LoadResult[]> {
  const { pg } = ctx;
  await pg.query('create database pgb').catch(() => undefined);
  // pgbench's default TPC-B-like transactions write well under a segment a second on this machine, which no
  // archiver finds hard. A bulk-insert script (~0.5 MB of WAL per transaction, 4 clients) writes several
  // segments a second: what a busy primary during a load or a batch job does to archive_command.
  await runPgbench(pg, ['-i', '-s', '1', '-q', 'pgb']);
  const script = path.join(ctx.tmp, 'bulk-insert.sql');
  fs.writeFileSync(script, "insert into load_rows select g, repeat(md5(random()::text), 6) from generate_series(1, 1500) g;\n");
  fs.chmodSync(script, 0o644);
  await runPsql(pg, 'pgb', 'create unlogged table if not exists load_dummy(i int); create table if not exists load_rows (id int, payload text)');
  const s3 = ctx.stores.s3rver('bench-load');
  const configs: Array<{ tool: string; config: string; command: () => string }> = [
    { tool: 'pgstow', config: 'none', command: () => `${shellEnv(s3.env)} ${binCommandLine('pgstow')} wal-archive ${s3.args.join(' ')} ${s3.url} load-pgstow %p` },
    { tool: 'pgstow', config: 'none --max-parallel 4', command: () => `${shellEnv(s3.env)} ${binCommandLine('pgstow')} wal-archive --max-parallel 4 ${s3.args.join(' ')} ${s3.url} load-pgstow-p4 %p` },
    { tool: 'barman-cloud', config: 'none', command: () => `${shellEnv(s3.env)} barman-cloud-wal-archive ${s3.args.join(' ')} ${s3.url} load-barman %p` },
    { tool: 'pgbackrest', config: 'none', command: () => { const c = ctx.pgbr(); return `pgbackrest --config=${c.configFile} --stanza=${c.stanza} --compress-type=none archive-push %p`; } },
  ];
  const results: LoadResult[] = [];
  const readyDir = path.join(pg.dataDir, 'pg_wal', 'archive_status');
  const countReady = (): number => fs.readdirSync(readyDir).filter((f) => f.endsWith('.ready')).length;
  const segSize = Number((await pg.query<{ s: string }>("select setting as s from pg_settings where name = 'wal_segment_size'"))[0]?.s);
  for (const c of configs) {
    await pg.query(`alter system set archive_command = '${c.command().replace(/'/g, "''")}'`);
    await pg.query('select pg_reload_conf()');
    await pg.waitFor('backlog empty before the load', async () => countReady() === 0, 180_000);
    const lsn0 = BigInt((await pg.query<{ l: string }>("select (pg_current_wal_lsn() - '0/0')::text as l"))[0]?.l ?? '0');
    const arch0 = Number((await pg.query<{ n: string }>('select archived_count::text as n from pg_stat_archiver'))[0]?.n ?? 0);
    let maxBacklog = 0;
    // A failure to read the backlog fails this phase with its cause; thrown from the timer it ended the whole
    // bench process and lost every finished phase's rows (2026-12-06: ENOENT on archive_status).
    let samplerError: unknown;
    const sampler = setInterval(() => {
      try { maxBacklog = Math.max(maxBacklog, countReady()); } catch (err) { samplerError ??= err; }
    }, 500);
    const tLoad = Date.now();
    await runPgbench(pg, ['-n', '-c', '4', '-j', '2', '-T', String(ctx.seconds), '-f', script, 'pgb']);
    await runPsql(pg, 'pgb', 'truncate load_rows');
    const loadSeconds = (Date.now() - tLoad) / 1000;
    clearInterval(sampler);
    if (samplerError !== undefined) throw new Error(`cannot read the .ready backlog in ${readyDir} during the ${c.tool} ${c.config} load: ${(samplerError as Error).message}`, { cause: samplerError });
    const lsn1 = BigInt((await pg.query<{ l: string }>("select (pg_current_wal_lsn() - '0/0')::text as l"))[0]?.l ?? '0');
    const arch1 = Number((await pg.query<{ n: string }>('select archived_count::text as n from pg_stat_archiver'))[0]?.n ?? 0);
    const t0 = Date.now();
    await pg.waitFor('backlog drained', async () => countReady() === 0, 600_000).catch(() => undefined);
    results.push({ tool: c.tool, config: c.config, loadSeconds, generated: Number((lsn1 - lsn0) / BigInt(segSize)), archivedDuringLoad: arch1 - arch0, maxBacklog, drainSeconds: (Date.now() - t0) / 1000 });
    ctx.dropArchived?.();
  }
  return results;
}

async function runPsql(pg: PostgresServer, db: string, sql: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn('/usr/bin/psql', ['-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', '-d', db, '-v', 'ON_ERROR_STOP=1', '-q', '-c', sql], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-4000); });
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`psql failed (${code}): ${err}`))));
  });
}

async function runPgbench(pg: PostgresServer, args: string[]): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn('/usr/lib/postgresql/15/bin/pgbench', ['-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-4000); });
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`pgbench ${args.join(' ')} failed (${code}): ${err}`))));
  });
}
