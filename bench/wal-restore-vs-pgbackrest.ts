/**
 * One restore_command call per segment, pgstow beside pgBackRest's `archive-get`, in the same loop on the same
 * store server: one HTTPS s3rver (pgBackRest speaks only TLS), real 16 MiB WAL segments from a PostgreSQL 15,
 * uncompressed. Each repetition runs, per segment, every row in random order; reported are the median wall ms
 * and CPU ms (user + sys, GNU time) per call, and pgstow ÷ pgBackRest of each. `--other <tree>[,<tree>]` adds
 * rows for other built pgstow trees (e.g. a copy of main's dist) in the same loop, for before/after figures.
 *   npm run build && node dist/bench/wal-restore-vs-pgbackrest.js [--segments 4] [--reps 5] [--other /tmp/base]
 * Needs pgbackrest, /usr/bin/time and root (pgBackRest runs as postgres).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { timed, stats, fmt, type RunResult } from './lib/measure.js';
import { setupPgbackrest } from './lib/tools.js';
import { generateTls } from '../test/harness/ca.js';
import { startPostgres } from '../test/harness/postgres.js';
import { startPrivateS3rver } from '../test/harness/servers/s3rver.js';
import { TEST_BUCKET } from '../test/harness/stores.js';
import { chownToPostgres, makeTempDir, removeDir } from '../test/harness/tmp.js';
import { REPO_ROOT } from '../test/harness/postgres.js';

const { values } = parseArgs({ options: {
  segments: { type: 'string', default: '4' }, reps: { type: 'string', default: '5' }, other: { type: 'string', default: '' },
  'max-parallel': { type: 'string', default: '4' },
} });
const segmentCount = Number(values.segments);
const reps = Number(values.reps);
const trees = [
  { label: 'pgstow', root: REPO_ROOT },
  ...(values.other as string).split(',').filter((o) => o !== '').map((o) => ({ label: `pgstow (${path.basename(o)})`, root: path.resolve(o) })),
];

interface Row { label: string; run: (seg: string, dest: string, rep: number) => Promise<RunResult>; samples: RunResult[] }

const shuffle = <T>(xs: T[]): T[] => {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [a[i], a[j]] = [a[j] as T, a[i] as T]; }
  return a;
};

async function realSegments(stash: string, pg: Awaited<ReturnType<typeof startPostgres>>): Promise<string[]> {
  const count = (): string[] => fs.readdirSync(stash).filter((f) => /^[0-9A-F]{24}$/.test(f)).sort();
  await pg.query('create table wal_filler (i int, note text, b bytea)');
  for (let round = 0; count().length < segmentCount + 2 && round < 100; round++) {
    await pg.query(`insert into wal_filler select i, md5(i::text) || repeat(' filler', i % 20), decode(md5(random()::text), 'hex') from generate_series(1, 100000) i`);
    await pg.query('select pg_switch_wal()');
    await new Promise((r) => setTimeout(r, 300));
  }
  await pg.waitFor('segments archived', async () => count().length >= segmentCount + 2);
  return count().slice(1, 1 + segmentCount);
}

async function main(): Promise<void> {
  const tmp = makeTempDir('bench-walrestore-pgbr');
  fs.chmodSync(tmp, 0o755);
  const tls = generateTls(path.join(tmp, 'tls'));
  const s3 = await startPrivateS3rver(path.join(tmp, 's3'), { tls });
  const stash = path.join(tmp, 'stash');
  fs.mkdirSync(stash);
  chownToPostgres(stash);
  const pg = await startPostgres({ version: 15, label: 'bench', settings: { archive_mode: 'on', archive_command: `test ! -f ${stash}/%f && cp %p ${stash}/%f` } });
  try {
    const segs = await realSegments(stash, pg);
    chownToPostgres(stash);
    const port = Number(new URL(s3.info.endpoint).port);
    const pgbr = setupPgbackrest(path.join(tmp, 'pgbr'), { port, bucket: TEST_BUCKET, accessKey: s3.info.accessKeyId, secretKey: s3.info.secretAccessKey, caFile: tls.caFile },
      '/pgbr', { port: pg.port, dataDir: pg.dataDir, socketDir: pg.socketDir }, 'bench');
    const pgbrArgs = [`--config=${pgbr.configFile}`, `--stanza=${pgbr.stanza}`];
    const env = { AWS_ACCESS_KEY_ID: s3.info.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.info.secretAccessKey, AWS_DEFAULT_REGION: s3.info.region, AWS_CA_BUNDLE: tls.caFile };
    const store = ['--cloud-provider', 'aws-s3', '--endpoint-url', s3.info.endpoint, `s3://${TEST_BUCKET}/walrestore`, 'srv'];
    const bin = (root: string): string => path.join(root, 'dist', 'src', 'cli', 'bin', 'pgstow.js');
    for (const s of segs) {
      await timed('pgbackrest', [...pgbrArgs, '--compress-type=none', 'archive-push', path.join(stash, s)], { asUser: 'postgres' });
      await timed(process.execPath, [bin(REPO_ROOT), 'wal-archive', ...store, path.join(stash, s)], { env });
    }
    const out = path.join(tmp, 'out');
    fs.mkdirSync(out);
    chownToPostgres(out);
    const rows: Row[] = [{ label: 'pgBackRest archive-get', samples: [], run: (seg, dest) => timed('pgbackrest', [...pgbrArgs, 'archive-get', seg, dest], { asUser: 'postgres' }) }];
    for (const t of trees) {
      rows.push({ label: `${t.label} wal-restore`, samples: [], run: (seg, dest) => timed(process.execPath, [bin(t.root), 'wal-restore', ...store, seg, dest], { env }) });
    }
    const mp = String(values['max-parallel']);
    // Sequential replay with prefetch: its own spool per repetition, so the calls after the first are served from it.
    const prefetch: Row = { label: `pgstow wal-restore --max-parallel ${mp}`, samples: [], run: (seg, dest, rep) => timed(process.execPath, [bin(REPO_ROOT), 'wal-restore', '--max-parallel', mp, '--spool-dir', path.join(tmp, `spool-${rep}`), ...store, seg, dest], { env }) };
    for (const r of rows) await r.run(segs[0] as string, path.join(out, 'warm'), 0).then(() => fs.rmSync(path.join(out, 'warm'))); // page cache, compile cache
    for (let rep = 0; rep < reps; rep++) {
      for (const seg of segs) {
        for (const r of shuffle(rows)) {
          const dest = path.join(out, seg);
          r.samples.push(await r.run(seg, dest, rep));
          if (!fs.readFileSync(dest).equals(fs.readFileSync(path.join(stash, seg)))) throw new Error(`${r.label}: restored ${seg} differs`);
          fs.rmSync(dest);
        }
      }
      for (const seg of segs) {
        const dest = path.join(out, seg);
        prefetch.samples.push(await prefetch.run(seg, dest, rep));
        if (!fs.readFileSync(dest).equals(fs.readFileSync(path.join(stash, seg)))) throw new Error(`prefetch: restored ${seg} differs`);
        fs.rmSync(dest);
      }
    }
    const base = rows[0] as Row;
    const med = (r: Row, f: (x: RunResult) => number): number => stats(r.samples.map(f)).median;
    const wall = (x: RunResult): number => x.wallSeconds * 1000;
    const cpu = (x: RunResult): number => x.cpuSeconds * 1000;
    const lines = ['| call | wall ms | CPU ms (user+sys) | peak RSS MiB | wall ÷ pgBackRest | CPU ÷ pgBackRest |', '|---|---|---|---|---|---|'];
    for (const r of [...rows, prefetch]) {
      lines.push(`| ${r.label} | ${fmt(stats(r.samples.map(wall)), 0)} | ${fmt(stats(r.samples.map(cpu)), 0)} | ${fmt(stats(r.samples.map((x) => x.maxRssKb / 1024)), 0)} | ${(med(r, wall) / med(base, wall)).toFixed(2)} | ${(med(r, cpu) / med(base, cpu)).toFixed(2)} |`);
    }
    process.stdout.write(`Node ${process.version}, ${segs.length} real segments × ${reps} repetitions, HTTPS s3rver, uncompressed; median (min–max)\n\n${lines.join('\n')}\n`);
  } finally {
    await pg.destroy();
    await s3.stop();
    removeDir(tmp);
  }
}

await main();
