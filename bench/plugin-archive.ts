/**
 * The CNPG-I plugin beside the per-process archivers, on the same store (s3rver) and the same 16 MiB segments:
 *   - the plugin's Archive call (warm connection), and as CloudNativePG makes it (new connection, LoadPlugin,
 *     Probe, Archive);
 *   - one barman-cloud-wal-archive process (what plugin-barman-cloud runs per segment), one pgstow drop-in
 *     process, pgBackRest's archive-push;
 *   - the upload alone, in-process (the floor: what any archiver must at least spend).
 * Then PostgreSQL under the bulk-insert pgbench load with archive_command through the plugin socket: segments
 * generated and archived per minute, the largest `.ready` backlog, the sidecar's CPU seconds and peak RSS.
 * Called from run-bench.ts (`--only plugin`); goals: plugin ≤ 1.25× floor, ≥ 4× faster than barman-cloud,
 * backlog bounded, RSS ≤ 100 MiB.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { startPostgres, type PostgresServer } from '../test/harness/postgres.js';
import type { AzuriteInfo, S3ServerInfo } from '../test/harness/test-env.js';
import { startFakeKubernetesApi, type FakeKubernetesApi } from '../test/harness/fake-kubernetes-api.js';
import { chownToPostgres } from '../test/harness/tmp.js';
import { clusterJson, PLUGIN } from '../test/plugin/cnpg-fixtures.js';
import { cnpgCall, startSidecar, WAL_CLIENT, type Sidecar } from '../test/plugin/cnpg-harness.js';
import { canUseNetns, cnpgManagerInstalled, startCnpgPod, type CnpgPod } from '../test/plugin/cnpg-pod.js';
import { CnpgiClient } from '../src/plugin/protocol/client.js';
import { OBJECT_STORE_GROUP } from '../src/plugin/kube/kube-api.js';
import { openStoreFromEnv as openStore } from '../test/harness/store-options.js';
import { startAzuriteInstance } from '../test/harness/servers/azurite.js';
import { SIDECAR_MALLOC_ENV } from '../src/plugin/instance/memory.js';
import { WAL_MD5_METADATA } from '../src/services/wal-verification.js';
import { fmt, stats } from './lib/measure.js';
import { archiveWal, type PgbackrestConfig, type StoreEndpoint } from './lib/tools.js';
import { perCall, startCountingProxy } from './lib/counting-proxy.js';
import type { ObjectStore } from '../src/storage/object-store.js';

export interface PluginBenchInput {
  pg: PostgresServer;
  s3: S3ServerInfo;
  /** A store that enforces create-only writes, as AWS S3, MinIO, Ceph, Azure and GCS do (s3rver ignores them). */
  azurite?: AzuriteInfo;
  /** An S3 server that enforces create-only writes (If-None-Match), for the per-segment rows (full runs). */
  moto?: S3ServerInfo;
  /** barman-cloud's view of the other stores, for a barman-cloud-wal-archive row on each. */
  endpoints?: { azurite?: (prefix: string) => StoreEndpoint; moto?: (prefix: string) => StoreEndpoint };
  tmp: string;
  /** Staged 16 MiB segments readable by every tool. */
  segs: readonly string[];
  reps: number;
  loadSeconds: number;
  s3rver: (prefix: string) => StoreEndpoint;
  pgbr: () => PgbackrestConfig;
}

export interface PluginRow {
  config: string;
  values: number[];
  /** CPU milliseconds of the archiving process per call (the sidecar; the bench process for the floor). */
  cpuMs?: number[];
}

/** Store requests per call, by kind, counted by a proxy in front of the store (a pass of its own, not timed). */
export interface RequestCount { config: string; perCall: Record<string, number> }

export interface PluginLoad {
  loadSeconds: number;
  generatedPerMinute: number;
  archivedPerMinute: number;
  maxBacklog: number;
  drainSeconds: number;
  sidecarCpuSeconds: number;
  sidecarPeakRssMiB: number;
  /** Segments archived from the start of the load until the backlog drained, and the sidecar's CPU over that time. */
  archivedSegments: number;
  sidecarCpuMsPerSegment: number;
  /** CPU of PostgreSQL's archive_command processes (the client: manager, Node client, or cp) per segment it archived. */
  clientCpuMsPerSegment: number;
}

/** One row of the load table: the sidecar, or a loop in this process at the same concurrency (the limits). */
export interface LoadRow { store: 's3rver' | 'azurite'; how: string; load: PluginLoad & { memory?: LoadMemory };
  /** PostgreSQL's archive_command: CloudNativePG's manager, or the bench's Node client. */
  client: LoadClient['kind'] }

export interface PluginBenchResult { rows: PluginRow[]; requests: RequestCount[]; load: PluginLoad | undefined; loadRows: LoadRow[]; markdown: string }

const NAMESPACE = 'default';
/** wal.maxParallel of the load's ObjectStores (CNPG's recommendation for a busy primary). */
export const LOAD_MAX_PARALLEL = 8;
/** The ObjectStores the load archives to, by store. */
export const LOAD_STORES = { s3rver: 'bench-store-parallel', azurite: 'bench-store-parallel-azure' } as const;

/** The loopback Kubernetes API with the ObjectStore and Secret, and the sidecar, for one bench run. */
/** Options of a bench world beyond the defaults: another pgstow build, Azurite for the load, wal.maxParallel of the load. */
export interface PluginWorldOptions { bin?: string; azurite?: AzuriteInfo; maxParallel?: number; logLevel?: string }

export { underLoad };

