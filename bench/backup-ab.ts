/**
 * Base backups of one database to one store server (a private s3rver, Azurite or GCS emulator: --store), builds and
 * variants interleaved: every repetition runs each
 * (build, variant, codec) once, in a random order, and reports MB/s of database, wall and CPU seconds, peak RSS
 * (GNU time) and the load average before each run. The database (bench/lib/dataset.ts, the full bench's) and the
 * store are made once; each backup is removed from the store once measured. PostgreSQL is set up as the full
 * bench's (archive_mode on, archive_command a cp), so pg_backup_stop waits for its WAL as there.
 *   node dist/bench/backup-ab.js [--mb 1000] [--reps 3] [--codecs none,lz4,gzip] [--compare-dist DIR[,DIR]]
 *        [--dists 'label=DIR,label=DIR'] [--variants 'label=args;label=args'] [--trace DIR] [--store s3rver|azurite|gcs]
 * --store: where the backups go (default s3rver): Azurite with its account key (a connection string), the GCS
 *   emulator (STORAGE_EMULATOR_HOST), each what the lean stores take.
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
import { startAzuriteInstance } from '../test/harness/servers/azurite.js';
import { startGcsEmulator } from '../test/harness/servers/gcs.js';
import { binPath } from '../test/harness/cli.js';
import { TEST_BUCKET } from '../test/harness/stores.js';
import { createDataset } from './lib/dataset.js';
import { codecFlag, type Codec } from './lib/tools.js';
import { fmt, shuffled, stats, timed } from './lib/measure.js';
import { samplePeak, type MemorySplit } from './lib/proc-memory.js';
import { removeObjects } from './lib/remove-objects.js';

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
const storeKind = arg('store', 's3rver');
if (!['s3rver', 'azurite', 'gcs'].includes(storeKind)) throw new Error(`--store ${storeKind}: s3rver, azurite or gcs`);
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
const store = await startStore(storeKind, tmp);
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
    ...store.env,
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
        ...store.args, store.url, server],
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
      // The store's copy of this backup goes, and so does its WAL.
      await store.remove(server);
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
  console.log(`store: ${storeKind}`);
  const out = path.join(ROOT, 'bench', 'results', `backup-ab-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ dbMb, store: storeKind, builds, variants, codecs, runs }, null, 2));
  console.log(`results: ${path.relative(ROOT, out)}`);
} finally {
  await pg.destroy();
  await store.stop();
  removeDir(tmp);
  removeDir(stash);
}

interface BenchStore {
  url: string;
  args: string[];
  env: Record<string, string>;
  /** Deletes one server's backup from the store (the shared machine's disk has no room for every run's). */
  remove: (server: string) => Promise<void>;
  stop: () => Promise<void>;
}

/** A private store server of `kind` under `dir`, with what a `pgstow backup` command line needs to reach it. */
async function startStore(kind: string, dir: string): Promise<BenchStore> {
  if (kind === 's3rver') {
    const s3 = await startPrivateS3rver(path.join(dir, 's3'));
    return {
      url: `s3://${TEST_BUCKET}/ab`, args: ['--cloud-provider', 'aws-s3', '--endpoint-url', s3.info.endpoint],
      env: { AWS_ACCESS_KEY_ID: s3.info.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.info.secretAccessKey, AWS_DEFAULT_REGION: s3.info.region },
      // s3rver's directory, behind its back: quicker than its API.
      remove: async (server) => { fs.rmSync(path.join(dir, 's3', TEST_BUCKET, 'ab', server), { recursive: true, force: true }); },
      stop: () => s3.stop(),
    };
  }
  if (kind === 'azurite') {
    const az = await startAzuriteInstance(path.join(dir, 'azurite'));
    const env = { AZURE_STORAGE_CONNECTION_STRING: az.info.connectionString };
    const url = `${az.info.accountUrl}/${TEST_BUCKET}/ab`;
    return {
      url, args: ['--cloud-provider', 'azure-blob-storage'], env,
      remove: (server) => removeObjects({ provider: 'azure-blob-storage', destinationUrl: url, env }, `ab/${server}/`),
      stop: () => az.proc.stop(),
    };
  }
  const gcs = await startGcsEmulator({ tmpDir: dir });
  const env = { STORAGE_EMULATOR_HOST: gcs.endpoint, GOOGLE_CLOUD_PROJECT: 'pgstow-test' };
  return {
    url: `gs://${TEST_BUCKET}/ab`, args: ['--cloud-provider', 'google-cloud-storage'], env,
    remove: (server) => removeObjects({ provider: 'google-cloud-storage', destinationUrl: `gs://${TEST_BUCKET}/ab`, env }, `ab/${server}/`),
    stop: () => gcs.stop(),
  };
}

