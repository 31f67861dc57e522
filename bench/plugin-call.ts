/**
 * `npm run build && node dist/bench/plugin-call.js [--segments 6] [--reps 2] [--stores s3rver,azurite,moto]
 *   [--sidecars this=dist/src/cli/bin/pgstow.js,base=/path/to/pgstow.js] [--barman] [--cpu-prof DIR] [--no-floors]`
 * The warm Archive call per 16 MiB segment alone (the per-segment rows of bench/plugin-archive.ts without
 * PostgreSQL), for A/B work: one sidecar per build, each with its own warm connection, beside the upload alone
 * (the bare floor) and the upload with the same safety work (the safe floor), and with --barman one
 * barman-cloud-wal-archive process, on s3rver (ignores create-only writes), Azurite and moto (both enforce them).
 * Every segment's calls run in a new random order over all stores and builds (interleaved). Prints medians
 * (min–max), CPU ms per call and the load average; writes bench/results/plugin-call-<time>.json.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateTls } from '../test/harness/ca.js';
import { startS3rver } from '../test/harness/servers/s3rver.js';
import { startAzurite } from '../test/harness/servers/azurite.js';
import { startMoto } from '../test/harness/servers/moto.js';
import type { AzuriteInfo, S3ServerInfo } from '../test/harness/test-env.js';
import { chownToPostgres, makeTempDir, removeDir } from '../test/harness/tmp.js';
import { startFakeKubernetesApi } from '../test/harness/fake-kubernetes-api.js';
import { openStoreFromEnv } from '../test/harness/store-options.js';
import { syntheticSegment } from '../test/harness/wal-segments.js';
import { clusterJson } from '../test/plugin/cnpg-fixtures.js';
import { startSidecar, type Sidecar } from '../test/plugin/cnpg-harness.js';
import { CnpgiClient } from '../src/plugin/protocol/client.js';
import { OBJECT_STORE_GROUP } from '../src/plugin/kube/kube-api.js';
import { SIDECAR_MALLOC_ENV } from '../src/plugin/instance/memory.js';
import type { ObjectStore } from '../src/storage/object-store.js';
import { TEST_BUCKET } from '../test/harness/stores.js';
import { fmt, stats } from './lib/measure.js';
import { archiveWal, type StoreEndpoint } from './lib/tools.js';
import { cpuSeconds, shuffle, timeMs, uploadWithSafetyWork } from './plugin-archive.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NAMESPACE = 'default';
const SEGMENT = 16 * 1024 * 1024;

function option(name: string, def: string): string {
  const argv = process.argv.slice(2);
  const i = argv.indexOf(name);
  return (i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1)) ?? def;
}

type StoreName = 's3rver' | 'azurite' | 'moto';
interface Sample { store: StoreName; config: string; ms: number; cpuMs?: number }
interface StoreWorld { name: StoreName; objectStore: string; floor: ObjectStore; endpoint: StoreEndpoint }

async function main(): Promise<void> {
  const segments = Number(option('--segments', '6'));
  const reps = Number(option('--reps', '2'));
  const storeNames = option('--stores', 's3rver,azurite,moto').split(',') as StoreName[];
  const sidecars = option('--sidecars', `this=${path.join(ROOT, 'dist/src/cli/bin/pgstow.js')}`).split(',').map((s) => s.split('=') as [string, string]);
  const barman = process.argv.includes('--barman');
  const floors = !process.argv.includes('--no-floors');
  const cpuProf = option('--cpu-prof', '');
  const tmp = makeTempDir('plugin-call');
  fs.chmodSync(tmp, 0o755);
  const tls = generateTls(path.join(tmp, 'tls'));
  const stopping: Array<() => Promise<void>> = [];
  const load0 = os.loadavg();
  const samples: Sample[] = [];
  try {
    const api = await startFakeKubernetesApi(path.join(tmp, 'kube'));
    stopping.push(() => api.close());
    const worlds: StoreWorld[] = [];
    for (const name of storeNames) worlds.push(await startStore(name, tmp, tls, api, stopping));
    const pgdata = path.join(tmp, 'pgdata');
    fs.mkdirSync(path.join(pgdata, 'pg_wal', 'archive_status'), { recursive: true });
    const segs = Array.from({ length: segments + 1 }, (_, i) => {
      const file = path.join(pgdata, 'pg_wal', `0000000100000001000000${(i + 16).toString(16).toUpperCase().padStart(2, '0')}`);
      fs.writeFileSync(file, syntheticSegment(path.basename(file), { segmentSize: SEGMENT, seed: i + 1, randomPayloadUntil: SEGMENT / 3 }));
      return file;
    });
    chownToPostgres(tmp);
    const running: Array<{ name: string; sidecar: Sidecar; client: CnpgiClient }> = [];
    for (const [name, bin] of sidecars) {
      const dir = path.join(tmp, `sidecar-${name}`);
      fs.mkdirSync(dir);
      chownToPostgres(dir);
      const prof = cpuProf ? ` --cpu-prof --cpu-prof-dir=${path.resolve(cpuProf)} --cpu-prof-name=${name}-${process.pid}.cpuprofile` : '';
      if (cpuProf) { fs.mkdirSync(cpuProf, { recursive: true }); fs.chmodSync(cpuProf, 0o777); }
      const sidecar = await startSidecar({
        mode: 'instance', pluginPath: path.join(dir, 'plugins'), logLevel: 'warning', bin,
        env: { KUBECONFIG: api.kubeconfig, NAMESPACE, CLUSTER_NAME: 'cluster-example', POD_NAME: 'cluster-example-1', PGDATA: pgdata,
          SPOOL_DIRECTORY: path.join(dir, 'spool'), TMPDIR: dir, PGSTOW_MAINTENANCE_DELAY_SECONDS: '86400', ...SIDECAR_MALLOC_ENV,
          NODE_OPTIONS: `${SIDECAR_MALLOC_ENV.NODE_OPTIONS}${prof}` },
      });
      stopping.push(async () => { await sidecar.stop(); });
      const client = await CnpgiClient.connect(`unix://${sidecar.socket}`);
      stopping.push(async () => client.close());
      running.push({ name, sidecar, client });
    }
    const archive = (client: CnpgiClient, w: StoreWorld, server: string, seg: string): Promise<unknown> =>
      client.call('WAL', 'Archive', { cluster_definition: clusterJson({ plugin: { barmanObjectName: w.objectStore, serverName: server }, withoutTypeMeta: true }), source_file_name: seg, parameters: {} });
    // The first call per engine (ObjectStore + server) opens it and, on s3rver, probes create-only writes: uncounted.
    const warmSeg = segs[segments] as string;
    for (let rep = 0; rep < reps; rep++) {
      for (const s of running) for (const w of worlds) await archive(s.client, w, `${s.name}-${rep}`, warmSeg);
    }
    for (const w of worlds) await uploadWithSafetyWork(w.floor, `warmup/${process.pid}`, warmSeg);
    for (let rep = 0; rep < reps; rep++) {
      for (const seg of segs.slice(0, segments)) {
        const name = path.basename(seg);
        const steps: Array<() => Promise<void>> = [];
        for (const w of worlds) {
          for (const s of running) {
            steps.push(async () => {
              const pid = s.sidecar.proc.pid as number;
              const cpu0 = cpuSeconds(pid);
              const ms = await timeMs(() => archive(s.client, w, `${s.name}-${rep}`, seg));
              samples.push({ store: w.name, config: `plugin ${s.name}`, ms, cpuMs: (cpuSeconds(pid) - cpu0) * 1000 });
            });
          }
          if (floors) {
            steps.push(async () => {
              const body = await fs.promises.readFile(seg);
              const cpu0 = process.cpuUsage();
              const ms = await timeMs(() => w.floor.put(`floor-${process.pid}/r${rep}/${name}`, body, { contentLength: body.length }));
              const cpu = process.cpuUsage(cpu0);
              samples.push({ store: w.name, config: 'bare floor', ms, cpuMs: (cpu.user + cpu.system) / 1000 });
            });
            steps.push(async () => {
              const cpu0 = process.cpuUsage();
              const ms = await timeMs(() => uploadWithSafetyWork(w.floor, `floor-${process.pid}/r${rep}/safe/${name}`, seg));
              const cpu = process.cpuUsage(cpu0);
              samples.push({ store: w.name, config: 'safe floor', ms, cpuMs: (cpu.user + cpu.system) / 1000 });
            });
          }
          if (barman) {
            steps.push(async () => {
              const r = await archiveWal('barman-cloud', 'none', w.endpoint, `barman-${process.pid}-${rep}`, seg);
              samples.push({ store: w.name, config: 'barman-cloud-wal-archive process', ms: r.wallSeconds * 1000, cpuMs: r.cpuSeconds * 1000 });
            });
          }
        }
        for (const step of shuffle(steps)) await step();
      }
    }
  } finally {
    for (const stop of stopping.reverse()) await stop().catch(() => undefined);
    if (!process.env.PGSTOW_KEEP_TMP) removeDir(tmp);
  }
  report(samples, { segments, reps, sidecars, load0, load1: os.loadavg() });
}

async function startStore(name: StoreName, tmp: string, tls: ReturnType<typeof generateTls>, api: Awaited<ReturnType<typeof startFakeKubernetesApi>>,
  stopping: Array<() => Promise<void>>): Promise<StoreWorld> {
  const put = (configuration: Record<string, unknown>): void => {
    api.putObject(OBJECT_STORE_GROUP, 'objectstores', { apiVersion: 'barmancloud.cnpg.io/v1', kind: 'ObjectStore', metadata: { name: `call-${name}`, namespace: NAMESPACE }, spec: { configuration } });
  };
  if (name === 'azurite') {
    const started = await startAzurite({ tmpDir: path.join(tmp, name), tls });
    stopping.push(() => started.stop());
    const az = started.servers.azurite as AzuriteInfo;
    api.setSecret(NAMESPACE, 'az', { ACCOUNT: az.account, KEY: az.accountKey });
    put({ destinationPath: `${az.accountUrl}/${TEST_BUCKET}/plugin-call`,
      azureCredentials: { storageAccount: { name: 'az', key: 'ACCOUNT' }, storageKey: { name: 'az', key: 'KEY' } } });
    const floor = (await openStoreFromEnv({ provider: 'azure-blob-storage', destinationUrl: `${az.accountUrl}/${TEST_BUCKET}/plugin-call-floor`,
      env: { AZURE_STORAGE_ACCOUNT: az.account, AZURE_STORAGE_KEY: az.accountKey } })).store;
    stopping.push(() => floor.close());
    return { name, objectStore: `call-${name}`, floor, endpoint: { kind: 'azurite', url: `${az.accountUrl}/${TEST_BUCKET}/plugin-call-barman`,
      args: ['--cloud-provider', 'azure-blob-storage'], env: { AZURE_STORAGE_CONNECTION_STRING: az.connectionString } } };
  }
  const started = name === 's3rver' ? await startS3rver({ tmpDir: path.join(tmp, name), tls }) : await startMoto({ tmpDir: path.join(tmp, name), tls });
  stopping.push(() => started.stop());
  const s3 = (name === 's3rver' ? started.servers.s3rver : started.servers.moto) as S3ServerInfo;
  api.setSecret(NAMESPACE, name, { ID: s3.accessKeyId, KEY: s3.secretAccessKey, REGION: s3.region });
  put({ destinationPath: `s3://${TEST_BUCKET}/plugin-call`, endpointURL: s3.endpoint,
    s3Credentials: { accessKeyId: { name, key: 'ID' }, secretAccessKey: { name, key: 'KEY' }, region: { name, key: 'REGION' } } });
  const floor = (await openStoreFromEnv({ provider: 'aws-s3', destinationUrl: `s3://${TEST_BUCKET}/plugin-call-floor`, endpointUrl: s3.endpoint,
    env: { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey }, s3: { region: s3.region } })).store;
  stopping.push(() => floor.close());
  return { name, objectStore: `call-${name}`, floor, endpoint: { kind: name, url: `s3://${TEST_BUCKET}/plugin-call-barman`,
    args: ['--cloud-provider', 'aws-s3', '--endpoint-url', s3.endpoint],
    env: { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_DEFAULT_REGION: s3.region } } };
}

function report(samples: Sample[], o: { segments: number; reps: number; sidecars: Array<[string, string]>; load0: number[]; load1: number[] }): void {
  const of = (store: string, config: string): Sample[] => samples.filter((s) => s.store === store && s.config === config);
  const median = (store: string, config: string): number => stats(of(store, config).map((s) => s.ms)).median;
  const out = ['| store | how | wall ms | ÷ bare floor | ÷ safe floor | barman-cloud ÷ this | CPU ms/call |', '|---|---|---|---|---|---|---|'];
  for (const store of [...new Set(samples.map((s) => s.store))]) {
    for (const config of [...new Set(samples.filter((s) => s.store === store).map((s) => s.config))].sort()) {
      const rs = of(store, config);
      const st = stats(rs.map((s) => s.ms));
      const cpu = rs.reduce((a, s) => a + (s.cpuMs ?? 0), 0) / rs.length;
      const ratio = (den: number): string => (Number.isFinite(den) ? `${(st.median / den).toFixed(2)}×` : '–');
      const barman = median(store, 'barman-cloud-wal-archive process');
      out.push(`| ${store} | ${config} | ${fmt(st, 0)} | ${ratio(median(store, 'bare floor'))} | ${ratio(median(store, 'safe floor'))} | `
        + `${Number.isFinite(barman) ? `${(barman / st.median).toFixed(1)}×` : '–'} | ${cpu.toFixed(0)} |`);
    }
  }
  const la = (l: number[]): string => l.map((x) => x.toFixed(2)).join(' ');
  console.log(`\n${o.segments} segments × ${o.reps} repetitions of 16 MiB, interleaved; median (min–max); load average ${la(o.load0)} → ${la(o.load1)}; `
    + `sidecars ${o.sidecars.map(([n, b]) => `${n}=${b}`).join(', ')}\n\n${out.join('\n')}`);
  const resultsDir = path.join(ROOT, 'bench', 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.writeFileSync(path.join(resultsDir, `plugin-call-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify({ ...o, samples }, null, 2));
}

main().catch((err: unknown) => { console.error(err); process.exit(1); });