export async function startPluginWorld(tmp: string, s3: S3ServerInfo, pgdata: string, extraEnv: Record<string, string> = {}, memorySettings = true,
  options: PluginWorldOptions = {}): Promise<{ api: FakeKubernetesApi; sidecar: Sidecar; close(): Promise<void> }> {
  const dir = path.join(tmp, 'plugin-world');
  fs.mkdirSync(dir, { recursive: true });
  const api = await startFakeKubernetesApi(path.join(dir, 'kube'));
  api.setSecret(NAMESPACE, 'creds', { ID: s3.accessKeyId, KEY: s3.secretAccessKey, REGION: s3.region });
  putStore(api, 'bench-store', s3Configuration(s3.endpoint));
  // The load runs against a store configured as for a busy primary: archive-ahead of up to 7 ready files.
  const wal = { maxParallel: options.maxParallel ?? LOAD_MAX_PARALLEL };
  putStore(api, LOAD_STORES.s3rver, { ...s3Configuration(s3.endpoint), wal });
  if (options.azurite) {
    api.setSecret(NAMESPACE, 'azcreds', { ACCOUNT: options.azurite.account, KEY: options.azurite.accountKey });
    putStore(api, LOAD_STORES.azurite, { ...azureConfiguration(options.azurite.accountUrl), wal });
  }
  chownToPostgres(dir);
  const sidecar = await startSidecar({
    mode: 'instance', pluginPath: path.join(dir, 'plugins'), logLevel: process.env.PGSTOW_BENCH_SIDECAR_LOG_LEVEL ?? options.logLevel ?? 'warning', ...(options.bin ? { bin: options.bin } : {}),
    env: { KUBECONFIG: api.kubeconfig, NAMESPACE, CLUSTER_NAME: 'cluster-example', POD_NAME: 'cluster-example-1', PGDATA: pgdata,
      SPOOL_DIRECTORY: path.join(dir, 'spool'), TMPDIR: dir, PGSTOW_MAINTENANCE_DELAY_SECONDS: '86400', ...(memorySettings ? SIDECAR_MALLOC_ENV : {}), ...extraEnv },
  });
  return { api, sidecar, close: async () => { await sidecar.stop(); await api.close(); } };
}

const cluster = (serverName: string, store = 'bench-store'): Buffer => clusterJson({ plugin: { barmanObjectName: store, serverName }, withoutTypeMeta: true });

function putStore(api: FakeKubernetesApi, name: string, configuration: Record<string, unknown>): void {
  api.putObject(OBJECT_STORE_GROUP, 'objectstores', { apiVersion: 'barmancloud.cnpg.io/v1', kind: 'ObjectStore', metadata: { name, namespace: NAMESPACE }, spec: { configuration } });
}

const s3Configuration = (endpoint: string): Record<string, unknown> => ({
  destinationPath: 's3://pgstow-test/plugin-bench', endpointURL: endpoint,
  s3Credentials: { accessKeyId: { name: 'creds', key: 'ID' }, secretAccessKey: { name: 'creds', key: 'KEY' }, region: { name: 'creds', key: 'REGION' } },
});

const azureConfiguration = (accountUrl: string): Record<string, unknown> => ({
  destinationPath: `${accountUrl}/pgstow-test/plugin-bench`,
  azureCredentials: { storageAccount: { name: 'azcreds', key: 'ACCOUNT' }, storageKey: { name: 'azcreds', key: 'KEY' } },
});

/** The ObjectStores of the per-segment rows: s3rver (`bench-store`, from startPluginWorld) and Azurite. */
function addBenchStores(api: FakeKubernetesApi, input: PluginBenchInput): void {
  if (input.moto) {
    api.setSecret(NAMESPACE, 'motocreds', { ID: input.moto.accessKeyId, KEY: input.moto.secretAccessKey, REGION: input.moto.region });
    putStore(api, 'bench-store-moto', { ...s3Configuration(input.moto.endpoint), s3Credentials: {
      accessKeyId: { name: 'motocreds', key: 'ID' }, secretAccessKey: { name: 'motocreds', key: 'KEY' }, region: { name: 'motocreds', key: 'REGION' } } });
  }
  if (!input.azurite) return;
  api.setSecret(NAMESPACE, 'azcreds', { ACCOUNT: input.azurite.account, KEY: input.azurite.accountKey });
  putStore(api, 'bench-store-azure', azureConfiguration(input.azurite.accountUrl));
}

export async function runPluginBench(input: PluginBenchInput): Promise<PluginBenchResult> {
  const world = await startPluginWorld(input.tmp, input.s3, input.pg.dataDir, {}, true, input.azurite ? { azurite: input.azurite } : {});
  try {
    addBenchStores(world.api, input);
    const rows = await perSegment(input, world.sidecar);
    const requests = await countRequests(input, world);
    const loadRows = input.loadSeconds > 0 ? await loadTable(input, world) : [];
    const load = loadRows.find((r) => r.store === 's3rver' && r.how === SIDECAR_UNDER_LOAD)?.load;
    return { rows, requests, load, loadRows, markdown: render(rows, requests, loadRows, input) };
  } finally {
    await world.close();
  }
}

const SIDECAR_UNDER_LOAD = 'plugin sidecar';
const BARE_LOOP = `bare PUT loop, ${LOAD_MAX_PARALLEL} at once (physical limit)`;
const SAFE_LOOP = `loop with the same safety work, ${LOAD_MAX_PARALLEL} at once`;
/** The sidecar replaced by a stub that answers Archive at once (bench/lib/instant-plugin.ts): CloudNativePG's own limit. */
export const CEILING_ROW = 'ceiling of CloudNativePG\'s process per segment: instant Archive stub, stores nothing';
const INSTANT_PLUGIN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'instant-plugin.js');

/**
 * BENCH ONLY: the load with the sidecar replaced by the instant Archive stub, CloudNativePG's manager as
 * archive_command: the most its process per segment archives a minute on this machine, whatever the plugin.
 */
export async function ceilingUnderLoad(input: LoadEnv, client: LoadClient): Promise<PluginLoad & { memory?: LoadMemory }> {
  fs.mkdirSync(input.tmp, { recursive: true });
  chownToPostgres(input.tmp);
  const stub = await startSidecar({ mode: 'instance', pluginPath: path.join(input.tmp, 'plugins'), logLevel: 'warning', bin: INSTANT_PLUGIN, env: { TMPDIR: input.tmp } });
  try {
    return await underLoad(input, stub, 's3rver', client);
  } finally {
    await stub.stop();
  }
}

/**
 * The load table. Where this machine can run CloudNativePG's own `manager wal-archive` (root for a network namespace,
 * the manager installed), PostgreSQL's archive_command is the manager, as in a pod: a PostgreSQL of its own runs in
 * the pod's namespace with a sidecar whose PGDATA is that server's (archive-ahead reads its `.ready` files). Else
 * the bench's Node client sends each segment to the per-segment rows' sidecar.
 */
