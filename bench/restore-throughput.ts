/**
 * Restore throughput and peak memory, pgstow beside barman-cloud-restore 3.4, on the same backups in a
 * private s3rver: a pgbench database, one barman-cloud-backup per compression (none, gzip) restored by both
 * tools, plus pgstow backups (lz4, zstd) restored by pgstow. MB/s of database = pg_database_size sum /
 * wall seconds of the restore command; peak RSS from /usr/bin/time -v.
 *   npm run build && node dist/bench/restore-throughput.js [--scale 20] [--pgstow-compressions lz4,zstd] [--jobs 2] [--pgstow-args "--streams 8"]
 * `--other TREE` also restores every backup with another build of pgstow (e.g. before a change), alternating
 * with this one `--reps N` times (default 1), so both see the same machine load.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startPostgres, postgresBinDir } from '../test/harness/postgres.js';
import { binPath } from '../test/harness/cli.js';
import { makeTempDir, removeDir, chownToPostgres } from '../test/harness/tmp.js';
import { startPrivateS3rver } from '../test/harness/servers/s3rver.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const scale = Number(arg('scale', '20'));
const pgstowOnly = arg('pgstow-compressions', 'lz4,zstd').split(',').filter(Boolean);
const jobs = arg('jobs', '');
const extraPgstow = arg('pgstow-args', '').split(' ').filter(Boolean);
const other = arg('other', '');
const reps = Number(arg('reps', '1'));
type Tool = 'pgstow' | 'barman' | 'other';
const pgstowBin = (tool: Tool): string => (tool === 'other' ? path.join(path.resolve(other), 'dist', 'src', 'cli', 'bin', 'pgstow.js') : binPath('pgstow'));
const dir = makeTempDir('bench-restore');
fs.chmodSync(dir, 0o755); // archive_command runs as postgres and writes below it
const s3 = await startPrivateS3rver(path.join(dir, 's3'));
const url = 's3://pgstow-test/restore-bench';
const storeArgs = ['--cloud-provider', 'aws-s3', '--endpoint-url', s3.info.endpoint];
const env = { ...process.env, AWS_ACCESS_KEY_ID: s3.info.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.info.secretAccessKey, AWS_DEFAULT_REGION: s3.info.region };
const walDir = path.join(dir, 'wal');
fs.mkdirSync(walDir);
chownToPostgres(walDir);
const results: string[] = [];

function timed(cmd: string[]): { secs: number; rss: number; status: number | null; stderr: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-v', ...cmd], { env, encoding: 'utf8', maxBuffer: 64 << 20 });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1] ?? 0) / 1024;
  return { secs, rss, status: r.status, stderr: r.stderr };
}

const pg = await startPostgres({ version: 15, settings: { archive_mode: 'on', archive_command: `cp %p ${walDir}/%f`, max_wal_size: '1GB' } });
try {
  execFileSync(path.join(postgresBinDir(15), 'pgbench'), ['-i', '-q', '-s', String(scale), '-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', 'postgres'], { stdio: 'ignore' });
  await pg.query('CHECKPOINT');
  const size = Number((await pg.query<{ s: string }>('SELECT sum(pg_database_size(oid))::bigint AS s FROM pg_database'))[0]?.s);
  const conn = ['-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres'];
  const backups: Array<{ label: string; server: string; tools: Tool[] }> = [];
  const pgstowTools = (): Tool[] => Array.from({ length: reps }, () => (other ? ['pgstow', 'other'] as Tool[] : ['pgstow'] as Tool[])).flat();
  for (const c of ['none', 'gzip']) {
    const server = `barman-${c}`;
    const r = timed(['barman-cloud-backup', ...conn, '--endpoint-url', s3.info.endpoint, ...(c === 'gzip' ? ['-z'] : []), '--immediate-checkpoint', url, server]);
    if (r.status !== 0) throw new Error(`barman-cloud-backup ${c} failed:\n${r.stderr.slice(-2000)}`);
    backups.push({ label: `barman ${c}`, server, tools: ['barman', ...pgstowTools()] });
  }
  for (const c of pgstowOnly) {
    const server = `pgstow-${c}`;
    const r = timed([process.execPath, binPath('pgstow'), 'backup', ...storeArgs, ...conn, `--${c}`, '--immediate-checkpoint', '--progress', 'off', url, server]);
    if (r.status !== 0) throw new Error(`pgstow backup ${c} failed:\n${r.stderr.slice(-2000)}`);
    backups.push({ label: `pgstow ${c}`, server, tools: pgstowTools() });
  }
  for (const b of backups) {
    for (const tool of b.tools) {
      const target = path.join(dir, `restore-${b.server}-${tool}`);
      // barman-cloud-restore 3.4 knows no "latest": give it the id from its own listing.
      const id = tool === 'barman' ? (JSON.parse(execFileSync('barman-cloud-backup-list', ['--endpoint-url', s3.info.endpoint, '--format', 'json', url, b.server], { env, encoding: 'utf8' })) as { backups_list: Array<{ backup_id: string }> }).backups_list[0]?.backup_id as string : 'latest';
      const cmd = tool === 'barman'
        ? ['barman-cloud-restore', '--endpoint-url', s3.info.endpoint, url, b.server, id, target]
        : [process.execPath, pgstowBin(tool), 'restore', ...storeArgs, ...(jobs ? ['-J', jobs] : []), ...extraPgstow, url, b.server, 'latest', target];
      const r = timed(cmd);
      const line = `${tool.padEnd(6)} restores ${b.label.padEnd(12)} db ${(size / 1e6).toFixed(0)} MB  exit ${r.status}  ${r.secs.toFixed(1)} s  ${(size / 1e6 / r.secs).toFixed(1)} MB/s  peak RSS ${r.rss.toFixed(0)} MiB`;
      console.log(line);
      if (r.status !== 0) console.log(r.stderr.slice(-2000));
      results.push(line);
      removeDir(target);
    }
  }
} finally {
  await pg.destroy();
  await s3.stop();
  removeDir(dir);
}
fs.writeSync(1, `\n${results.join('\n')}\n`);
