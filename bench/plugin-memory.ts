/**
 * `npm run build && node dist/bench/plugin-memory.js [--calls 10000] [--segment-mb 1] [--db-mb 1024 (0: no backup)] [--sample-every 500] [--no-restore] [--store moto|s3rver]`
 * The sidecar's memory as a long-lived process: its RSS sampled over N Archive calls (each a new segment
 * uploaded to s3rver; sampled and objects removed every --sample-every calls to bound the disk), then during a Backup of a database
 * of --db-mb, then the recovery Job's sidecar (`pgstow plugin restore`) during RestoreJobHooks.Restore of that
 * backup. Flat memory means the RSS after 10,000 calls is where it was after the first thousand, and a
 * backup's peak does not grow with the database. RSS is split into RssAnon (the process's own memory: heap,
 * buffers) and RssFile (pages of the node binary and libraries, shared and reclaimable). Writes
 * bench/results/plugin-memory-<time>.json and plugin-memory-<segment-mb>mib-latest.md. A bench script, never a timed test.
 * The store is moto by default: like AWS S3, MinIO and Ceph it enforces create-only writes (If-None-Match), so an
 * Archive call is one PUT verified by its ETag. s3rver ignores the condition, so every Archive also reads the
 * whole object back to verify it (archive-wal.ts): --store s3rver measures that path (TLS on, as in production).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateTls } from '../test/harness/ca.js';
import { startPostgres, type PostgresServer } from '../test/harness/postgres.js';
import { startS3rver } from '../test/harness/servers/s3rver.js';
import { startMoto } from '../test/harness/servers/moto.js';
import type { S3ServerInfo } from '../test/harness/test-env.js';
import { chownToPostgres, makeTempDir, removeDir } from '../test/harness/tmp.js';
import { backupObject, clusterJson } from '../test/plugin/cnpg-fixtures.js';
import { CnpgiClient } from '../src/plugin/protocol/client.js';
import { formatSegmentName, segmentsPerLog } from '../src/domain/wal/wal-file-name.js';
import { openStoreFromEnv as openStore } from '../test/harness/store-options.js';
import { isCommonPrefix } from '../src/storage/object-store.js';
import { syntheticSegment } from '../test/harness/wal-segments.js';
import { createDataset } from './lib/dataset.js';
import { rssMiB, startPluginWorld } from './plugin-archive.js';
import { cnpgCall, startSidecar } from '../test/plugin/cnpg-harness.js';
import { SIDECAR_MALLOC_ENV } from '../src/plugin/instance/memory.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MiB = 1024 * 1024;

function option(name: string, def: number): number {
  const argv = process.argv.slice(2);
  const i = argv.indexOf(name);
  const v = i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
  return v === undefined ? def : Number(v);
}

/** VmRSS split into RssAnon and RssFile (MiB), from /proc/<pid>/status. */
interface Rss { rss: number; anon: number; file: number }
function rssSplit(pid: number): Rss {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') };
}
/** Peak RSS (and its split at that moment), sampled every 200 ms until stopped. */
function peakSampler(pid: number): { stop(): Rss; readonly peak: Rss } {
  let peak: Rss = rssSplit(pid);
  const timer = setInterval(() => { try { const r = rssSplit(pid); if (r.rss > peak.rss) peak = r; } catch { /* exited */ } }, 200);
  return { get peak() { return peak; }, stop() { clearInterval(timer); return peak; } };
}
const fmt = (r: Rss): string => `${r.rss.toFixed(1)} (anon ${r.anon.toFixed(1)}, file ${r.file.toFixed(1)})`;

interface Sample { calls: number; rssMiB: number; anonMiB?: number; fileMiB?: number; heapUsedMiB?: number; externalMiB?: number; arrayBuffersMiB?: number }

/** The sidecar's own view of its memory (its metrics). */
async function memoryBreakdown(client: CnpgiClient, cluster: Buffer): Promise<{ heapUsedMiB: number; externalMiB: number; arrayBuffersMiB: number }> {
  const metrics = (await client.call('Metrics', 'Collect', { cluster_definition: cluster })).metrics;
  const get = (kind: string): number => (metrics.find((m) => m.fq_name.endsWith('_sidecar_memory_bytes') && m.variable_labels[0] === kind)?.value ?? NaN) / MiB;
  return { heapUsedMiB: get('heap_used'), externalMiB: get('external'), arrayBuffersMiB: get('array_buffers') };
}