async function loadTable(input: PluginBenchInput, world: LoadWorld): Promise<LoadRow[]> {
  if (!canUseNetns() || !cnpgManagerInstalled()) return loadRowsOn(input, world, { kind: 'node' });
  const dir = path.join(input.tmp, 'plugin-load-pod');
  fs.mkdirSync(dir, { recursive: true });
  chownToPostgres(dir);
  const pod = await startCnpgPod(path.join(dir, 'pod'), '{}');
  try {
    const pg = await startPostgres({ version: 15, label: 'plugin-load', netns: pod.ns, settings: LOAD_PG_SETTINGS });
    try {
      const world = await startPluginWorld(dir, input.s3, pg.dataDir, {}, true, input.azurite ? { azurite: input.azurite } : {});
      try {
        return await loadRowsOn({ ...input, pg, tmp: dir }, world, { kind: 'manager', pod });
      } finally {
        await world.close();
      }
    } finally {
      await pg.destroy();
    }
  } finally {
    await pod.close();
  }
}

/** PostgreSQL for a load of its own: no checkpoint or WAL recycling in the middle of a 40 s load. */
export const LOAD_PG_SETTINGS = { archive_mode: 'on', archive_command: '/bin/true', max_wal_size: '4GB', checkpoint_timeout: '30min', shared_buffers: '256MB' };

type LoadWorld = { api: FakeKubernetesApi; sidecar: Sidecar };

/**
 * The load on each store, through the sidecar and through the two loops in this process at the same concurrency
 * (the bare PUT: what the store and the machine allow; the same safety work done plainly), one after the other.
 * Each load stores 4–5 GB a minute on this machine: the store's copies go after every row, or a run fills the disk.
 */
async function loadRowsOn(input: PluginBenchInput, world: LoadWorld, client: LoadClient): Promise<LoadRow[]> {
  const out: LoadRow[] = [];
  const clientName = client.kind;
  const rows = (store: keyof typeof LOAD_STORES): Array<[string, (floor: ObjectStore) => Promise<PluginLoad>]> => [
    [SIDECAR_UNDER_LOAD, () => underLoad(input, world.sidecar, store, client)],
    [BARE_LOOP, (floor) => floorUnderLoad(input, floor, LOAD_MAX_PARALLEL)],
    [SAFE_LOOP, (floor) => floorUnderLoad(input, floor, LOAD_MAX_PARALLEL, 'safe')],
    // No store is involved: once, on the first store's turn.
    ...(client.kind === 'manager' && store === 's3rver' ? [[CEILING_ROW, () => ceilingUnderLoad({ ...input, tmp: path.join(input.tmp, 'ceiling') }, client)] as [string, () => Promise<PluginLoad>]] : []),
  ];
  for (const [how, measure] of rows('s3rver')) {
    const floor = await openFloor(input, 's3rver');
    try {
      out.push({ store: 's3rver', how, client: clientName, load: await measure(floor) });
      await dropLoadObjects(floor);
    } finally {
      await floor.close();
    }
  }
  if (!input.azurite) return out;
  for (const [how, measure] of rows('azurite')) {
    out.push({ store: 'azurite', how, client: clientName, load: await withFreshAzurite(input.tmp, async (azurite) => {
      if (how === SIDECAR_UNDER_LOAD) putAzureLoadStore(world.api, azurite);
      const floor = await openFloor({ ...input, azurite }, 'azurite');
      try { return await measure(floor); } finally { await floor.close(); }
    }) });
  }
  return out;
}

/**
 * Runs one Azurite load row on an Azurite of its own, whose directory goes with it: Azurite frees a deleted blob's
 * extents only in its 10-minute collection, so three rows of a 60 s load on one Azurite kept ~15 GB on disk.
 */
async function withFreshAzurite<T>(tmp: string, run: (azurite: AzuriteInfo) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(tmp, 'azurite-load-'));
  try {
    const { info, proc } = await startAzuriteInstance(dir);
    try { return await run(info); } finally { await proc.stop(); }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Points the load's Azurite ObjectStore at `azurite` (read by the sidecar on the row's first Archive). */
function putAzureLoadStore(api: FakeKubernetesApi, azurite: AzuriteInfo): void {
  api.setSecret(NAMESPACE, 'azloadcreds', { ACCOUNT: azurite.account, KEY: azurite.accountKey });
  const configuration = azureConfiguration(azurite.accountUrl);
  putStore(api, LOAD_STORES.azurite, { ...configuration, wal: { maxParallel: LOAD_MAX_PARALLEL },
    azureCredentials: { storageAccount: { name: 'azloadcreds', key: 'ACCOUNT' }, storageKey: { name: 'azloadcreds', key: 'KEY' } } });
}

/** Deletes what the load rows stored in the bench's bucket/container (the sidecar's `plugin-bench/`, the loops' `floor-*`). */
export async function dropLoadObjects(store: ObjectStore): Promise<void> {
  for (const prefix of ['plugin-bench/', 'floor-']) {
    let batch: string[] = [];
    for await (const e of store.list(prefix)) {
      if ('key' in e) batch.push(e.key);
      if (batch.length === 500) { await store.delete(batch); batch = []; }
    }
    if (batch.length > 0) await store.delete(batch);
  }
}

const S3RVER = 's3rver (ignores create-only writes)';
const AZURITE = 'Azurite (enforces create-only writes, as AWS S3, MinIO, Ceph, GCS)';
const MOTO = 'moto (an S3 server that enforces create-only writes, as AWS S3, MinIO, Ceph)';

export async function openFloor(input: Pick<PluginBenchInput, 's3' | 'azurite' | 'moto'>, store: 's3rver' | 'azurite' | 'moto', endpoint?: string): Promise<import('../src/storage/object-store.js').ObjectStore> {
  if (store === 's3rver' || store === 'moto') {
    const s3 = store === 'moto' ? input.moto as S3ServerInfo : input.s3;
    return (await openStore({ provider: 'aws-s3', destinationUrl: 's3://pgstow-test/plugin-bench-floor', endpointUrl: endpoint ?? s3.endpoint,
      env: { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey }, s3: { region: s3.region } })).store;
  }
  const az = input.azurite as AzuriteInfo;
  const accountUrl = endpoint ? `${endpoint}/${az.account}` : az.accountUrl;
  return (await openStore({ provider: 'azure-blob-storage', destinationUrl: `${accountUrl}/pgstow-test/plugin-bench-floor`,
    env: { AZURE_STORAGE_ACCOUNT: az.account, AZURE_STORAGE_KEY: az.accountKey } })).store;
}

