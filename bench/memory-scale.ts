/**
 * Memory as a budget, measured: peak RSS of `pgstow backup` and `pgstow restore` at the default budget
 * (100 MiB) for growing databases (flat, not growing with the data) and each codec, split at its peak into
 * anonymous memory and file-backed pages (/proc/<pid>/status, sampled every 50 ms), and the RSS of ONE
 * process that archives 10 000 WAL segments through the archive service (no growth per call). PostgreSQL 15
 * with 1 MiB WAL segments makes the 10 000 real segments quickly; objects are deleted as the run goes, so the
 * store server's disk stays small.
 * `--only walproc`: peak RSS, wall and CPU of ONE `pgstow wal-archive` process per real 16 MiB segment, each codec,
 * --reps times; with --compare-dist DIR (another build's dist/, e.g. main's) the two builds alternate run by run.
 * `--only db` with --compare-dist (one or more dist/ directories, comma-separated): each backup (and restore) runs under each build, in a random order per codec and
 * repetition (--db-reps, default 1), on the same database; --backup-only leaves the restores out; --node-options
 * passes NODE_OPTIONS to the measured commands (e.g. a probe of your own with --import).
 *   npm run build && node dist/bench/memory-scale.js [--sizes 100,1000,5000] [--codecs none,gzip,lz4,zstd] [--wal-calls 10000] [--only db,wal,walproc] [--reps 5] [--db-reps 1] [--backup-only] [--compare-dist DIR]
 * Prints markdown tables, writes bench/results/memory-<timestamp>.json and bench/results/memory-latest.md.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPostgres, type PostgresServer } from '../test/harness/postgres.js';
import { chownToPostgres, makeTempDir, removeDir } from '../test/harness/tmp.js';
import { startPrivateS3rver } from '../test/harness/servers/s3rver.js';
import { createDataset } from './lib/dataset.js';
import { codecFlag, type Codec, type StoreEndpoint } from './lib/tools.js';
import { shuffled, timed, type RunResult } from './lib/measure.js';
import { readMemorySplit, samplePeak, type MemorySplit } from './lib/proc-memory.js';
import { removeObjects } from './lib/remove-objects.js';
import { binPath } from '../test/harness/cli.js';
import { composeStore } from '../src/app/compose.js';
import { BarmanLayout } from '../src/repository/barman-layout.js';
import { storeOptionsFromEnv, type EnvStoreDescription } from '../test/harness/store-options.js';
import { archiveWal } from '../src/services/archive-wal.js';
import { getCodec } from '../src/pipeline/codecs.js';
import { memoryBudget } from '../src/memory-budget.js';
import { pacedBudget } from '../src/gc-pacer.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MiB = 1024 * 1024;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const sizes = arg('sizes', '100,1000,5000').split(',').map(Number);
const codecs = arg('codecs', arg('codec', 'none,gzip,lz4,zstd')).split(',') as Codec[];
const codec: Codec = codecs.includes('gzip') ? 'gzip' : (codecs[0] as Codec); // the WAL phase's
const walCalls = Number(arg('wal-calls', '10000'));
const only = new Set(arg('only', 'db,wal').split(','));
const reps = Number(arg('reps', '5'));
const compareDist = arg('compare-dist', '');
const dbReps = Number(arg('db-reps', '1'));
const backupOnly = process.argv.includes('--backup-only');
const nodeOptions = arg('node-options', '');

interface Phase { rssMb: number; anonMb: number; fileMb: number; cpuS: number; wallS: number }
interface DbRow { dbMb: number; codec: Codec; build: string; rep: number; backup: Phase; restore: Phase | undefined }
interface WalProcRow { build: string; codec: Codec; runs: Phase[] }
interface WalPoint { calls: number; rssMb: number; anonMb: number; fileMb: number; heapMb: number; externalMb: number }

/** One pgstow command under GNU time, its memory split sampled at its peak. */
async function measured(args: string[], env: Record<string, string>, bin = binPath('pgstow')): Promise<Phase> {
  let sampler: { stop: () => MemorySplit | undefined } | undefined;
  let r: RunResult;
  try {
    r = await timed(process.execPath, [bin, ...args], { env: nodeOptions ? { ...env, NODE_OPTIONS: nodeOptions } : env, onSpawn: (pid) => { sampler = samplePeak(pid, 20); } });
  } finally {
    sampler?.stop();
  }
  const split = sampler?.stop();
  return { rssMb: r.maxRssKb / 1024, anonMb: split?.anonMb ?? NaN, fileMb: split?.fileMb ?? NaN, cpuS: r.cpuSeconds, wallS: r.wallSeconds };
}