async function archiveCalls(socket: string, s3: S3ServerInfo, pgdata: string, calls: number, segmentBytes: number, every: number): Promise<{ samples: Sample[]; seconds: number; peak: Rss; cpuMsPerCall: number }> {
  const client = await CnpgiClient.connect(`unix://${socket}`);
  const cleanup = (await openStore({ provider: 'aws-s3', destinationUrl: 's3://pgstow-test/plugin-bench', endpointUrl: s3.endpoint,
    env: { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey }, s3: { region: s3.region } })).store;
  const cluster = clusterJson({ plugin: { barmanObjectName: 'bench-store', serverName: 'memory' }, withoutTypeMeta: true });
  const walDir = path.join(pgdata, 'pg_wal');
  const perLog = segmentsPerLog(segmentBytes);
  const samples: Sample[] = [];
  const t0 = Date.now();
  const cpu0 = cpuMs(sidecarPid);
  const sampler = peakSampler(sidecarPid);
  try {
    for (let i = 1; i <= calls; i++) {
      const name = formatSegmentName(1, Math.floor(i / perLog), i % perLog);
      const file = path.join(walDir, name);
      // A valid segment of that name (the engine refuses anything else), every one different; a third of each
      // incompressible, like WAL with full-page images.
      await fs.promises.writeFile(file, syntheticSegment(name, { segmentSize: segmentBytes, seed: i, randomPayloadUntil: segmentBytes / 3 }));
      await client.call('WAL', 'Archive', { cluster_definition: cluster, source_file_name: file, parameters: {} });
      await fs.promises.rm(file);
      if (i % every === 0 || i === calls) {
        const r = rssSplit(sidecarPid);
        samples.push({ calls: i, rssMiB: r.rss, anonMiB: r.anon, fileMiB: r.file, ...(await memoryBreakdown(client, cluster)) });
        const keys: string[] = [];
        for await (const e of cleanup.list('plugin-bench/memory/wals/')) if (!isCommonPrefix(e)) keys.push(e.key);
        if (keys.length) await cleanup.delete(keys);
        const last = samples.at(-1);
        process.stdout.write(`  ${i} calls, sidecar RSS ${fmt(r)} MiB (heap ${last?.heapUsedMiB?.toFixed(1)}, external ${last?.externalMiB?.toFixed(1)}, array buffers ${last?.arrayBuffersMiB?.toFixed(1)})\n`);
      }
    }
  } finally {
    sampler.stop();
    client.close();
    await cleanup.close();
  }
  return { samples, seconds: (Date.now() - t0) / 1000, peak: sampler.peak, cpuMsPerCall: (cpuMs(sidecarPid) - cpu0) / calls };
}

let sidecarPid = 0;