async function perSegment(input: PluginBenchInput, sidecar: Sidecar): Promise<PluginRow[]> {
  const rows = new Map<string, PluginRow>();
  const add = (config: string, ms: number, cpuMs?: number): void => {
    const r = rows.get(config) ?? { config, values: [], ...(cpuMs !== undefined ? { cpuMs: [] } : {}) };
    r.values.push(ms);
    if (cpuMs !== undefined) r.cpuMs?.push(cpuMs);
    rows.set(config, r);
  };
  const pid = sidecar.proc.pid as number;
  const warm = await CnpgiClient.connect(`unix://${sidecar.socket}`);
  const floors = { s3rver: await openFloor(input, 's3rver'), ...(input.azurite ? { azurite: await openFloor(input, 'azurite') } : {}),
    ...(input.moto ? { moto: await openFloor(input, 'moto') } : {}) };
  /** The stores of the rows: label, ObjectStore name, floor store, barman-cloud's view (s3rver's has its own row). */
  const stores: Array<[string, string, ObjectStore, ((prefix: string) => StoreEndpoint) | undefined]> = [[S3RVER, 'bench-store', floors.s3rver, undefined]];
  if (floors.azurite) stores.push([AZURITE, 'bench-store-azure', floors.azurite, input.endpoints?.azurite]);
  if (floors.moto) stores.push([MOTO, 'bench-store-moto', floors.moto, input.endpoints?.moto]);
  /** Wall and CPU ms of one warm Archive call (the sidecar's CPU, from /proc, 10 ms ticks: summed over calls). */
  const pluginCall = async (config: string, store: string, server: string, seg: string): Promise<void> => {
    const cpu0 = cpuSeconds(pid);
    const ms = await timeMs(() => warm.call('WAL', 'Archive', { cluster_definition: cluster(server, store), source_file_name: seg, parameters: {} }));
    add(config, ms, (cpuSeconds(pid) - cpu0) * 1000);
  };
  const floorCall = async (config: string, store: import('../src/storage/object-store.js').ObjectStore, key: string, seg: string): Promise<void> => {
    const body = await fs.promises.readFile(seg);
    const cpu0 = process.cpuUsage();
    const ms = await timeMs(() => store.put(key, body, { contentLength: body.length }));
    const cpu = process.cpuUsage(cpu0);
    add(config, ms, (cpu.user + cpu.system) / 1000);
  };
  const safeFloorCall = async (config: string, store: import('../src/storage/object-store.js').ObjectStore, key: string, seg: string): Promise<void> => {
    const cpu0 = process.cpuUsage();
    const ms = await timeMs(() => uploadWithSafetyWork(store, key, seg));
    const cpu = process.cpuUsage(cpu0);
    add(config, ms, (cpu.user + cpu.system) / 1000);
  };
  try {
    // The first call of each engine opens it (SDK client; on s3rver, the probe whether it enforces create-only
    // writes): every server name measured below gets its uncounted first call here, and so does each floor store.
    for (let rep = 0; rep < input.reps; rep++) {
      for (const [, store] of stores) {
        await warm.call('WAL', 'Archive', { cluster_definition: cluster(`warm-${rep}`, store), source_file_name: input.segs[0] as string, parameters: {} });
      }
    }
    for (const floor of Object.values(floors)) await uploadWithSafetyWork(floor, 'warmup/safe', input.segs[0] as string);
    for (let rep = 0; rep < input.reps; rep++) {
      const pgbr = input.pgbr();
      const target = input.s3rver(`bench-plugin-${rep}`);
      for (const seg of input.segs) {
        const name = path.basename(seg);
        const steps: Array<[string, () => Promise<void>]> = [
          ...stores.flatMap(([label, objectStore, floor, barmanView]): Array<[string, () => Promise<void>]> => [
            [`plugin Archive call (warm connection), ${label}`, () => pluginCall(`plugin Archive call (warm connection), ${label}`, objectStore, `warm-${rep}`, seg)],
            [`upload alone, in-process (floor), ${label}`, () => floorCall(`upload alone, in-process (floor), ${label}`, floor, `r${rep}/${name}`, seg)],
            [`${SAFE_FLOOR}, ${label}`, () => safeFloorCall(`${SAFE_FLOOR}, ${label}`, floor, `r${rep}/safe/${name}`, seg)],
            ...(barmanView ? [[`${BARMAN_ROW}, ${label}`, async () => add(`${BARMAN_ROW}, ${label}`,
              (await archiveWal('barman-cloud', 'none', barmanView(`bench-plugin-${rep}`), `barman-${rep}`, seg)).wallSeconds * 1000)] as [string, () => Promise<void>]] : []),
          ]),
          ['plugin, as CNPG calls it (new connection, LoadPlugin, Probe, Archive), s3rver', async () => add('plugin, as CNPG calls it (new connection, LoadPlugin, Probe, Archive), s3rver',
            await timeMs(() => cnpgCall(sidecar.socket, 'WAL', 'Archive', { cluster_definition: cluster(`cnpg-${rep}`), source_file_name: seg, parameters: {} })))],
          ['one pgstow wal-archive process (drop-in), s3rver', async () => add('one pgstow wal-archive process (drop-in), s3rver', (await archiveWal('pgstow', 'none', target, `dropin-${rep}`, seg)).wallSeconds * 1000)],
          ['one barman-cloud-wal-archive process (plugin-barman-cloud per segment), s3rver', async () => add('one barman-cloud-wal-archive process (plugin-barman-cloud per segment), s3rver',
            (await archiveWal('barman-cloud', 'none', target, `barman-${rep}`, seg)).wallSeconds * 1000)],
          ['pgBackRest archive-push, s3rver (TLS)', async () => add('pgBackRest archive-push, s3rver (TLS)', (await archiveWal('pgbackrest', 'none', pgbr, 'bench', seg)).wallSeconds * 1000)],
        ];
        for (const [, run] of shuffle(steps)) await run();
      }
    }
  } finally {
    warm.close();
    await Promise.all(Object.values(floors).map((f) => f.close()));
  }
  return [...rows.values()];
}

const SAFE_FLOOR = 'upload with the same safety work, in-process';
const BARMAN_ROW = 'one barman-cloud-wal-archive process';

