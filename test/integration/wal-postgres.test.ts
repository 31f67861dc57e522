/**
 * Real PostgreSQL with archive_command and restore_command set to pgstow, on every store kind: a pgbench
 * write load, every generated segment stored and byte-identical after restore, a server recovering from a
 * base backup replays them to the same data, and a store outage during the load loses nothing.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { binCommandLine, runCli } from '../harness/cli.js';
import { createPostgres, postgresBinDir, startPostgres, type PostgresServer } from '../harness/postgres.js';
import { ALL_STORE_KINDS, storeTarget, type StoreTarget } from '../harness/stores.js';
import { chownToPostgres, makeTempDir } from '../harness/tmp.js';
import { startPrivateS3rver } from '../harness/servers/s3rver.js';
import { TEST_BUCKET } from '../harness/stores.js';
import { parseWalFileName, segmentNameFromNumber, segmentNumber } from '../../src/domain/wal/wal-file-name.js';

const SEG = 1 << 20;
const PGBIN = postgresBinDir(15);

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function commandLine(program: string, target: StoreTarget, extra: string[], tail: string): string {
  return [binCommandLine(program), ...[...target.args, ...extra, target.url, 'srv'].map(shellQuote), tail].join(' ');
}

function pgbench(pg: PostgresServer, args: string[]): void {
  execFileSync(path.join(PGBIN, 'pgbench'), ['-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', ...args, 'postgres'], { stdio: 'pipe' });
}

async function currentSegment(pg: PostgresServer): Promise<string> {
  const rows = await pg.query<{ w: string }>('select pg_walfile_name(pg_current_wal_lsn()) as w');
  return rows[0]?.w as string;
}

/** Switches WAL and waits until everything before the switch point is archived. Returns the last archived. */
async function switchAndWaitArchived(pg: PostgresServer, timeoutMs = 90_000): Promise<string> {
  const rows = await pg.query<{ w: string }>('select pg_walfile_name(pg_switch_wal()) as w');
  const last = rows[0]?.w as string;
  await pg.waitFor(`archiving of ${last}`, async () => {
    const a = await pg.query<{ l: string | null }>('select last_archived_wal as l from pg_stat_archiver');
    const l = a[0]?.l;
    return typeof l === 'string' && l.length === 24 && l >= last;
  }, timeoutMs);
  return last;
}

function segmentsBetween(first: string, last: string): string[] {
  const a = parseWalFileName(first);
  const from = segmentNumber(a, SEG);
  const to = segmentNumber(parseWalFileName(last), SEG);
  const out: string[] = [];
  for (let n = from; n <= to; n++) out.push(segmentNameFromNumber(a.timeline, n, SEG));
  return out;
}

/** chmod every directory of a tree (the fs store's key directories). */
function chmodDirs(dir: string, mode: number): void {
  fs.chmodSync(dir, mode);
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) chmodDirs(path.join(dir, e.name), mode);
}

async function inBatches<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += n) await Promise.all(items.slice(i, i + n).map(fn));
}

function prepareTarget(t: Parameters<typeof storeTarget>[0], kind: StoreTarget['kind']): StoreTarget | undefined {
  const target = storeTarget(t, kind, `wal-pg-${kind}`);
  if (target?.kind === 'fs') chownToPostgres(path.dirname(fileURLToPath(target.url))); // archive_command runs as postgres
  return target;
}

async function dataFingerprint(pg: PostgresServer): Promise<string> {
  const rows = await pg.query<{ f: string }>(`select (select count(*) from pgbench_history)::text || '/' || (select sum(abalance) from pgbench_accounts)::text
    || '/' || (select md5(string_agg(aid::text || ':' || abalance::text, ',' order by aid)) from pgbench_accounts) as f`);
  return rows[0]?.f as string;
}

