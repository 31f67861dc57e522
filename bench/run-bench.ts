/**
 * `npm run bench [-- --quick] [--reps N] [--only wal,backup,restore,walrestore,load,limits]`
 * pgstow beside barman-cloud 3.4, Barman 3.19, WAL-G and pgBackRest on the same PostgreSQL, the same data and
 * the same store servers (GCS rows for the tools that have a GCS client), in one run: configurations interleaved within each repetition, medians and spread reported.
 * Prints markdown tables and writes bench/results/<timestamp>.json. Never part of `npm test`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startPostgres } from '../test/harness/postgres.js';
import { generateTls } from '../test/harness/ca.js';
import { chownToPostgres, makeTempDir, removeDir } from '../test/harness/tmp.js';
import type { S3ServerInfo, AzuriteInfo } from '../test/harness/test-env.js';
import { startS3rver } from '../test/harness/servers/s3rver.js';
import { startAzurite } from '../test/harness/servers/azurite.js';
import { startMoto } from '../test/harness/servers/moto.js';
import { startGcs } from '../test/harness/servers/gcs.js';
import type { GcsInfo } from '../test/harness/test-env.js';
import { PEER_CODECS, peerBacksUp, peerSupports, type CurrentPeer } from './lib/peers-current.js';
import { TEST_BUCKET } from '../test/harness/stores.js';
import { createDataset } from './lib/dataset.js';
import { dirSize, fmt, stats, type Stats } from './lib/measure.js';
import {
  archiveWal, BACKUP_CODECS, fetchWal, latestBackupId, peerVersions, restoreBackup, setupPgbackrest, takeBackup,
  type Codec, type PgbackrestConfig, type StoreEndpoint, type ToolName,
} from './lib/tools.js';
import { measureLimits, type LimitRow } from './lib/limits.js';
import { runArchiveUnderLoad, type LoadResult } from './lib/archive-load.js';
import { runPluginBench, type PluginBenchResult } from './plugin-archive.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MiB = 1024 * 1024;
const ALL_WORKLOADS = ['limits', 'wal', 'walrestore', 'backup', 'restore', 'load', 'plugin'];
/** 1-minute load average when the run started: other work on the machine skews wall times, so the report says it. */
let loadAtStart = 0;

interface Options {
  quick: boolean;
  reps: number;
  only: Set<string>;
  dbBytes: number;
  walSegments: number;
  loadSeconds: number;
  /** Backup/restore codecs; each tool runs those it has (BACKUP_CODECS). */
  codecs: Codec[];
}

function parseOptions(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
  };
  const only = new Set((get('--only') ?? ALL_WORKLOADS.join(',')).split(','));
  return {
    quick,
    // --quick: one repetition (WAL rows still have one sample per segment) and small sizes: under 5 minutes.
    reps: Number(get('--reps') ?? (quick ? 1 : 3)),
    only,
    dbBytes: Number(get('--db-mb') ?? (quick ? 80 : 1024)) * MiB,
    walSegments: Number(get('--wal-segments') ?? (quick ? 2 : 8)),
    loadSeconds: Number(get('--load-seconds') ?? (quick ? 5 : 60)),
    // bzip2 and snappy are left out by default: bzip2 alone would add ~20 minutes to a full run.
    codecs: (get('--codecs') ?? (quick ? 'none,gzip,zstd' : 'none,gzip,lz4,zstd')).split(',') as Codec[],
  };
}

interface Row {
  workload: string;
  store: string;
  tool: ToolName;
  config: string;
  metric: string;
  values: number[];
  extra?: Record<string, number[]>;
}

function ensurePeers(): void {
  const missing: string[] = [];
  const has = (c: string): boolean => { try { execFileSync('which', [c], { stdio: 'ignore' }); return true; } catch { return false; } };
  if (!has('barman-cloud-wal-archive')) missing.push('barman-cli-cloud', 'python3-boto3', 'python3-azure');
  if (!has('pgbackrest')) missing.push('pgbackrest');
  if (!fs.existsSync('/usr/bin/time')) missing.push('time');
  if (!fs.existsSync('/usr/bin/pgbench')) missing.push('postgresql-contrib');
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`missing peers: apt-get install ${missing.join(' ')}`);
  console.log(`installing peers: ${missing.join(' ')}`);
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-upgrade', ...missing], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