/**
 * The least any archiver that gives the plugin's guarantees spends, done the plainest way: the file read whole,
 * its MD5, a create-only put carrying it (which, on a store not known to enforce create-only writes, looks first);
 * where the store ignores create-only writes, a stat, the same settle wait (1.5 × the put, 100 ms – 3 s) and the
 * whole object read back and compared. No listing, no WAL checks, no gRPC, no configuration.
 */
export async function uploadWithSafetyWork(store: import('../src/storage/object-store.js').ObjectStore, key: string, seg: string): Promise<void> {
  const body = await fs.promises.readFile(seg);
  const md5 = createHash('md5').update(body).digest();
  const started = Date.now();
  await store.put(key, body, { contentLength: body.length, md5, ifAbsent: true, metadata: { [WAL_MD5_METADATA]: md5.toString('hex') } });
  if (store.capabilities.conditionalCreate) return;
  if ((await store.stat(key)).size !== body.length) throw new Error(`${key}: stored size differs`);
  await new Promise((r) => setTimeout(r, Math.min(3000, Math.max(100, 1.5 * (Date.now() - started)))));
  let at = 0;
  for await (const chunk of await store.get(key)) {
    if (!body.subarray(at, at + (chunk as Buffer).length).equals(chunk as Buffer)) throw new Error(`${key}: read-back differs`);
    at += (chunk as Buffer).length;
  }
  if (at !== body.length) throw new Error(`${key}: read-back size differs`);
}

/**
 * Store requests per Archive call and per floor upload, through a counting proxy in front of each store (its own
 * ObjectStore and server name, after one uncounted call that opens the engine): not part of the timed rows.
 */
async function countRequests(input: PluginBenchInput, world: { api: FakeKubernetesApi; sidecar: Sidecar }): Promise<RequestCount[]> {
  const out: RequestCount[] = [];
  const client = await CnpgiClient.connect(`unix://${world.sidecar.socket}`);
  const targets: Array<['s3rver' | 'azurite' | 'moto', string, string]> = [['s3rver', S3RVER, input.s3.endpoint]];
  if (input.azurite) targets.push(['azurite', AZURITE, new URL(input.azurite.accountUrl).origin]);
  if (input.moto) targets.push(['moto', MOTO, input.moto.endpoint]);
  try {
    for (const [store, label, endpoint] of targets) {
      const proxy = await startCountingProxy(endpoint);
      try {
        const name = `bench-store-counted-${store}`;
        putStore(world.api, name, store === 's3rver' ? s3Configuration(proxy.endpoint)
          : store === 'moto' ? { ...s3Configuration(proxy.endpoint), s3Credentials: { accessKeyId: { name: 'motocreds', key: 'ID' }, secretAccessKey: { name: 'motocreds', key: 'KEY' }, region: { name: 'motocreds', key: 'REGION' } } }
            : azureConfiguration(`${proxy.endpoint}/${(input.azurite as AzuriteInfo).account}`));
        const archive = (seg: string): Promise<unknown> => client.call('WAL', 'Archive', { cluster_definition: cluster('counted', name), source_file_name: seg, parameters: {} });
        await archive(input.segs[0] as string);
        const rest = input.segs.slice(1);
        let before = proxy.counts();
        for (const seg of rest) await archive(seg);
        out.push({ config: `plugin Archive call, ${label}`, perCall: perCall(before, proxy.counts(), rest.length) });
        const floor = await openFloor(input, store, proxy.endpoint);
        try {
          before = proxy.counts();
          for (const seg of rest) { const body = await fs.promises.readFile(seg); await floor.put(`counted/${path.basename(seg)}`, body, { contentLength: body.length }); }
          out.push({ config: `upload alone (floor), ${label}`, perCall: perCall(before, proxy.counts(), rest.length) });
        } finally {
          await floor.close();
        }
      } finally {
        await proxy.close();
      }
    }
  } finally {
    client.close();
  }
  return out;
}

export async function timeMs(run: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await run();
  return performance.now() - t0;
}

export function shuffle<T>(items: readonly T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [a[i], a[j]] = [a[j] as T, a[i] as T]; }
  return a;
}

/** utime + stime of a process, seconds. */
export function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** cutime + cstime of a process (its children that have exited and been waited for), seconds. */
function childCpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

