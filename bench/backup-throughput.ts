/**
 * Backup throughput and peak memory: pgbench databases of two sizes, one `pgstow backup` per compression,
 * measured as wall time (MB/s of database = pg_database_size sum / seconds) and peak RSS (/usr/bin/time -v).
 *   node dist/bench/backup-throughput.js [--scales 2,20] [--compressions none,gzip,lz4,zstd]
 *        [--url s3://bucket/prefix --store-args "--cloud-provider aws-s3 --endpoint-url http://…"]
 *        [--s3rver] [--barman]
 * Without --url the store is a fresh file:// directory per run; --s3rver starts a private s3rver (HTTP) and
 * uses it; --barman also runs barman-cloud-backup 3.4 (none and gzip) against the same store and server.
 * Environment passes through (credentials).
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

const scales = arg('scales', '2,20').split(',').map(Number);
const compressions = arg('compressions', 'none,gzip,lz4,zstd').split(',');
let url = arg('url', '');
let storeArgs = arg('store-args', '').split(' ').filter(Boolean);
const withBarman = process.argv.includes('--barman');
let stopS3: (() => Promise<void>) | undefined;
let storeEnv: Record<string, string> = {};
if (process.argv.includes('--s3rver')) {
  const dir = makeTempDir('bench-s3rver');
  const s3 = await startPrivateS3rver(dir);
  stopS3 = async () => { await s3.stop(); removeDir(dir); };
  url = 's3://pgstow-test/bench';
  storeArgs = ['--cloud-provider', 'aws-s3', '--endpoint-url', s3.info.endpoint];
  storeEnv = { AWS_ACCESS_KEY_ID: s3.info.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.info.secretAccessKey, AWS_DEFAULT_REGION: s3.info.region };
}
const FLAG: Record<string, string[]> = { none: [], gzip: ['-z'], bzip2: ['-j'], snappy: ['--snappy'], lz4: ['--lz4'], zstd: ['--zstd'] };

const walDir = makeTempDir('bench-wal');
chownToPostgres(walDir);
const results: string[] = [];
for (const scale of scales) {
  const pg = await startPostgres({ version: 15, settings: { archive_mode: 'on', archive_command: `cp %p ${walDir}/%f`, max_wal_size: '1GB' } });
  try {
    execFileSync(path.join(postgresBinDir(15), 'pgbench'), ['-i', '-q', '-s', String(scale), '-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', 'postgres'], { stdio: 'ignore' });
    await pg.query('CHECKPOINT');
    const size = Number((await pg.query<{ s: string }>('SELECT sum(pg_database_size(oid))::bigint AS s FROM pg_database'))[0]?.s);
    const runs: { tool: 'pgstow' | 'barman'; c: string }[] = compressions.map((c) => ({ tool: 'pgstow' as const, c }));
    if (withBarman) runs.push({ tool: 'barman', c: 'none' }, { tool: 'barman', c: 'gzip' });
    for (const { tool, c } of runs) {
      const store = url ? `${url}/s${scale}-${c}-${Date.now()}` : `file://${makeTempDir('bench-store')}`;
      const t0 = process.hrtime.bigint();
      const program = tool === 'pgstow' ? [process.execPath, binPath('pgstow'), 'backup'] : ['barman-cloud-backup', '-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres'];
      const r = spawnSync('/usr/bin/time', ['-v', ...program, ...(url ? storeArgs : ['--cloud-provider', 'file']), ...(FLAG[c] ?? []), '--immediate-checkpoint', store, 'bench'],
        { env: { ...process.env, ...storeEnv, ...pg.libpqEnv }, encoding: 'utf8' });
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1] ?? 0) / 1024;
      const stored = /done: .* ([\d.]+ [KMG]?i?B) stored/.exec(r.stderr)?.[1] ?? '?';
      const line = `${tool.padEnd(6)} scale ${scale} db ${(size / 1e6).toFixed(0)} MB  ${c.padEnd(5)} exit ${r.status}  ${secs.toFixed(1)} s  ${(size / 1e6 / secs).toFixed(1)} MB/s  stored ${stored}  peak RSS ${rss.toFixed(0)} MiB`;
      console.log(line);
      if (r.status !== 0) console.log(r.stderr.slice(-2000));
      results.push(line);
      if (!url) removeDir(store.slice('file://'.length));
    }
  } finally {
    await pg.destroy();
  }
}
removeDir(walDir);
await stopS3?.();
fs.writeSync(1, `\n${results.join('\n')}\n`);
