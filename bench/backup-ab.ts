/**
 * Base backups of one database to one s3rver, builds and variants interleaved: every repetition runs each
 * (build, variant, codec) once, in a random order, and reports MB/s of database, wall and CPU seconds, peak RSS
 * (GNU time) and the load average before each run. The database (bench/lib/dataset.ts, the full bench's) and the
 * store are made once; each backup is removed from the store once measured. PostgreSQL is set up as the full
 * bench's (archive_mode on, archive_command a cp), so pg_backup_stop waits for its WAL as there.
 *   node dist/bench/backup-ab.js [--mb 1000] [--reps 3] [--codecs none,lz4,gzip] [--compare-dist DIR[,DIR]]
 *        [--dists 'label=DIR,label=DIR'] [--variants 'label=args;label=args'] [--trace DIR]
 * --dists: the builds to compare, by label (this worktree's dist/ is run only with --compare-dist or no --dists).
 * --variants: extra `pgstow backup` arguments per variant (e.g. 'default=;mem130=--max-memory 130Mi').
 * --trace DIR: each run loads bench/lib/upload-trace-probe.js and writes its trace into DIR; a summary is printed.
 * Writes bench/results/backup-ab-<timestamp>.json.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPostgres } from '../test/harness/postgres.js';
import { chownToPostgres, makeTempDir, removeDir } from '../test/harness/tmp.js';
import { startPrivateS3rver } from '../test/harness/servers/s3rver.js';
import { binPath } from '../test/harness/cli.js';
import { TEST_BUCKET } from '../test/harness/stores.js';
import { createDataset } from './lib/dataset.js';
import { codecFlag, type Codec } from './lib/tools.js';
import { fmt, shuffled, stats, timed } from './lib/measure.js';
import { samplePeak, type MemorySplit } from './lib/proc-memory.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const MiB = 1024 * 1024;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const mb = Number(arg('mb', '1000'));
const reps = Number(arg('reps', '3'));
const codecs = arg('codecs', 'none').split(',') as Codec[];
const traceDir = arg('trace', '');
const distBin = (d: string): string => path.join(path.resolve(d), 'src', 'cli', 'bin', 'pgstow.js');
// --dists 'label=DIR,label=DIR' names every build (this worktree's dist is then not run unless listed).
const named = arg('dists', '').split(',').filter(Boolean).map((d): [string, string] => [d.slice(0, d.indexOf('=')), distBin(d.slice(d.indexOf('=') + 1))]);
const builds: Array<[string, string]> = named.length ? named : [['this build', binPath('pgstow')],
  ...arg('compare-dist', '').split(',').filter(Boolean).map((d): [string, string] => [d, distBin(d)])];
const variants: Array<[string, string[]]> = arg('variants', 'default=').split(';').filter(Boolean).map((v) => {
  const eq = v.indexOf('=');
  return [eq < 0 ? v : v.slice(0, eq), (eq < 0 ? '' : v.slice(eq + 1)).split(' ').filter(Boolean)];
});

interface Run { build: string; variant: string; codec: Codec; rep: number; mbps: number; wallS: number; cpuS: number; rssMb: number; anonMb: number; load1: number; trace?: string }

const tmp = makeTempDir('backup-ab');
// A directory of its own for archive_command (PostgreSQL runs as postgres; tmp is root's, mode 0700).
const stash = makeTempDir('backup-ab-wal');
chownToPostgres(stash);
const s3 = await startPrivateS3rver(path.join(tmp, 's3'));
const pg = await startPostgres({ version: 15, label: 'backup-ab', settings: {
  archive_mode: 'on', archive_command: `test ! -f ${stash}/%f && cp %p ${stash}/%f`, max_wal_size: '4GB', checkpoint_timeout: '30min', shared_buffers: '256MB',
} });
const runs: Run[] = [];
try {
  console.log(`creating a ${mb} MiB dataset…`);
  const dataset = await createDataset(pg, mb * MiB);
  const dbMb = dataset.databaseBytes / 1e6;
  console.log(`database ${dbMb.toFixed(0)} MB`);
  const env = {
    AWS_ACCESS_KEY_ID: s3.info.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.info.secretAccessKey, AWS_DEFAULT_REGION: s3.info.region,
    PGHOST: '127.0.0.1', PGPORT: String(pg.port), PGUSER: 'postgres', PGDATABASE: 'postgres',
  };
  let n = 0;
  for (let rep = 0; rep < reps; rep++) {
    const combos = builds.flatMap(([build, bin]) => variants.flatMap(([variant, extra]) => codecs.map((codec) => ({ build, bin, variant, extra, codec }))));
    for (const c of shuffled(combos)) {
      const server = `ab-${n++}`;
      const load1 = os.loadavg()[0] as number;
      const trace = traceDir ? path.join(traceDir, `${server}-${c.variant}-${c.codec}-${c.build.replace(/[^A-Za-z0-9]+/g, '_')}`) : undefined;
      const runEnv = trace ? { ...env, NODE_OPTIONS: `--import ${path.join(HERE, 'lib', 'upload-trace-probe.js')}`, PGSTOW_TRACE_FILE: trace } : env;
      let sampler: { stop: () => MemorySplit | undefined } | undefined;
      const r = await timed(process.execPath, [c.bin, 'backup', ...(trace ? ['-vv'] : []), '--immediate-checkpoint', ...codecFlag('pgstow', c.codec), ...c.extra,
        '--cloud-provider', 'aws-s3', '--endpoint-url', s3.info.endpoint, `s3://${TEST_BUCKET}/ab`, server],
      { env: runEnv, onSpawn: (pid) => { sampler = samplePeak(pid, 20); } }).finally(() => sampler?.stop());
      const split = sampler?.stop();
      const run: Run = { build: c.build, variant: c.variant, codec: c.codec, rep, mbps: dbMb / r.wallSeconds, wallS: r.wallSeconds, cpuS: r.cpuSeconds,
        rssMb: r.maxRssKb / 1024, anonMb: split?.anonMb ?? NaN, load1, ...(trace ? { trace } : {}) };
      runs.push(run);
      console.log(`rep ${rep} ${c.build} ${c.variant} ${c.codec}: ${run.mbps.toFixed(1)} MB/s, ${run.wallS.toFixed(1)} s, CPU ${run.cpuS.toFixed(1)} s, peak RSS ${run.rssMb.toFixed(1)} MiB (anon ${run.anonMb.toFixed(0)}), load ${load1.toFixed(1)}`);
      if (trace) {
        fs.writeFileSync(`${trace}.log`, r.stderr);
        for (const f of fs.readdirSync(traceDir).filter((x) => x.startsWith(path.basename(trace)) && x.endsWith('.json'))) {
          spawnSync(process.execPath, [path.join(HERE, 'lib', 'upload-trace-probe.js'), '--report', path.join(traceDir, f)], { stdio: 'inherit' });
        }
      }
      // The store's copy of this backup goes (s3rver's directory, behind its back) and so does its WAL.
      fs.rmSync(path.join(tmp, 's3', TEST_BUCKET, 'ab', server), { recursive: true, force: true });
      for (const f of fs.readdirSync(stash)) fs.rmSync(path.join(stash, f), { force: true });
    }
  }
  console.log(`\n| build | variant | codec | MB/s | wall s | CPU s | peak RSS MiB | anon MiB |\n|---|---|---|---|---|---|---|---|`);
  const keys = [...new Set(runs.map((r) => `${r.build}|${r.variant}|${r.codec}`))];
  for (const k of keys) {
    const rs = runs.filter((r) => `${r.build}|${r.variant}|${r.codec}` === k);
    const [b, v, c] = k.split('|');
    console.log(`| ${b} | ${v} | ${c} | ${fmt(stats(rs.map((r) => r.mbps)))} | ${fmt(stats(rs.map((r) => r.wallS)))} | ${fmt(stats(rs.map((r) => r.cpuS)))} | ${fmt(stats(rs.map((r) => r.rssMb)))} | ${fmt(stats(rs.map((r) => r.anonMb)), 0)} |`);
  }
  const loads = runs.map((r) => r.load1);
  console.log(`load average (1 min) before the runs: ${fmt(stats(loads))}`);
  const out = path.join(ROOT, 'bench', 'results', `backup-ab-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ dbMb, builds, variants, codecs, runs }, null, 2));
  console.log(`results: ${path.relative(ROOT, out)}`);
} finally {
  await pg.destroy();
  await s3.stop();
  removeDir(tmp);
  removeDir(stash);
}