export function rssMiB(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** What a load run needs: PostgreSQL, a temp dir, the load's length. */
export interface LoadEnv { pg: PostgresServer; tmp: string; loadSeconds: number }

/** The sidecar's memory at its highest RSS sample during a load (MiB): its own view (Metrics) beside /proc. */
export interface LoadMemory { rssAnonMiB: number; rssFileMiB: number; heapUsedMiB: number; heapTotalMiB: number; externalMiB: number; arrayBuffersMiB: number }

/**
 * PostgreSQL's archive_command during the load: CloudNativePG's own `manager wal-archive`, as in a pod (PostgreSQL
 * runs in the pod's network namespace, test/plugin/cnpg-pod.ts), or the bench's Node client (test/plugin/wal-client.ts,
 * a Node process per segment: its start-up competes with the sidecar for the CPU).
 */
export type LoadClient = { kind: 'manager'; pod: CnpgPod } | { kind: 'node' };

/** The archive_command that sends each segment to `sidecar` with the Cluster `definition`, through `client`. */
function archiveCommandFor(client: LoadClient, input: LoadEnv, sidecar: Sidecar, definition: Buffer): string {
  if (client.kind === 'manager') {
    // The stand-in web server reads its file again for every request: the manager sees this Cluster from now on.
    fs.writeFileSync(client.pod.clusterFile, definition);
    return timedCommand(input, client.pod.archiveCommand({ podName: 'cluster-example-1', pgdata: input.pg.dataDir, pluginSocketDir: sidecar.options.pluginPath }));
  }
  const clusterFile = path.join(input.tmp, 'plugin-world', 'load-cluster.json');
  fs.writeFileSync(clusterFile, definition);
  chownToPostgres(clusterFile);
  return `${process.execPath} ${WAL_CLIENT} archive ${sidecar.socket} ${clusterFile} %p`;
}

/**
 * Diagnostics of a load run, read by bench/archive-calls.ts: with PGSTOW_BENCH_CALL_LOG=<dir>, each archive_command
 * of the manager runs under a bash wrapper that appends "<%p> <start> <end> <exit code>" (epoch seconds, µs) to
 * <dir>/<run's directory name>.calls (the wrapper costs a bash start, ~2 ms, per call: not for A/B numbers);
 * PGSTOW_BENCH_SIDECAR_LOG_LEVEL=trace makes the sidecar log every RPC it answers with its time.
 */
function timedCommand(input: LoadEnv, command: string): string {
  const dir = process.env.PGSTOW_BENCH_CALL_LOG;
  if (!dir) return command;
  fs.mkdirSync(dir, { recursive: true, mode: 0o777 });
  fs.chmodSync(dir, 0o777);
  const log = path.join(dir, `${path.basename(input.tmp)}.calls`);
  const wrapper = path.join(dir, 'timed-archive-command.sh');
  fs.writeFileSync(wrapper, '#!/bin/bash\nlog=$1; shift\ns=$EPOCHREALTIME\n"$@"\nrc=$?\necho "${@: -1} $s $EPOCHREALTIME $rc" >> "$log"\nexit $rc\n', { mode: 0o755 });
  fs.writeFileSync(log, '', { mode: 0o666 });
  fs.chmodSync(log, 0o666);
  return `${wrapper} ${log} env ${command}`;
}

async function underLoad(input: LoadEnv, sidecar: Sidecar, store: keyof typeof LOAD_STORES = 's3rver', client: LoadClient = { kind: 'node' }): Promise<PluginLoad & { memory?: LoadMemory }> {
  const pid = sidecar.proc.pid as number;
  const definition = cluster('load', LOAD_STORES[store]);
  const command = archiveCommandFor(client, input, sidecar, definition);
  // VmHWM from here on: the load's peak, not that of the calls measured before it (writing 5 resets it; Linux ≥ 4.0).
  try { fs.writeFileSync(`/proc/${pid}/clear_refs`, '5'); } catch { /* not allowed: the process's lifetime peak */ }
  const memory = await sampleSidecarMemory(sidecar, definition);
  try {
    return { ...await runLoad(input, command, () => cpuSeconds(pid), () => rssMiB(pid, 'VmHWM')), memory: memory.peak() };
  } finally {
    memory.stop();
  }
}

/**
 * Asks the sidecar for its memory (Metrics) every 250 ms and reads /proc right after each answer, so that heap and
 * Buffer memory and RSS describe the same moment; keeps the sample of highest RSS (VmHWM may peak between samples).
 */
async function sampleSidecarMemory(sidecar: Sidecar, definition: Buffer): Promise<{ peak(): LoadMemory | undefined; stop(): void }> {
  const pid = sidecar.proc.pid as number;
  const client = await CnpgiClient.connect(`unix://${sidecar.socket}`);
  let best: LoadMemory | undefined;
  let bestRss = 0;
  let stopped = false;
  const loop = async (): Promise<void> => {
    while (!stopped) {
      const r = await client.call('Metrics', 'Collect', { cluster_definition: definition }).catch(() => undefined);
      if (r) {
        const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
        const kb = (f: string): number => Number(new RegExp(`^${f}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024;
        const get = (kind: string): number => (r.metrics.find((m) => m.fq_name.endsWith('_sidecar_memory_bytes') && m.variable_labels[0] === kind)?.value ?? NaN) / (1024 * 1024);
        if (kb('VmRSS') > bestRss) {
          bestRss = kb('VmRSS');
          best = { rssAnonMiB: kb('RssAnon'), rssFileMiB: kb('RssFile'), heapUsedMiB: get('heap_used'), heapTotalMiB: get('heap_total'), externalMiB: get('external'), arrayBuffersMiB: get('array_buffers') };
        }
      }
      await new Promise((res) => setTimeout(res, 250));
    }
  };
  const running = loop();
  return { peak: () => best, stop: () => { stopped = true; void running.finally(() => client.close()); } };
}

/**
 * The bulk-insert pgbench load with `archiveCommand`: segments generated and archived per minute (PostgreSQL's
 * pg_stat_archiver), the largest `.ready` backlog, the drain after the load, the archiver's CPU and peak RSS.
 * `pending` adds what the archiver has taken from PostgreSQL but not stored yet (the physical-limit loop).
 */
async function runLoad(input: LoadEnv, archiveCommand: string, cpu: () => number, peakRss: () => number,
  archiver?: { archived(): number; pending(): number }): Promise<PluginLoad> {
  const { pg } = input;
  const previous = (await pg.query<{ c: string }>('show archive_command'))[0]?.c ?? '';
  const readyDir = path.join(pg.dataDir, 'pg_wal', 'archive_status');
  const countReady = (): number => fs.readdirSync(readyDir).filter((f) => f.endsWith('.ready')).length;
  const backlog = (): number => countReady() + (archiver?.pending() ?? 0);
  await pg.waitFor('backlog empty before the load', async () => countReady() === 0, 300_000);
  await setArchiveCommand(pg, archiveCommand);
  try {
    await pg.query('create database plugin_load').catch(() => undefined);
    await psql(pg, 'plugin_load', 'create table if not exists load_rows (id int, payload text)');
    const script = path.join(input.tmp, 'plugin-bulk-insert.sql');
    fs.writeFileSync(script, 'insert into load_rows select g, repeat(md5(random()::text), 6) from generate_series(1, 1500) g;\n');
    const segSize = Number((await pg.query<{ s: string }>("select setting as s from pg_settings where name = 'wal_segment_size'"))[0]?.s);
    const lsn = async (): Promise<bigint> => BigInt((await pg.query<{ l: string }>("select (pg_current_wal_lsn() - '0/0')::text as l"))[0]?.l ?? '0');
    const pgArchived = async (): Promise<number> => Number((await pg.query<{ n: string }>('select archived_count::text as n from pg_stat_archiver'))[0]?.n ?? 0);
    const archived = async (): Promise<number> => (archiver ? archiver.archived() : pgArchived());
    // archive_command's processes are the archiver's children: their CPU is its cutime + cstime once each has exited.
    const archiverPid = Number((await pg.query<{ p: string }>("select pid::text as p from pg_stat_activity where backend_type = 'archiver'"))[0]?.p);
    const clientCpu = (): number => childCpuSeconds(archiverPid);
    const [lsn0, arch0, cpu0, client0, pgArch0] = [await lsn(), await archived(), cpu(), clientCpu(), await pgArchived()];
    let maxBacklog = 0;
    // A failed load (e.g. a full disk) must not leave the sampler reading a data directory that is gone.
    const sampler = setInterval(() => { try { maxBacklog = Math.max(maxBacklog, backlog()); } catch { /* read again next tick */ } }, 250);
    const t0 = Date.now();
    try {
      await pgbench(pg, ['-n', '-c', '4', '-j', '2', '-T', String(input.loadSeconds), '-f', script, 'plugin_load']);
    } finally {
      clearInterval(sampler);
    }
    const loadSeconds = (Date.now() - t0) / 1000;
    const [lsn1, arch1] = [await lsn(), await archived()];
    const t1 = Date.now();
    const cpuLoad = cpu() - cpu0;
    await pg.waitFor('backlog drained', async () => backlog() === 0, 600_000).catch(() => undefined);
    const drainSeconds = (Date.now() - t1) / 1000;
    const archivedSegments = (await archived()) - arch0;
    const cpuAll = cpu() - cpu0;
    const commands = (await pgArchived()) - pgArch0;
    await psql(pg, 'plugin_load', 'truncate load_rows');
    const perMinute = (n: number): number => (n * 60) / loadSeconds;
    return {
      loadSeconds, generatedPerMinute: perMinute(Number((lsn1 - lsn0) / BigInt(segSize))), archivedPerMinute: perMinute(arch1 - arch0),
      maxBacklog, drainSeconds, sidecarCpuSeconds: cpuLoad, sidecarPeakRssMiB: peakRss(),
      archivedSegments, sidecarCpuMsPerSegment: archivedSegments > 0 ? (cpuAll * 1000) / archivedSegments : NaN,
      clientCpuMsPerSegment: commands > 0 ? ((clientCpu() - client0) * 1000) / commands : NaN,
    };
  } finally {
    await setArchiveCommand(pg, previous);
  }
}

/**
 * The physical limit under the same load: PostgreSQL's archive_command only copies each segment aside, and a bare
 * loop in this process PUTs the copies to the same store, `concurrency` at a time (the file read whole, one plain
 * PUT, nothing else: no checks, no read-back, no gRPC). What it archives per minute while the load runs is what
 * the store and the machine allow at that concurrency; the backlog counts `.ready` files and copies not yet stored.
 * CPU is this process's (the loop; the copy is PostgreSQL's archiver's). `safe`: each upload does the plugin's
 * safety work the plainest way instead (uploadWithSafetyWork: MD5, create-only put, and where the store ignores
 * create-only writes the look before, the stat, the settle wait and the whole read-back).
 */
export async function floorUnderLoad(input: LoadEnv, store: ObjectStore, concurrency: number, work: 'put' | 'safe' = 'put'): Promise<PluginLoad> {
  const stash = path.join(input.tmp, `floor-stash-${Date.now()}`);
  fs.mkdirSync(stash, { recursive: true });
  chownToPostgres(stash);
  const seen = new Set<string>();
  const queue: string[] = [];
  let running = 0;
  let done = 0;
  let failure: Error | undefined;
  const pump = (): void => {
    while (running < concurrency && queue.length > 0) {
      const name = queue.shift() as string;
      running++;
      const file = path.join(stash, name);
      const key = `floor-${path.basename(stash)}/${name}`;
      const upload = work === 'safe' ? uploadWithSafetyWork(store, key, file)
        : fs.promises.readFile(file).then((body) => store.put(key, body, { contentLength: body.length }));
      void upload
        .then(() => fs.promises.rm(file), (err: Error) => { failure ??= err; })
        .finally(() => { running--; done++; pump(); });
    }
  };
  // The copy appears under a temp name and is renamed when complete.
  const watcher = setInterval(() => {
    for (const f of fs.readdirSync(stash)) if (/^[0-9A-F]{24}$/.test(f) && !seen.has(f)) { seen.add(f); queue.push(f); }
    pump();
  }, 20);
  const cpu = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
  try {
    const load = await runLoad(input, `cp %p ${stash}/%f.tmp && mv ${stash}/%f.tmp ${stash}/%f`, cpu, () => NaN,
      { archived: () => done, pending: () => queue.length + running + fs.readdirSync(stash).filter((f) => !seen.has(f) && /^[0-9A-F]{24}$/.test(f)).length });
    if (failure) throw failure;
    return load;
  } finally {
    clearInterval(watcher);
    fs.rmSync(stash, { recursive: true, force: true });
  }
}

async function setArchiveCommand(pg: PostgresServer, command: string): Promise<void> {
  await pg.query(`alter system set archive_command = '${command.replace(/'/g, "''")}'`);
  await pg.query('select pg_reload_conf()');
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-4000); });
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} failed (${code}): ${err}`))));
  });
}

const psql = (pg: PostgresServer, db: string, sql: string): Promise<void> =>
  run('/usr/bin/psql', ['-h', pg.host, '-p', String(pg.port), '-U', 'postgres', '-d', db, '-v', 'ON_ERROR_STOP=1', '-q', '-c', sql]);
const pgbench = (pg: PostgresServer, args: string[]): Promise<void> =>
  run('/usr/lib/postgresql/15/bin/pgbench', ['-h', pg.host, '-p', String(pg.port), '-U', 'postgres', ...args]);

function render(rows: PluginRow[], requests: RequestCount[], loadRows: LoadRow[], input: PluginBenchInput): string {
  const row = (config: string): PluginRow | undefined => rows.find((r) => r.config.startsWith(config));
  const med = (config: string): number => stats(row(config)?.values ?? []).median;
  const cpu = (r: PluginRow | undefined): number => (r?.cpuMs?.length ? r.cpuMs.reduce((a, b) => a + b, 0) / r.cpuMs.length : NaN);
  const floorS3 = med(`upload alone, in-process (floor), ${S3RVER}`);
  const barman = med('one barman-cloud');
  const out: string[] = [];
  out.push('### CNPG-I plugin: WAL archive per 16 MiB segment, no compression (ms/segment; lower is better)', '');
  out.push(`${input.segs.length} segments × ${input.reps} repetitions, every way interleaved in random order per segment; median (min–max). `
    + '÷ floor: against the upload alone on the same store; ÷ safe floor: against the upload with the same safety work (MD5 sent with a create-only put; '
    + 'where the store ignores create-only writes, the look before writing, a stat, the settle wait and the whole read-back, as the plugin does). '
    + 'CPU ms: mean per call of the archiving process (the sidecar from /proc; the bench process for the floors).', '');
  out.push('| how | ms/segment | ÷ floor | ÷ safe floor | CPU ms/call | barman-cloud ÷ this |', '|---|---|---|---|---|---|');
  for (const r of rows) {
    const s = stats(r.values);
    const store = r.config.includes(AZURITE) ? AZURITE : r.config.includes(MOTO) ? MOTO : S3RVER;
    const floor = med(`upload alone, in-process (floor), ${store}`);
    const safe = med(`${SAFE_FLOOR}, ${store}`);
    // barman-cloud on the same store where it has a row there (s3rver's row is the one of the peers' table).
    const peer = store === S3RVER ? barman : med(`${BARMAN_ROW}, ${store}`);
    out.push(`| ${r.config} | ${fmt(s, 0)} | ${(s.median / floor).toFixed(2)}× | ${(s.median / safe).toFixed(2)}× | ${r.cpuMs ? cpu(r).toFixed(0) : '–'} | ${(peer / s.median).toFixed(1)}× |`);
  }
  const ratio = (store: string, floor: string): string => `${(med(`plugin Archive call (warm connection), ${store}`) / med(`${floor}, ${store}`)).toFixed(2)}× wall, `
    + `${(cpu(row(`plugin Archive call (warm connection), ${store}`)) / cpu(row(`${floor}, ${store}`))).toFixed(2)}× CPU`;
  const measured: Array<[string, string]> = [[S3RVER, 's3rver'], ...(row(`plugin Archive call (warm connection), ${AZURITE}`) ? [[AZURITE, 'Azurite'] as [string, string]] : []),
    ...(row(`plugin Archive call (warm connection), ${MOTO}`) ? [[MOTO, 'moto'] as [string, string]] : [])];
  const ratios = (floor: string): string => measured.map(([store, short]) => `${ratio(store, floor)} on ${short}`).join('; ');
  const faster = measured.map(([store, short]) => {
    const peer = store === S3RVER ? barman : med(`${BARMAN_ROW}, ${store}`);
    return Number.isFinite(peer) ? `${(peer / med(`plugin Archive call (warm connection), ${store}`)).toFixed(1)}× on ${short}` : undefined;
  }).filter(Boolean).join(', ');
  out.push('', `Goals: the plugin's Archive call within 1.25× of the floor (now ${ratios('upload alone, in-process (floor)')}; against the upload with the same safety work `
    + `${ratios(SAFE_FLOOR)}), at least 4× faster than one barman-cloud process (now ${faster}). `
    + `Floor on s3rver: ${floorS3.toFixed(0)} ms.`, '');
  if (requests.length > 0) {
    out.push('Store requests per call (counted by a proxy in front of the store, in a pass of their own):', '', '| call | requests per call |', '|---|---|');
    for (const r of requests) {
      const total = Object.values(r.perCall).reduce((a, b) => a + b, 0);
      out.push(`| ${r.config} | ${total.toFixed(1)}: ${Object.entries(r.perCall).map(([k, v]) => `${k} ${Number(v.toFixed(2))}`).join(', ')} |`);
    }
    out.push('');
  }
  if (loadRows.length > 0) {
    const seconds = loadRows[0]?.load.loadSeconds ?? 0;
    out.push(`### CNPG-I plugin under the bulk-insert pgbench load (${seconds.toFixed(0)} s; wal.maxParallel ${LOAD_MAX_PARALLEL}; archive_command: a CNPG-I client process per segment → the sidecar)`, '');
    out.push('| store | how | segments generated / min | archived / min | max backlog | drain after load | CPU s (load) | CPU ms / archived segment (load + drain) | archive_command CPU ms / segment | peak RSS (anon + file; V8 heap, Buffers) |',
      '|---|---|---|---|---|---|---|---|---|---|');
    for (const r of loadRows) {
      const l = r.load;
      const m = l.memory;
      const rss = r.how === SIDECAR_UNDER_LOAD ? `${l.sidecarPeakRssMiB.toFixed(0)} MiB${m ? ` (${m.rssAnonMiB.toFixed(0)} + ${m.rssFileMiB.toFixed(0)}; ${m.heapTotalMiB.toFixed(0)}, ${m.externalMiB.toFixed(0)})` : ''}` : '–';
      out.push(`| ${r.store} | ${r.how} | ${l.generatedPerMinute.toFixed(0)} | ${l.archivedPerMinute.toFixed(0)} | ${l.maxBacklog} | ${l.drainSeconds.toFixed(1)} s | ${l.sidecarCpuSeconds.toFixed(1)} | `
        + `${l.sidecarCpuMsPerSegment.toFixed(0)} (${l.archivedSegments} segments) | ${l.clientCpuMsPerSegment.toFixed(0)} | ${rss} |`);
    }
    out.push('', (loadRows[0]?.client === 'manager'
      ? 'The archive_command is CloudNativePG\'s own `manager wal-archive` v1.30.0, PostgreSQL in a network namespace of the bench\'s own (test/plugin/cnpg-pod.ts), as in a pod. '
      : 'The archive_command client is test/plugin/wal-client.ts (a Node process speaking gRPC over node:http2, no grpc-js); CloudNativePG\'s Go manager plays this part in a pod (not installed or no network namespaces here). ')
      + `The loops run in the bench process under the same load, ${LOAD_MAX_PARALLEL} uploads at once: PostgreSQL's archive_command only copies each segment aside and the loop uploads the copies `
      + '(bare: the file read whole and one PUT; safety work: MD5, create-only put and, on s3rver, the look before, the stat, the settle wait and the whole read-back); '
      + 'their backlog counts `.ready` files and copies not yet stored, their CPU is the bench process\'s. Where the bare loop keeps up and the sidecar does not, pgstow is the limit, not the store or the machine. '
      + 'CPU per archived segment reads independently of the machine\'s load; archive_command CPU is that of PostgreSQL\'s archiver\'s child processes (the client, or cp for the loops). '
      + `The ceiling row replaces the sidecar by a stub that answers Archive at once and stores nothing (bench/lib/instant-plugin.ts): what CloudNativePG's process per segment allows on this machine, whatever the plugin. `
      + 'bench/plugin-load.ts runs the same load for A/B work. Goals: backlog bounded (drains), RSS ≤ 100 MiB.', '');
  }
  return out.join('\n');
}

void PLUGIN;