async function dbSizes(store: StoreEndpoint, description: EnvStoreDescription): Promise<DbRow[]> {
  const out: DbRow[] = [];
  for (const mb of sizes) {
    const pg = await startPostgres({ version: 15, settings: { max_wal_size: '8GB', checkpoint_timeout: '30min', archive_mode: 'off', wal_level: 'replica' } });
    try {
      const ds = await createDataset(pg, mb * MiB);
      const pgEnv = { PGHOST: '127.0.0.1', PGPORT: String(pg.port), PGUSER: 'postgres', PGDATABASE: 'postgres' };
      for (let rep = 0; rep < dbReps; rep++) {
        for (const c of codecs) {
          for (const [build, bin] of shuffled(builds())) {
            const server = `mem-${mb}-${c}-${rep}-${builds().findIndex(([b]) => b === build)}`;
            const backup = await measured(['backup', '--immediate-checkpoint', ...codecFlag('pgstow', c), ...store.args, store.url, server], { ...store.env, ...pgEnv }, bin);
            let restore: Phase | undefined;
            if (!backupOnly) {
              const dest = path.join(makeTempDir('mem-restore'), 'data');
              restore = await measured(['restore', ...store.args, store.url, server, 'latest', dest], store.env, bin);
              removeDir(path.dirname(dest));
            }
            await removeObjects(description, `mem/${server}/`);
            const row: DbRow = { dbMb: ds.databaseBytes / 1e6, codec: c, build, rep, backup, restore };
            console.log(`database ${row.dbMb.toFixed(0)} MB, ${c}, ${build}: backup peak RSS ${backup.rssMb.toFixed(1)} MB (anon ${backup.anonMb.toFixed(0)}, ${backup.wallS.toFixed(1)} s, CPU ${backup.cpuS.toFixed(1)} s)`
              + (restore ? `, restore ${restore.rssMb.toFixed(1)} MB (${restore.wallS.toFixed(1)} s)` : ''));
            out.push(row);
          }
        }
      }
    } finally {
      await pg.destroy();
    }
  }
  return out;
}

/** Real 1 MiB WAL segments, archived one call at a time by this process, as a long-lived sidecar would. */
async function walInOneProcess(description: EnvStoreDescription): Promise<WalPoint[]> {
  const stash = makeTempDir('mem-wal-stash');
  chownToPostgres(stash);
  const pg: PostgresServer = await startPostgres({
    version: 15, initdbArgs: ['--wal-segsize=1'],
    settings: { archive_mode: 'on', archive_command: `cp %p ${stash}/%f.part && mv ${stash}/%f.part ${stash}/%f`, wal_level: 'replica', max_wal_size: '64MB' },
  });
  const opened = await composeStore(await storeOptionsFromEnv(description));
  const composed = { store: opened.store, layout: new BarmanLayout(opened.destination.prefix, 'mem-wal') };
  // As the plugin's sidecar runs: one paced budget for the life of the process.
  const { budget: memory, stop } = pacedBudget(memoryBudget());
  const points: WalPoint[] = [];
  const sample = (calls: number): void => {
    const m = process.memoryUsage();
    const split = readMemorySplit('self');
    points.push({ calls, rssMb: m.rss / MiB, anonMb: split?.anonMb ?? NaN, fileMb: split?.fileMb ?? NaN, heapMb: m.heapUsed / MiB, externalMb: m.external / MiB });
  };
  try {
    await pg.query('create table t (i int, s text)');
    let calls = 0;
    let uploaded: string[] = [];
    sample(0);
    while (calls < walCalls) {
      // Write a little and switch: each switch completes a segment that archive_command stashes.
      await pg.query("insert into t select g, md5(g::text) from generate_series(1, 200) g; select pg_switch_wal()");
      const ready = fs.readdirSync(stash).filter((f) => /^[0-9A-F]{24}$/.test(f)).sort();
      for (const f of ready) {
        const file = path.join(stash, f);
        const r = await archiveWal({ store: composed.store, layout: composed.layout }, { walPath: file, memory, ...(codec === 'none' ? {} : { codec: getCodec(codec) }) });
        uploaded.push(r.key);
        fs.rmSync(file);
        if (++calls % 500 === 0) {
          sample(calls);
          console.log(`${calls} WAL archive calls: RSS ${points.at(-1)?.rssMb.toFixed(0)} MB`);
          await composed.store.delete(uploaded);
          uploaded = [];
        }
        if (calls >= walCalls) break;
      }
    }
  } finally {
    stop();
    await composed.store.close();
    await pg.destroy();
    removeDir(stash);
  }
  return points;
}