for (const kind of ALL_STORE_KINDS) {
  describe(`PostgreSQL archive_command/restore_command with pgstow on ${kind}`, () => {
    it('archives every segment of a pgbench load, restores them byte-identical, and a new server replays them', async (t) => {
      const target = prepareTarget(t, kind);
      if (!target) return;
      const work = makeTempDir(`wal-pg-${kind}`);
      chownToPostgres(work);
      const env = { ...target.env, PGSTOW_SPOOL_DIR: path.join(work, 'spool') };
      const pg = await startPostgres({
        initdbArgs: ['--wal-segsize=1'],
        env,
        settings: {
          archive_mode: 'on',
          archive_command: commandLine('barman-cloud-wal-archive', target, ['-z', '--max-parallel', '4'], '%p'),
          wal_keep_size: '1GB', max_wal_size: '1GB', checkpoint_timeout: '1h',
        },
      });
      t.after(() => pg.destroy());
      const first = await currentSegment(pg);
      const backupDir = path.join(work, 'backup');
      execFileSync(path.join(PGBIN, 'pg_basebackup'), ['-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', '-D', backupDir, '-X', 'none', '-c', 'fast'], { stdio: 'pipe', timeout: 180_000 });
      pgbench(pg, ['-i', '-s', '2', '-q']);
      pgbench(pg, ['-t', '300', '-c', '2']);
      const last = await switchAndWaitArchived(pg);
      const fingerprint = await dataFingerprint(pg);
      const expected = segmentsBetween(first, last);
      assert.ok(expected.length >= 10, `the load produced ${expected.length} segments`);

      // Every segment is in the store and restores byte-identical to pg_wal's copy.
      const restoredDir = path.join(work, 'restored');
      fs.mkdirSync(restoredDir);
      await inBatches(expected, 4, async (name) => {
        const dest = path.join(restoredDir, name);
        const r = await runCli('barman-cloud-wal-restore', [...target.args, target.url, 'srv', name, dest], { env: target.env });
        assert.equal(r.code, 0, `restore ${name}: ${r.stderr}`);
        const original = path.join(pg.dataDir, 'pg_wal', name);
        assert.ok(fs.readFileSync(dest).equals(fs.readFileSync(original)), `${name} is byte-identical`);
      });
      await pg.stop();

      // A server started from the base backup replays everything from the archive through pgstow.
      fs.writeFileSync(path.join(backupDir, 'recovery.signal'), '');
      const replica = await createPostgres({
        dataDir: backupDir, env,
        settings: {
          archive_mode: 'off',
          restore_command: commandLine('barman-cloud-wal-restore', target, ['--max-parallel', '4'], '%f %p'),
          recovery_target_timeline: 'current',
        },
      });
      t.after(() => replica.destroy());
      await replica.start(120_000);
      await replica.waitFor('the end of archive recovery', async () => {
        const r = await replica.query<{ r: boolean }>('select pg_is_in_recovery() as r');
        return r[0]?.r === false;
      }, 120_000);
      assert.equal(await dataFingerprint(replica), fingerprint, 'recovered data equals the original');
      assert.match(replica.log, /restored log file "[0-9A-F]{24}" from archive/);
    });

    if (kind === 'fs') {
      it('a store outage makes archive_command fail; when it returns, no segment is missing', async (t) => {
        const target = prepareTarget(t, kind);
        if (!target) return;
        const storeDir = fileURLToPath(target.url);
        fs.mkdirSync(storeDir, { recursive: true });
        chownToPostgres(path.dirname(storeDir));
        const pg = await startPostgres({
          initdbArgs: ['--wal-segsize=1'],
          settings: {
            archive_mode: 'on',
            archive_command: commandLine('barman-cloud-wal-archive', target, ['--lz4'], '%p'),
            wal_keep_size: '1GB', max_wal_size: '1GB', checkpoint_timeout: '1h',
          },
        });
        t.after(() => pg.destroy());
        const first = await currentSegment(pg);
        pgbench(pg, ['-i', '-s', '1', '-q']);
        await switchAndWaitArchived(pg);
        chmodDirs(storeDir, 0o555); // the store "goes away" for the postgres user
        pgbench(pg, ['-t', '200', '-c', '2']);
        await pg.query('select pg_switch_wal()');
        await pg.waitFor('a failed archive attempt', async () => {
          const r = await pg.query<{ n: string }>('select failed_count::text as n from pg_stat_archiver');
          return Number(r[0]?.n) > 0;
        });
        assert.match(pg.log, /archive command failed with exit code/);
        chmodDirs(storeDir, 0o755);
        const last = await switchAndWaitArchived(pg);
        const out = makeTempDir('wal-outage');
        await inBatches(segmentsBetween(first, last), 4, async (name) => {
          const dest = path.join(out, name);
          const r = await runCli('barman-cloud-wal-restore', [...target.args, target.url, 'srv', name, dest], { env: target.env });
          assert.equal(r.code, 0, `segment ${name} is in the archive: ${r.stderr}`);
          assert.ok(fs.readFileSync(dest).equals(fs.readFileSync(path.join(pg.dataDir, 'pg_wal', name))), `${name} byte-identical`);
        });
      });
    }
  });
}

describe('PostgreSQL archiving through pgstow to an S3 server that goes away mid-load', () => {
  it('archive_command fails while s3rver is down; when it returns, no segment is missing', async (t) => {
    const dir = makeTempDir('wal-outage-s3rver');
    let s3;
    try { s3 = await startPrivateS3rver(dir); } catch (err) {
      if (process.env.CI === 'true') throw err;
      t.skip(`s3rver cannot start: ${(err as Error).message}`);
      return;
    }
    t.after(() => s3.stop().catch(() => undefined));
    const target: StoreTarget = {
      kind: 's3rver', url: `s3://${TEST_BUCKET}/outage`,
      args: ['--cloud-provider', 'aws-s3', '--endpoint-url', s3.info.endpoint],
      env: { AWS_ACCESS_KEY_ID: s3.info.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.info.secretAccessKey, AWS_DEFAULT_REGION: s3.info.region },
    };
    const pg = await startPostgres({
      initdbArgs: ['--wal-segsize=1'], env: target.env,
      settings: {
        archive_mode: 'on',
        archive_command: commandLine('barman-cloud-wal-archive', target, ['-z', '--read-timeout', '5'], '%p'),
        wal_keep_size: '1GB', max_wal_size: '1GB', checkpoint_timeout: '1h',
      },
    });
    t.after(() => pg.destroy());
    const first = await currentSegment(pg);
    pgbench(pg, ['-i', '-s', '1', '-q']);
    await switchAndWaitArchived(pg);
    await s3.stop();
    pgbench(pg, ['-t', '200', '-c', '2']);
    await pg.query('select pg_switch_wal()');
    await pg.waitFor('a failed archive attempt', async () => {
      const r = await pg.query<{ n: string }>('select failed_count::text as n from pg_stat_archiver');
      return Number(r[0]?.n) > 0;
    });
    await s3.restart();
    const last = await switchAndWaitArchived(pg, 120_000);
    const out = makeTempDir('wal-outage-s3rver-restore');
    await inBatches(segmentsBetween(first, last), 4, async (name) => {
      const dest = path.join(out, name);
      const r = await runCli('barman-cloud-wal-restore', [...target.args, target.url, 'srv', name, dest], { env: target.env });
      assert.equal(r.code, 0, `segment ${name} is in the archive: ${r.stderr}`);
      assert.ok(fs.readFileSync(dest).equals(fs.readFileSync(path.join(pg.dataDir, 'pg_wal', name))), `${name} byte-identical`);
    });
  });
});