function shuffle<T>(a: T[]): T[] {
  const b = [...a];
  for (let i = b.length - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [b[i], b[j]] = [b[j] as T, b[i] as T]; }
  return b;
}

async function main(): Promise<void> {
  const opt = parseOptions(process.argv.slice(2));
  const started = Date.now();
  loadAtStart = os.loadavg()[0] ?? 0;
  ensurePeers();
  const tmp = makeTempDir('bench');
  fs.chmodSync(tmp, 0o755);
  const tls = generateTls(path.join(tmp, 'tls'));
  const s3 = await startS3rver({ tmpDir: path.join(tmp, 's3'), tls });
  const az = await startAzurite({ tmpDir: path.join(tmp, 'az'), tls });
  const s3Info = s3.servers.s3rver as S3ServerInfo;
  const s3Tls = s3.servers.s3rverTls as S3ServerInfo;
  const azInfo = az.servers.azurite as AzuriteInfo;
  fs.mkdirSync(path.join(tmp, 'gcs'));
  const gcs = await startGcs({ tmpDir: path.join(tmp, 'gcs'), tls });
  const gcsInfo = gcs.servers.gcs as GcsInfo;
  // moto (strict SigV4 + IAM, real multipart ETags) is the second S3 server; where it is absent the WAL rows
  // for it are left out and the report says so.
  const moto = opt.quick ? undefined : await startMoto({ tmpDir: path.join(tmp, 'moto'), tls }).catch((err: Error) => {
    console.log(`*** moto_server is not available, its rows are left out: ${err.message.split('\n')[0]}`);
    return undefined;
  });
  const motoInfo = moto?.servers.moto as S3ServerInfo | undefined;
  const stash = path.join(tmp, 'walstash');
  fs.mkdirSync(stash, { recursive: true });
  chownToPostgres(stash);
  const pg = await startPostgres({ version: 15, label: 'bench', settings: {
    archive_mode: 'on', archive_command: `test ! -f ${stash}/%f && cp %p ${stash}/%f`, max_wal_size: '4GB', checkpoint_timeout: '30min', shared_buffers: '256MB',
  } });
  const rows: Row[] = [];
  // lz4 sits between none and zstd on every measure; --quick leaves it out to stay under 5 minutes.
  const pgstowCodecs: Codec[] = opt.quick ? ['none', 'gzip', 'zstd'] : ['none', 'gzip', 'lz4', 'zstd'];
  let limits: LimitRow[] = [];
  let load: LoadResult[] = [];
  let plugin: PluginBenchResult | undefined;
  const failures: string[] = [];
  const partialResults = (): Results => {
    const failed = failures.length ? `\n### Phases that failed\n\n${failures.map((f) => `- ${f}`).join('\n')}\n` : '';
    const report = renderReport(opt, rows, limits, load, (Date.now() - started) / 1000) + (plugin ? `\n${plugin.markdown}` : '') + failed;
    const json = { date: new Date().toISOString(), machine: machineInfo(), versions: peerVersions(), options: { ...opt, only: [...opt.only] }, failures, rows: rows.map((r) => ({ ...r, stats: stats(r.values) })), limits, load, plugin: plugin && { rows: plugin.rows.map((r) => ({ ...r, stats: stats(r.values) })), requests: plugin.requests, load: plugin.load, loadRows: plugin.loadRows } };
    return { prefix: 'partial-', report, json };
  };
  const s3Store = (kind: 's3rver' | 'moto', info: S3ServerInfo) => (prefix: string): StoreEndpoint => ({
    kind, url: `s3://${TEST_BUCKET}/${prefix}`, args: ['--cloud-provider', 'aws-s3', '--endpoint-url', info.endpoint],
    env: { AWS_ACCESS_KEY_ID: info.accessKeyId, AWS_SECRET_ACCESS_KEY: info.secretAccessKey, AWS_DEFAULT_REGION: info.region },
  });
  const stores: Record<'s3rver' | 'azurite', (prefix: string) => StoreEndpoint> & { moto?: (prefix: string) => StoreEndpoint } = {
    s3rver: s3Store('s3rver', s3Info),
    ...(motoInfo ? { moto: s3Store('moto', motoInfo) } : {}),
    azurite: (prefix) => ({ kind: 'azurite', url: `${azInfo.accountUrl}/${TEST_BUCKET}/${prefix}`, args: ['--cloud-provider', 'azure-blob-storage'],
      env: { AZURE_STORAGE_CONNECTION_STRING: azInfo.connectionString } }),
  };
  const gcsStore = (prefix: string): StoreEndpoint => ({ kind: 'gcs', url: `gs://${TEST_BUCKET}/${prefix}`, args: ['--cloud-provider', 'google-cloud-storage'],
    env: { STORAGE_EMULATOR_HOST: gcsInfo.endpoint, GOOGLE_CLOUD_PROJECT: gcsInfo.projectId } });
  const CURRENT_PEERS: CurrentPeer[] = ['barman-cloud 3.19', 'wal-g'];
  const pgbrRepo = { port: Number(new URL(s3Tls.endpoint).port), bucket: TEST_BUCKET, accessKey: s3Tls.accessKeyId, secretKey: s3Tls.secretAccessKey, caFile: tls.caFile };
  const pgTarget = { port: pg.port, dataDir: pg.dataDir, socketDir: pg.socketDir };
  let pgbrSeq = 0;
  /** Removes a prefix of the bucket from s3rver's directories (both listeners), behind the server's back. */
  const dropStored = (prefix: string): void => {
    for (const listener of ['http', 'https']) fs.rmSync(path.join(tmp, 's3', listener, TEST_BUCKET, prefix), { recursive: true, force: true });
  };
  /** The load phase's archives: its own prefix and pgBackRest's repositories (each load run makes a new one). */
  const dropLoadArchives = (): void => {
    dropStored('bench-load');
    for (let n = 1; n <= pgbrSeq; n++) dropStored(`pgbr-${n}`);
  };
  const pgbr = (): PgbackrestConfig => setupPgbackrest(path.join(tmp, `pgbr-${++pgbrSeq}`), pgbrRepo, `/pgbr-${pgbrSeq}`, pgTarget, 'bench');

  try {
    console.log(`creating a ${(opt.dbBytes / MiB).toFixed(0)} MiB dataset…`);
    const dataset = await createDataset(pg, opt.dbBytes);
    console.log(`database: ${(dataset.databaseBytes / MiB).toFixed(0)} MiB`);

    const phase = (what: string): void => console.log(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${what}…`);
    // Each phase's rows are written as soon as it ends, and a phase that fails is reported, not fatal: a full run
    // takes an hour, and one crash must not lose the finished phases (2026-12-06 lost 37 minutes that way).
    const runPhase = async (name: string, body: () => Promise<void>): Promise<void> => {
      phase(name);
      try { await body(); } catch (err) {
        failures.push(`${name}: ${(err as Error).message.split('\n')[0]}`);
        console.log(`*** phase failed: ${failures.at(-1)}`);
      }
      writeResults(partialResults());
    };
    if (opt.only.has('limits')) await runPhase('physical limits', async () => { limits = await measureLimits({ dataDir: pg.dataDir, s3: s3Info, tmp, quick: opt.quick, codecs: opt.codecs }); });

    // Real WAL segments from the data load, staged where every tool (and the postgres user) can read them.
    // Enough full segments of real WAL: keep writing table-like rows (text and random bytes) until the stash has them.
    const stashed = (): number => fs.readdirSync(stash).filter((f) => /^[0-9A-F]{24}$/.test(f)).length;
    await pg.query('create table wal_filler (i int, note text, b bytea)', [], 'bench');
    for (let round = 0; stashed() < opt.walSegments + 2 && round < 200; round++) {
      await pg.query(`insert into wal_filler select i, md5(i::text) || ' filler row ' || repeat('abc ', i % 20), decode(md5(random()::text) || md5(random()::text), 'hex')
        from generate_series(1, 100000) i`, [], 'bench');
      await pg.query('select pg_switch_wal()');
      await new Promise((r) => setTimeout(r, 300));
    }
    await pg.waitFor('segments archived to the stash', async () => stashed() >= opt.walSegments + 2);
    const segs = fs.readdirSync(stash).filter((f) => /^[0-9A-F]{24}$/.test(f)).sort().slice(1, 1 + opt.walSegments);
    const staged = path.join(tmp, 'staged-wal');
    fs.mkdirSync(staged);
    for (const s of segs) fs.copyFileSync(path.join(stash, s), path.join(staged, s));
    chownToPostgres(staged);

    if (opt.only.has('wal') || opt.only.has('walrestore')) await runPhase(`WAL archive/restore, ${segs.length} segments × ${opt.reps} repetitions`, async () => {
      const configs: Array<{ tool: ToolName; codec: Codec; store: 's3rver' | 'moto' | 'azurite' | 'gcs' | 'pgbr' }> = [];
      // moto is the slower, stricter S3 server: the full run measures on it too, --quick does not.
      for (const store of motoInfo && !opt.quick ? (['s3rver', 'moto', 'azurite'] as const) : (['s3rver', 'azurite'] as const)) {
        for (const codec of pgstowCodecs) configs.push({ tool: 'pgstow', codec, store });
        for (const codec of ['none', 'gzip'] as Codec[]) configs.push({ tool: 'barman-cloud', codec, store });
        for (const tool of CURRENT_PEERS) if (peerSupports(tool, store)) for (const codec of PEER_CODECS[tool]) configs.push({ tool, codec, store });
      }
      // GCS: pgstow and Barman 3.19 (barman-cloud 3.4 has no GCS client in Debian; pgBackRest needs HTTPS; WAL-G's
      // GCS client cannot be pointed at a loopback emulator, see peers-current.ts).
      for (const codec of pgstowCodecs) configs.push({ tool: 'pgstow', codec, store: 'gcs' });
      for (const tool of CURRENT_PEERS) if (peerSupports(tool, 'gcs')) for (const codec of PEER_CODECS[tool]) configs.push({ tool, codec, store: 'gcs' });
      for (const codec of ['none', 'gzip'] as Codec[]) configs.push({ tool: 'pgbackrest', codec, store: 'pgbr' });
      const walRows = new Map<string, Row>();
      const restoreRows = new Map<string, Row>();
      for (let rep = 0; rep < opt.reps; rep++) {
        for (const c of shuffle(configs)) {
          const server = `wal-${c.tool}-${c.codec}-${rep}`;
          const target = c.store === 'pgbr' ? pgbr() : c.store === 'gcs' ? gcsStore(`bench-${rep}`) : (stores[c.store] ?? stores.s3rver)(`bench-${rep}`);
          const key = `${c.store}|${c.tool}|${c.codec}`;
          const row = walRows.get(key) ?? { workload: 'WAL archive, one process per 16 MiB segment', store: c.store === 'pgbr' ? 's3rver (https)' : c.store, tool: c.tool, config: c.codec, metric: 'ms/segment', values: [], extra: { 'peak RSS MB': [] } };
          walRows.set(key, row);
          for (const s of segs) {
            const r = await archiveWal(c.tool, c.codec, target, server, path.join(staged, s));
            row.values.push(r.wallSeconds * 1000);
            row.extra?.['peak RSS MB']?.push(r.maxRssKb / 1024);
          }
          if (opt.only.has('walrestore')) {
            const out = makeTempDir('bench-fetch');
            chownToPostgres(out);
            const modes: Array<{ label: string; extra: string[] }> = c.tool === 'pgstow' ? [{ label: '', extra: [] }, { label: ' --max-parallel 4', extra: ['--max-parallel', '4'] }] : [{ label: '', extra: [] }];
            for (const m of modes) {
              const rkey = `${key}|${m.label}`;
              const rrow = restoreRows.get(rkey) ?? { workload: 'WAL restore, one process per segment (restore_command)', store: row.store, tool: c.tool, config: `${c.codec}${m.label}`, metric: 'ms/segment', values: [], extra: { 'peak RSS MB': [] } };
              restoreRows.set(rkey, rrow);
              const t0 = Date.now();
              for (const s of segs) rrow.extra?.['peak RSS MB']?.push((await fetchWal(c.tool, target, server, s, path.join(out, `${s}${m.label ? '.p' : ''}`), m.extra)).maxRssKb / 1024);
              rrow.values.push((Date.now() - t0) / segs.length);
            }
            removeDir(out);
          }
        }
      }
      if (opt.only.has('wal')) rows.push(...walRows.values());
      if (opt.only.has('walrestore')) rows.push(...restoreRows.values());
    });

    if (opt.only.has('backup') || opt.only.has('restore')) await runPhase(`base backup/restore, ${opt.reps} repetitions`, async () => {
      // Every tool with every codec it has; plus pgstow's gzip on one core (-J 1), the single-stream reference
      // for parallel compression.
      const configs: Array<{ tool: ToolName; codec: Codec; label: string; extra: string[] }> = [];
      for (const tool of ['pgstow', 'barman-cloud', 'pgbackrest'] as ToolName[]) {
        for (const codec of opt.codecs) if (BACKUP_CODECS[tool].includes(codec)) configs.push({ tool, codec, label: codec, extra: [] });
      }
      if (opt.codecs.includes('gzip')) configs.push({ tool: 'pgstow', codec: 'gzip', label: 'gzip -J 1', extra: ['-J', '1'] });
      for (const tool of CURRENT_PEERS.filter(peerBacksUp)) {
        for (const codec of BACKUP_CODECS[tool]) if (opt.codecs.includes(codec)) configs.push({ tool: tool as ToolName, codec, label: codec, extra: [] });
      }
      const dbMb = dataset.databaseBytes / 1e6;
      const bRows = new Map<string, Row>();
      const rRows = new Map<string, Row>();
      for (let rep = 0; rep < opt.reps; rep++) {
        for (const c of shuffle(configs)) {
          const key = `${c.tool}|${c.label}`;
          const server = `bk-${c.tool}-${c.label.replace(/\W+/g, '')}-${rep}`;
          const target = c.tool === 'pgbackrest' ? pgbr() : stores.s3rver(`bench-${rep}`);
          const stored = c.tool === 'pgbackrest' ? `pgbr-${pgbrSeq}` : `bench-${rep}/${server}`;
          const res = await takeBackup(c.tool, c.codec, target, server, pgTarget, c.extra);
          const row = bRows.get(key) ?? { workload: 'base backup', store: 's3rver', tool: c.tool, config: c.label, metric: 'MB/s of database', values: [], extra: { 'CPU s': [], 'peak RSS MB': [], 'wall s': [] } };
          bRows.set(key, row);
          row.values.push(dbMb / res.wallSeconds);
          row.extra?.['CPU s']?.push(res.cpuSeconds);
          row.extra?.['peak RSS MB']?.push(res.maxRssKb / 1024);
          row.extra?.['wall s']?.push(res.wallSeconds);
          if (opt.only.has('restore') && c.extra.length === 0) {
            const dest = path.join(makeTempDir('bench-restore'), 'data');
            if (c.tool === 'pgbackrest') { fs.mkdirSync(dest); chownToPostgres(path.dirname(dest)); }
            // Barman 3.4's list for its own backups; the other tools find their newest backup themselves.
            const id = c.tool === 'barman-cloud' ? latestBackupId(target as StoreEndpoint, server) : c.tool === 'pgstow' ? 'latest' : '';
            const rr = await restoreBackup(c.tool, target, server, id, dest);
            const rrow = rRows.get(key) ?? { workload: 'restore', store: 's3rver', tool: c.tool, config: c.label, metric: 'MB/s of database', values: [], extra: { 'CPU s': [], 'peak RSS MB': [], 'restored MB': [] } };
            rRows.set(key, rrow);
            rrow.values.push(dbMb / rr.wallSeconds);
            rrow.extra?.['CPU s']?.push(rr.cpuSeconds);
            rrow.extra?.['peak RSS MB']?.push(rr.maxRssKb / 1024);
            rrow.extra?.['restored MB']?.push(dirSize(dest) / 1e6);
            removeDir(path.dirname(dest));
          }
          // A full run keeps ~30 backups of the 1 GiB database: dropped once measured, the later phases keep the
          // disk they need (the 2026-12-07 run filled 55 GB and its load phase failed for it).
          dropStored(stored);
        }
      }
      if (opt.only.has('backup')) rows.push(...bRows.values());
      if (opt.only.has('restore')) rows.push(...rRows.values());
    });

    if (opt.only.has('load')) await runPhase(`WAL archiving under a ${opt.loadSeconds} s pgbench load`, async () => { load = await runArchiveUnderLoad({ pg, seconds: opt.loadSeconds, stores, pgbr, tmp, dropArchived: dropLoadArchives }); });
    if (opt.only.has('plugin')) await runPhase('the CNPG-I plugin: Archive per segment beside the peers, then under load', async () => { plugin = await runPluginBench({ pg, s3: s3Info, azurite: azInfo, ...(motoInfo ? { moto: motoInfo } : {}), endpoints: { azurite: stores.azurite, ...(stores.moto ? { moto: stores.moto } : {}) }, tmp, segs: segs.map((s) => path.join(staged, s)), reps: opt.reps, loadSeconds: opt.loadSeconds, s3rver: stores.s3rver, pgbr }); });
  } finally {
    await pg.destroy();
    await s3.stop();
    await az.stop();
    await gcs.stop();
    await moto?.stop();
    if (!process.env.PGSTOW_KEEP_TMP) removeDir(tmp);
  }

  const final = partialResults();
  console.log(final.report);
  writeResults({ ...final, prefix: opt.quick ? 'quick-' : '' });
  // A full run of every workload without a failed phase is what the README shows; quick or partial runs never replace it.
  if (!opt.quick && failures.length === 0 && ALL_WORKLOADS.every((w) => opt.only.has(w))) updateReadme(final.report);
  if (failures.length > 0) process.exitCode = 1;
}

interface Results { prefix: string; report: string; json: unknown }

/** Writes bench/results/<prefix><timestamp>.json and <prefix>latest.md. */
function writeResults(r: Results): void {
  const resultsDir = path.join(ROOT, 'bench', 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  const stamp = r.prefix === 'partial-' ? 'latest' : new Date().toISOString().replace(/[:.]/g, '-');
  fs.writeFileSync(path.join(resultsDir, `${r.prefix}${stamp}.json`), JSON.stringify(r.json, null, 2));
  fs.writeFileSync(path.join(resultsDir, `${r.prefix}latest.md`), r.report);
}

/** Puts the report between the README's bench markers (headings shifted one level down). */
function updateReadme(report: string): void {
  const readme = path.join(ROOT, 'README.md');
  const text = fs.readFileSync(readme, 'utf8');
  const start = '<!-- bench:start -->';
  const end = '<!-- bench:end -->';
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) { console.log('README.md has no bench markers; not updated'); return; }
  const body = report.replace(/^(#{2,5}) /gm, '#$1 ').trim();
  fs.writeFileSync(readme, `${text.slice(0, i + start.length)}\n${body}\n${text.slice(j)}`);
  console.log('README.md performance table updated');
}

/** The peers "best peer" is chosen from: every peer with rows (Barman 3.19 beat 3.4 on several rows on 2026-12-06). */
const PEERS: ToolName[] = ['barman-cloud', 'barman-cloud 3.19', 'wal-g', 'pgbackrest'];

/** pgstow's rows beside the limits measured in the same run: how close to what the machine and store allow. */
function renderAgainstLimits(out: string[], rows: Row[], limits: LimitRow[]): void {
  const limit = (prefix: string): number | undefined => limits.find((l) => l.what.startsWith(prefix))?.mbPerSecond.median;
  const row = (workload: string, config: string): number | undefined => {
    const r = rows.find((x) => x.workload === workload && x.tool === 'pgstow' && x.config === config && x.store === 's3rver');
    return r ? stats(r.values).median : undefined;
  };
  const lines: string[] = [];
  const add = (what: string, got: number | undefined, lim: number | undefined, limWhat: string): void => {
    if (got === undefined || lim === undefined) return;
    lines.push(`| ${what} | ${got.toFixed(1)} | ${limWhat}: ${lim.toFixed(0)} | ${(got / lim).toFixed(2)} |`);
  };
  const cores = os.cpus().length;
  add('backup none (MB/s of database)', row('base backup', 'none'), limit('s3rver upload'), 'store upload, plain SDK');
  add('backup gzip -J 1', row('base backup', 'gzip -J 1'), limit('codec alone: gzip level 6 (zlib), one core'), 'gzip-6, one core');
  add(`backup gzip (-J 2 default)`, row('base backup', 'gzip'), limit(`codec alone: gzip (pgstow backup compressor) on ${cores} cores`), `gzip-6 on ${cores} cores`);
  add('backup zstd', row('base backup', 'zstd'), limit(`codec alone: zstd (pgstow backup compressor) on ${cores} cores`), `zstd on ${cores} cores`);
  add('restore none (MB/s of database)', row('restore', 'none'), limit('s3rver download limit'), 'store download limit (best of curl and node:http, one stream, ranges, to a file)');
  if (lines.length === 0) return;
  out.push('### pgstow against the physical limits (same run)', '');
  out.push('| what | pgstow MB/s | limit MB/s | ÷ limit |', '|---|---|---|---|', ...lines, '');
}

/** Peak RSS of pgstow per phase at the default memory budget (100 MiB), across every config measured. */
function renderRssPerPhase(out: string[], rows: Row[]): void {
  const phases: Array<[string, string]> = [
    ['base backup', 'base backup'], ['restore', 'restore'],
    ['WAL archive, one process per 16 MiB segment', 'WAL archive (one process per segment)'],
    ['WAL restore, one process per segment (restore_command)', 'WAL restore (one process per segment)'],
  ];
  const lines: string[] = [];
  for (const [workload, label] of phases) {
    const values = rows.filter((r) => r.workload === workload && r.tool === 'pgstow').flatMap((r) => r.extra?.['peak RSS MB'] ?? []);
    if (values.length === 0) continue;
    const st = stats(values);
    lines.push(`| ${label} | ${st.median.toFixed(0)} | ${st.max.toFixed(0)} |`);
  }
  if (lines.length === 0) return;
  out.push('### pgstow peak RSS per phase (default --max-memory 100Mi; MB)', '');
  out.push('| phase | median over configs and runs | max |', '|---|---|---|', ...lines, '');
}

function machineInfo(): Record<string, string | number> {
  return { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '', memoryGiB: Math.round(os.totalmem() / 2 ** 30), os: `${os.type()} ${os.release()}` };
}

function renderReport(opt: Options, rows: Row[], limits: LimitRow[], load: LoadResult[], seconds: number): string {
  const out: string[] = [];
  const m = machineInfo();
  const v = peerVersions();
  out.push(`## pgstow benchmark — ${new Date().toISOString().slice(0, 10)}${opt.quick ? ' (quick)' : ''}`, '');
  out.push(`Machine: ${m.cpus} cores (${m.cpuModel}), ${m.memoryGiB} GiB. ${v.postgresql}; barman-cloud ${v['barman-cloud']}; ${v['barman-cloud 3.19']} (Barman 3.19); WAL-G ${v['wal-g']}; ${v.pgbackrest}; Node ${v.node}.`);
  out.push(`${opt.reps} repetitions, configurations interleaved in random order each repetition; median (min–max). Run took ${seconds.toFixed(0)} s; load average ${loadAtStart.toFixed(1)} at the start, ${(os.loadavg()[0] ?? 0).toFixed(1)} at the end.`, '');
  const workloads = [...new Set(rows.map((r) => r.workload))];
  for (const w of workloads) {
    const order: Record<string, number> = { pgstow: 0, 'barman-cloud': 1, 'barman-cloud 3.19': 2, 'wal-g': 3, pgbackrest: 4 };
    const wr = rows.filter((r) => r.workload === w)
      .sort((a, b) => a.store.localeCompare(b.store) || (order[a.tool] ?? 9) - (order[b.tool] ?? 9) || a.config.localeCompare(b.config));
    const lowerIsBetter = wr[0]?.metric.startsWith('ms');
    const extras = [...new Set(wr.flatMap((r) => Object.keys(r.extra ?? {})))];
    out.push(`### ${w} (${wr[0]?.metric}; ${lowerIsBetter ? 'lower' : 'higher'} is better)`, '');
    out.push(`| store | tool | config | ${wr[0]?.metric} | ${extras.map((e) => `${e} |`).join(' ')} pgstow ÷ barman-cloud | pgstow ÷ pgBackRest | pgstow ÷ best peer |`);
    out.push(`|---|---|---|---|${extras.map(() => '---|').join('')}---|---|---|`);
    for (const r of wr) {
      const s = stats(r.values);
      // pgBackRest runs on S3 only (over HTTPS, which it requires): compare it with pgstow's S3 rows.
      const peerRow = (peer: ToolName): Row | undefined => {
        if (r.tool !== 'pgstow' || (peer === 'pgbackrest' && !r.store.startsWith('s3rver'))) return undefined;
        const baseCodec = r.config.split(' ')[0];
        return wr.find((x) => x.tool === peer && x.config === baseCodec && (peer === 'pgbackrest' || x.store === r.store));
      };
      const ratio = (p: Row | undefined): string => {
        if (!p) return '';
        const ps = stats(p.values);
        const q = lowerIsBetter ? ps.median / s.median : s.median / ps.median;
        return `${q.toFixed(2)}× ${q >= 1 ? 'better' : 'worse'}`;
      };
      const peers = PEERS.map(peerRow).filter((p): p is Row => p !== undefined);
      const best = peers.sort((a, b) => (lowerIsBetter ? 1 : -1) * (stats(a.values).median - stats(b.values).median))[0];
      out.push(`| ${r.store} | ${r.tool} | ${r.config} | ${fmt(s, lowerIsBetter ? 0 : 1)} | ${extras.map((e) => `${fmt(stats(r.extra?.[e] ?? []), 1)} |`).join(' ')} ${ratio(peerRow('barman-cloud'))} | ${ratio(peerRow('pgbackrest'))} | ${best ? `${ratio(best)} (${best.tool})` : ''} |`);
    }
    out.push('');
  }
  renderAgainstLimits(out, rows, limits);
  renderRssPerPhase(out, rows);
  if (load.length) {
    out.push('### WAL archiving under a pgbench write load', '');
    out.push('| tool | config | segments generated | archived during load | generated / min | archived / min | max .ready backlog | drain after load (s) |', '|---|---|---|---|---|---|---|---|');
    for (const l of load) {
      const perMin = (n: number): string => (n / (l.loadSeconds / 60)).toFixed(0);
      out.push(`| ${l.tool} | ${l.config} | ${l.generated} | ${l.archivedDuringLoad} | ${perMin(l.generated)} | ${perMin(l.archivedDuringLoad)} | ${l.maxBacklog} | ${l.drainSeconds.toFixed(1)} |`);
    }
    out.push('');
  }
  if (limits.length) {
    out.push('### Physical limits on this machine (what the hardware and server allow)', '');
    out.push('| what | MB/s |', '|---|---|');
    for (const l of limits) out.push(`| ${l.what} | ${fmt(l.mbPerSecond as Stats, 0)} |`);
    out.push('');
  }
  return out.join('\n');
}

await main();