/** A real 16 MiB segment, completed by a switch and copied before a checkpoint can recycle it. */
async function realSegment(dest: string): Promise<string> {
  const pg = await startPostgres({ version: 15, settings: { max_wal_size: '1GB', checkpoint_timeout: '30min', archive_mode: 'off' } });
  try {
    const first = (await pg.query<{ f: string }>('select pg_walfile_name(pg_current_wal_lsn()) f'))[0]?.f as string;
    await pg.query('create table t (g int, m text, r float8)');
    await pg.query("insert into t select g, md5(g::text) || md5((g * 7)::text), random() from generate_series(1, 400000) g");
    await pg.query('select pg_switch_wal()');
    // The segment after the first: full of table rows (the first holds the catalog's start-up records too).
    const name = first.slice(0, 16) + (parseInt(first.slice(16), 16) + 1).toString(16).toUpperCase().padStart(8, '0');
    const file = path.join(dest, name);
    fs.copyFileSync(path.join(pg.dataDir, 'pg_wal', name), file);
    return file;
  } finally {
    await pg.destroy();
  }
}

/** This build's pgstow and, with --compare-dist, the other build's. */
function builds(): Array<[string, string]> {
  const out: Array<[string, string]> = [['this build', binPath('pgstow')]];
  for (const dist of compareDist.split(',').filter(Boolean)) out.push([dist, path.join(path.resolve(dist), 'src', 'cli', 'bin', 'pgstow.js')]);
  return out;
}

/** One wal-archive process per run, each to a new server name; builds alternate (order flipped every rep). */
async function walProcesses(store: StoreEndpoint): Promise<WalProcRow[]> {
  const segDir = makeTempDir('mem-walproc');
  const seg = await realSegment(segDir);
  const buildList = builds();
  const rows = new Map<string, WalProcRow>();
  let n = 0;
  try {
    for (let rep = 0; rep < reps; rep++) {
      for (const c of codecs) {
        for (const [build, bin] of rep % 2 ? [...buildList].reverse() : buildList) {
          let sampler: { stop: () => MemorySplit | undefined } | undefined;
          const r = await timed(process.execPath, [bin, 'wal-archive', ...codecFlag('pgstow', c), ...store.args, store.url, `walproc-${n++}`, seg],
            { env: store.env, onSpawn: (pid) => { sampler = samplePeak(pid, 10); } });
          const split = sampler?.stop();
          const row = rows.get(`${build} ${c}`) ?? { build, codec: c, runs: [] };
          row.runs.push({ rssMb: r.maxRssKb / 1024, anonMb: split?.anonMb ?? NaN, fileMb: split?.fileMb ?? NaN, cpuS: r.cpuSeconds, wallS: r.wallSeconds });
          rows.set(`${build} ${c}`, row);
        }
      }
    }
  } finally {
    removeDir(segDir);
  }
  return [...rows.values()];
}

const dir = makeTempDir('mem-scale');
const s3 = await startPrivateS3rver(path.join(dir, 's3'));
const store: StoreEndpoint = {
  kind: 's3rver', url: 's3://pgstow-test/mem', args: ['--cloud-provider', 'aws-s3', '--endpoint-url', s3.info.endpoint],
  env: { AWS_ACCESS_KEY_ID: s3.info.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.info.secretAccessKey, AWS_DEFAULT_REGION: s3.info.region },
};
let db: DbRow[] = [];
let wal: WalPoint[] = [];
let walProc: WalProcRow[] = [];
const description = (prefix: string): EnvStoreDescription => ({
  provider: 'aws-s3', destinationUrl: `s3://pgstow-test/${prefix}`, endpointUrl: s3.info.endpoint, s3: {},
  env: { AWS_ACCESS_KEY_ID: s3.info.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.info.secretAccessKey, AWS_DEFAULT_REGION: s3.info.region },
});
try {
  if (only.has('db')) db = await dbSizes(store, description('mem'));
  if (only.has('wal')) wal = await walInOneProcess(description('mem-wal'));
  if (only.has('walproc')) walProc = await walProcesses(store);
} finally {
  await s3.stop();
  removeDir(dir);
}