/** utime + stime of a process (ms). Includes the sampling Metrics calls (one per --sample-every). */
function cpuMs(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** RSS before, peak (sampled every 200 ms) and after a Backup call of a database of dbMb. */
async function backupPeak(pg: PostgresServer, socket: string, dbMb: number): Promise<{ before: Rss; peak: Rss; after: Rss; seconds: number; databaseBytes: number; backupId: string }> {
  console.log(`creating a ${dbMb} MiB database…`);
  const ds = await createDataset(pg, dbMb * MiB);
  const before = rssSplit(sidecarPid);
  const sampler = peakSampler(sidecarPid);
  const client = await CnpgiClient.connect(`unix://${socket}`);
  const t0 = Date.now();
  try {
    const r = await client.call('Backup', 'Backup', {
      cluster_definition: clusterJson({ plugin: { barmanObjectName: 'bench-store', serverName: 'memory-backup' } }),
      backup_definition: Buffer.from(JSON.stringify(backupObject())), parameters: {},
    });
    const result = { before, peak: sampler.stop(), after: rssSplit(sidecarPid), seconds: (Date.now() - t0) / 1000, databaseBytes: ds.databaseBytes, backupId: r.backup_id };
    // The server archives nothing itself (archive_mode off): the backup's WAL goes through the sidecar, so the
    // recovery Job below finds it (RestoreJobHooks.Restore checks that the backup's first WAL is restorable).
    const walDir = path.join(pg.dataDir, 'pg_wal');
    const wals = (await fs.promises.readdir(walDir)).filter((n) => /^[0-9A-F]{24}$/.test(n) && n >= r.begin_wal && n <= r.end_wal).sort();
    const walCluster = clusterJson({ plugin: { barmanObjectName: 'bench-store', serverName: 'memory-backup' }, withoutTypeMeta: true });
    for (const w of wals) await client.call('WAL', 'Archive', { cluster_definition: walCluster, source_file_name: path.join(walDir, w), parameters: {} });
    return result;
  } finally {
    sampler.stop();
    client.close();
  }
}

/** The recovery Job's sidecar (`pgstow plugin restore`): RSS idle, peak and after RestoreJobHooks.Restore of that backup. */
async function restoreJobPeak(tmp: string, kubeconfig: string, memorySettings: boolean): Promise<{ idle: Rss; peak: Rss; after: Rss; seconds: number; hwm: number }> {
  const jobDir = path.join(tmp, 'job');
  fs.mkdirSync(path.join(jobDir, 'data'), { recursive: true });
  chownToPostgres(jobDir);
  const job = await startSidecar({ mode: 'restore', pluginPath: path.join(jobDir, 'plugins'), logLevel: 'warning', env: {
    KUBECONFIG: kubeconfig, NAMESPACE: 'default', CLUSTER_NAME: 'restored', POD_NAME: 'restored-1-full-recovery', PGDATA: path.join(jobDir, 'data', 'pgdata'),
    SPOOL_DIRECTORY: path.join(jobDir, 'spool'), TMPDIR: jobDir, ...(memorySettings ? SIDECAR_MALLOC_ENV : {}), ...sidecarEnv(),
  } });
  const pid = job.proc.pid as number;
  try {
    const idle = rssSplit(pid);
    const sampler = peakSampler(pid);
    const t0 = Date.now();
    console.log('restore Job sidecar: RestoreJobHooks.Restore…');
    await cnpgCall(job.socket, 'RestoreJobHooks', 'Restore', { check_empty_wal_archive: true, cluster_definition: clusterJson({
      name: 'restored', currentPrimary: '', plugin: { barmanObjectName: 'bench-store' },
      recovery: { source: 'origin', barmanObjectName: 'bench-store', serverName: 'memory-backup' },
    }) }, { timeoutMs: 3_600_000 });
    const peak = sampler.stop();
    return { idle, peak, after: rssSplit(pid), seconds: (Date.now() - t0) / 1000, hwm: rssMiB(pid, 'VmHWM') };
  } finally {
    await job.stop();
  }
}

function report(o: { idle: Rss; calls: number; segmentMb: number; every: number; a: Awaited<ReturnType<typeof archiveCalls>>;
  b: Awaited<ReturnType<typeof backupPeak>> | undefined; r: Awaited<ReturnType<typeof restoreJobPeak>> | undefined; hwm: number; memorySettings: boolean; storeKind: string }): string {
  const { a, b, r, calls, every } = o;
  const lines = [`### CNPG-I plugin sidecar memory — ${new Date().toISOString().slice(0, 10)}`, ''];
  lines.push(`RSS of the sidecar process (VmRSS = RssAnon + RssFile, MiB, from /proc/<pid>/status)${o.memorySettings ? ', with the image\'s memory settings' : ', WITHOUT the memory settings (--default-memory-settings)'}; store: ${o.storeKind === 's3rver' ? 's3rver over TLS (ignores create-only writes: every Archive reads its object back)' : 'moto (enforces create-only writes, as AWS S3 and MinIO do)'}. Idle after start: ${fmt(o.idle)}.`, '');
  lines.push(`| Archive calls (${o.segmentMb} MiB segments, one at a time) | RSS | RssAnon | RssFile | V8 heap used | external (buffers) |`, '|---|---|---|---|---|---|');
  for (const s of a.samples.filter((x, i) => i === 0 || x.calls % (every * 4) === 0 || x.calls === calls)) {
    lines.push(`| ${s.calls} | ${s.rssMiB.toFixed(1)} | ${s.anonMiB?.toFixed(1)} | ${s.fileMiB?.toFixed(1)} | ${s.heapUsedMiB?.toFixed(1)} | ${s.externalMiB?.toFixed(1)} |`);
  }
  const first = a.samples[0]?.rssMiB ?? NaN;
  const last = a.samples.at(-1)?.rssMiB ?? NaN;
  lines.push('', `${calls} calls in ${a.seconds.toFixed(0)} s (${(a.seconds * 1000 / calls).toFixed(1)} ms/call, sidecar CPU ${a.cpuMsPerCall.toFixed(1)} ms/call); RSS after the first ${every}: ${first.toFixed(1)} MiB, after ${calls}: ${last.toFixed(1)} MiB (${(last - first >= 0 ? '+' : '')}${(last - first).toFixed(1)} MiB); peak while archiving (sampled every 200 ms): ${fmt(a.peak)}.`, '');
  if (b) {
    lines.push(`| backup of a ${(b.databaseBytes / MiB).toFixed(0)} MiB database (Backup call, no compression, default jobs) | RSS MiB |`, '|---|---|');
    lines.push(`| before | ${fmt(b.before)} |`, `| peak during (sampled every 200 ms) | ${fmt(b.peak)} |`, `| after | ${fmt(b.after)} |`);
    lines.push('', `Backup ${b.backupId}: ${b.seconds.toFixed(1)} s.`, '');
  }
  if (r) {
    lines.push('| recovery Job sidecar (`pgstow plugin restore`), RestoreJobHooks.Restore of that backup | RSS MiB |', '|---|---|');
    lines.push(`| idle after start | ${fmt(r.idle)} |`, `| peak during (sampled every 200 ms) | ${fmt(r.peak)} |`, `| after | ${fmt(r.after)} |`, `| VmHWM | ${r.hwm.toFixed(1)} |`);
    lines.push('', `Restore: ${r.seconds.toFixed(1)} s.`, '');
  }
  lines.push(`VmHWM of the instance sidecar over the whole run: ${o.hwm.toFixed(1)} MiB. Goal: RSS ≤ 100 MiB while archiving; flat over calls; backup peak independent of database size.`, '');
  return lines.join('\n');
}

/** --sidecar-env K=V,K=V: more environment for both sidecars (an allocator setting, to measure it). */
function sidecarEnv(): Record<string, string> {
  const i = process.argv.indexOf('--sidecar-env');
  if (i < 0) return {};
  return Object.fromEntries((process.argv[i + 1] ?? '').split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

/** Asks the sidecar for a heap snapshot (SIGUSR2) and waits until the file is written. */
async function heapSnapshot(dir: string): Promise<void> {
  const before = new Set(fs.readdirSync(dir));
  process.kill(sidecarPid, 'SIGUSR2');
  for (let i = 0; i < 600; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const done = fs.readdirSync(dir).find((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
    // Written in one go at the end; wait until its size stops changing.
    if (done) {
      const size = fs.statSync(path.join(dir, done)).size;
      await new Promise((r) => setTimeout(r, 1000));
      if (fs.statSync(path.join(dir, done)).size === size) { console.log(`heap snapshot ${done}`); return; }
    }
  }
}

async function main(): Promise<void> {
  const calls = option('--calls', 10_000);
  const segmentMb = option('--segment-mb', 1);
  const dbMb = option('--db-mb', 1024);
  const every = option('--sample-every', 500);
  const memorySettings = !process.argv.includes('--default-memory-settings');
  const tmp = makeTempDir('plugin-memory');
  fs.chmodSync(tmp, 0o755);
  const storeKind = process.argv.includes('--store') ? process.argv[process.argv.indexOf('--store') + 1] : 'moto';
  const serverOptions = { tmpDir: path.join(tmp, 's3'), tls: generateTls(path.join(tmp, 'tls')) };
  const s3 = storeKind === 's3rver' ? await startS3rver(serverOptions) : await startMoto(serverOptions);
  const s3Info = (storeKind === 's3rver' ? s3.servers.s3rver : s3.servers.moto) as S3ServerInfo;
  const pg = await startPostgres({ version: 15, label: 'plugin-memory', settings: { checkpoint_timeout: '30min', max_wal_size: '4GB', archive_mode: 'off' } });
  // --default-memory-settings: run the sidecar without the allocator/V8 settings the image sets (to compare).
  // --heap-snapshots DIR: V8 heap snapshots of the sidecar when idle and after the Archive calls (SIGUSR2; a
  // snapshot costs memory itself, so the RSS samples above are taken before it).
  const snapshotDir = process.argv.includes('--heap-snapshots') ? path.resolve(process.argv[process.argv.indexOf('--heap-snapshots') + 1] ?? '.') : undefined;
  if (snapshotDir) { fs.mkdirSync(snapshotDir, { recursive: true }); fs.chmodSync(snapshotDir, 0o777); }
  // --sidecar-node-options '<flags>': more V8/Node flags for the sidecar (to measure one before the image sets it).
  const extraFlags = process.argv.includes('--sidecar-node-options') ? process.argv[process.argv.indexOf('--sidecar-node-options') + 1] ?? '' : '';
  const flags = [memorySettings ? SIDECAR_MALLOC_ENV.NODE_OPTIONS : '', extraFlags, snapshotDir ? `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snapshotDir}` : ''].filter(Boolean).join(' ');
  const nodeOptions: Record<string, string> = flags ? { NODE_OPTIONS: flags } : {};
  const world = await startPluginWorld(tmp, s3Info, pg.dataDir, { PGHOST: pg.socketDir, PGPORT: String(pg.port), ...nodeOptions, ...sidecarEnv() }, memorySettings)
    .catch(async (err: unknown) => {
      // A sidecar that does not start must not leave the servers running.
      await pg.destroy();
      await s3.stop();
      throw err;
    });
  sidecarPid = world.sidecar.proc.pid as number;
  try {
    const fakeWal = path.join(tmp, 'fake-pgdata');
    fs.mkdirSync(path.join(fakeWal, 'pg_wal'), { recursive: true });
    chownToPostgres(fakeWal);
    const idle = rssSplit(sidecarPid);
    console.log(`sidecar idle RSS ${fmt(idle)} MiB; ${calls} Archive calls of ${segmentMb} MiB segments…`);
    if (snapshotDir) await heapSnapshot(snapshotDir);
    const a = await archiveCalls(world.sidecar.socket, s3Info, fakeWal, calls, segmentMb * MiB, every);
    if (snapshotDir) await heapSnapshot(snapshotDir);
    const b = dbMb > 0 ? await backupPeak(pg, world.sidecar.socket, dbMb) : undefined;
    const r = b && !process.argv.includes('--no-restore') ? await restoreJobPeak(tmp, world.api.kubeconfig, memorySettings) : undefined;
    const hwm = rssMiB(sidecarPid, 'VmHWM');
    const md = report({ idle, calls, segmentMb, every, a, b, r, hwm, memorySettings, storeKind: String(storeKind) });
    console.log(md);
    const dir = path.join(ROOT, 'bench', 'results');
    fs.mkdirSync(dir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    fs.writeFileSync(path.join(dir, `plugin-memory-${stamp}.json`), JSON.stringify({ date: new Date().toISOString(), store: storeKind, calls, segmentMb, dbMb, memorySettings, idle, samples: a.samples, archiveSeconds: a.seconds, archivePeak: a.peak, archiveCpuMsPerCall: a.cpuMsPerCall, backup: b, restoreJob: r, hwm }, null, 2));
    fs.writeFileSync(path.join(dir, `plugin-memory-${segmentMb}mib${storeKind === 's3rver' ? '-s3rver' : ''}-latest.md`), md);
  } finally {
    await world.close();
    await pg.destroy();
    await s3.stop();
    if (!process.env.PGSTOW_KEEP_TMP) removeDir(tmp);
  }
}

await main();