const f0 = (n: number): string => (Number.isFinite(n) ? n.toFixed(0) : 'n/a');
const lines = [`## pgstow memory at the default budget (100 MiB) — ${new Date().toISOString().slice(0, 10)}`, ''];
const mm = (xs: number[], digits: number): string => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return 'n/a';
  const med = v.length % 2 ? v[(v.length - 1) / 2] as number : ((v[v.length / 2 - 1] as number) + (v[v.length / 2] as number)) / 2;
  return v.length === 1 ? med.toFixed(digits) : `${med.toFixed(digits)} (${(v[0] as number).toFixed(digits)}–${(v.at(-1) as number).toFixed(digits)})`;
};
if (db.length) {
  const groups = new Map<string, DbRow[]>();
  for (const r of db) {
    const k = `${r.dbMb.toFixed(0)}|${r.codec}|${r.build}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  lines.push('### Peak RSS per phase by database size and codec (one process per command, s3rver)', '',
    'RSS = GNU time\'s maximum (MiB); anon / file = anonymous and file-backed MiB in the sample of highest RSS (/proc/<pid>/status every 20 ms); '
      + `median (min–max) of ${dbReps} repetition(s)${compareDist ? ', builds in a random order per codec and repetition' : ''}; MB/s = database MB / backup wall s.`, '',
    '| database MB | codec | build | backup peak RSS | anon / file | backup MB/s | backup CPU s | restore peak RSS | anon / file | restore CPU s |', '|---|---|---|---|---|---|---|---|---|---|');
  for (const rows of groups.values()) {
    const r0 = rows[0] as DbRow;
    const b = rows.map((r) => r.backup);
    const rs = rows.flatMap((r) => (r.restore ? [r.restore] : []));
    lines.push(`| ${r0.dbMb.toFixed(0)} | ${r0.codec} | ${r0.build} | ${mm(b.map((x) => x.rssMb), 1)} | ${mm(b.map((x) => x.anonMb), 0)} / ${mm(b.map((x) => x.fileMb), 0)} | `
      + `${mm(b.map((x) => r0.dbMb / x.wallS), 1)} | ${mm(b.map((x) => x.cpuS), 1)} | ${mm(rs.map((x) => x.rssMb), 1)} | ${mm(rs.map((x) => x.anonMb), 0)} / ${mm(rs.map((x) => x.fileMb), 0)} | ${mm(rs.map((x) => x.cpuS), 1)} |`);
  }
  lines.push('');
}
if (wal.length) {
  lines.push(`### One process archiving ${walCalls} WAL segments (1 MiB, ${codec}), RSS every 500 calls`, '', '| calls | RSS MB | anon / file MB | heap used MB | external MB |', '|---|---|---|---|---|');
  for (const p of wal) lines.push(`| ${p.calls} | ${f0(p.rssMb)} | ${f0(p.anonMb)} / ${f0(p.fileMb)} | ${p.heapMb.toFixed(1)} | ${p.externalMb.toFixed(1)} |`);
  lines.push('');
}
if (walProc.length) {
  lines.push(`### One wal-archive process per 16 MiB segment (s3rver), ${reps} runs each, median (min–max)`, '',
    '| build | codec | peak RSS MB | anon MB | CPU s | wall s |', '|---|---|---|---|---|---|');
  for (const r of walProc) lines.push(`| ${r.build} | ${r.codec} | ${mm(r.runs.map((x) => x.rssMb), 1)} | ${mm(r.runs.map((x) => x.anonMb), 0)} | ${mm(r.runs.map((x) => x.cpuS), 2)} | ${mm(r.runs.map((x) => x.wallS), 2)} |`);
  lines.push('');
}
const report = lines.join('\n');
console.log(report);
const results = path.join(ROOT, 'bench', 'results');
fs.mkdirSync(results, { recursive: true });
fs.writeFileSync(path.join(results, `memory-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify({ codecs, walCodec: codec, compareDist, loadavg: os.loadavg(), db, wal, walProc }, null, 2));
fs.writeFileSync(path.join(results, 'memory-latest.md'), report);
