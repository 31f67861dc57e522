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
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { PostgresServer } from '../test/harness/postgres.js';
import type { S3ServerInfo } from '../test/harness/test-env.js';
import { startFakeKubernetesApi, type FakeKubernetesApi } from '../test/harness/fake-kubernetes-api.js';
import { chownToPostgres } from '../test/harness/tmp.js';
import { clusterJson, PLUGIN } from '../test/plugin/cnpg-fixtures.js';
import { cnpgCall, startSidecar, WAL_CLIENT, type Sidecar } from '../test/plugin/cnpg-harness.js';
import { CnpgiClient } from '../src/plugin/protocol/client.js';
import { OBJECT_STORE_GROUP } from '../src/plugin/kube/kube-api.js';
import { openStoreFromEnv as openStore } from '../test/harness/store-options.js';
import { SIDECAR_MALLOC_ENV } from '../src/plugin/instance/memory.js';
import { fmt, stats } from './lib/measure.js';
import { archiveWal, type PgbackrestConfig, type StoreEndpoint } from './lib/tools.js';

export interface PluginBenchInput {
  pg: PostgresServer;
  s3: S3ServerInfo;
  tmp: string;
  /** Staged 16 MiB segments readable by every tool. */
  segs: readonly string[];
  reps: number;
  loadSeconds: number;
  s3rver: (prefix: string) => StoreEndpoint;
  pgbr: () => PgbackrestConfig;
}

export interface PluginRow { config: string; values: number[] }

export interface PluginLoad {
  loadSeconds: number;
  generatedPerMinute: number;
  archivedPerMinute: number;
  maxBacklog: number;
  drainSeconds: number;
  sidecarCpuSeconds: number;
  sidecarPeakRssMiB: number;
}

export interface PluginBenchResult { rows: PluginRow[]; load: PluginLoad | undefined; markdown: string }

const NAMESPACE = 'default';

/** The loopback Kubernetes API with the ObjectStore and Secret, and the sidecar, for one bench run. */
export async function startPluginWorld(tmp: string, s3: S3ServerInfo, pgdata: string, extraEnv: Record<string, string> = {}, memorySettings = true): Promise<{ api: FakeKubernetesApi; sidecar: Sidecar; close(): Promise<void> }> {
  const dir = path.join(tmp, 'plugin-world');
  fs.mkdirSync(dir, { recursive: true });
  const api = await startFakeKubernetesApi(path.join(dir, 'kube'));
  api.setSecret(NAMESPACE, 'creds', { ID: s3.accessKeyId, KEY: s3.secretAccessKey, REGION: s3.region });
  api.putObject(OBJECT_STORE_GROUP, 'objectstores', {
    apiVersion: 'barmancloud.cnpg.io/v1', kind: 'ObjectStore', metadata: { name: 'bench-store', namespace: NAMESPACE },
    spec: { configuration: {
      destinationPath: 's3://pgstow-test/plugin-bench', endpointURL: s3.endpoint,
      s3Credentials: { accessKeyId: { name: 'creds', key: 'ID' }, secretAccessKey: { name: 'creds', key: 'KEY' }, region: { name: 'creds', key: 'REGION' } },
    } },
  });
  // The load runs against a store configured as for a busy primary: archive-ahead of up to 7 ready files.
  api.putObject(OBJECT_STORE_GROUP, 'objectstores', {
    apiVersion: 'barmancloud.cnpg.io/v1', kind: 'ObjectStore', metadata: { name: 'bench-store-parallel', namespace: NAMESPACE },
    spec: { configuration: { ...((api.getObject(OBJECT_STORE_GROUP, 'objectstores', NAMESPACE, 'bench-store')?.spec as { configuration: Record<string, unknown> }).configuration), wal: { maxParallel: 8 } } },
  });
  chownToPostgres(dir);
  const sidecar = await startSidecar({
    mode: 'instance', pluginPath: path.join(dir, 'plugins'), logLevel: 'warning',
    env: { KUBECONFIG: api.kubeconfig, NAMESPACE, CLUSTER_NAME: 'cluster-example', POD_NAME: 'cluster-example-1', PGDATA: pgdata,
      SPOOL_DIRECTORY: path.join(dir, 'spool'), TMPDIR: dir, PGSTOW_MAINTENANCE_DELAY_SECONDS: '86400', ...(memorySettings ? SIDECAR_MALLOC_ENV : {}), ...extraEnv },
  });
  return { api, sidecar, close: async () => { await sidecar.stop(); await api.close(); } };
}

const cluster = (serverName: string, store = 'bench-store'): Buffer => clusterJson({ plugin: { barmanObjectName: store, serverName }, withoutTypeMeta: true });

export async function runPluginBench(input: PluginBenchInput): Promise<PluginBenchResult> {
  const world = await startPluginWorld(input.tmp, input.s3, input.pg.dataDir);
  try {
    const rows = await perSegment(input, world.sidecar);
    const load = input.loadSeconds > 0 ? await underLoad(input, world.sidecar) : undefined;
    return { rows, load, markdown: render(rows, load, input) };
  } finally {
    await world.close();
  }
}

async function perSegment(input: PluginBenchInput, sidecar: Sidecar): Promise<PluginRow[]> {
  const rows = new Map<string, PluginRow>();
  const add = (config: string, ms: number): void => {
    const r = rows.get(config) ?? { config, values: [] };
    r.values.push(ms);
    rows.set(config, r);
  };
  const warm = await CnpgiClient.connect(`unix://${sidecar.socket}`);
  const floorStore = (await openStore({ provider: 'aws-s3', destinationUrl: 's3://pgstow-test/plugin-bench-floor', endpointUrl: input.s3.endpoint,
    env: { AWS_ACCESS_KEY_ID: input.s3.accessKeyId, AWS_SECRET_ACCESS_KEY: input.s3.secretAccessKey }, s3: { region: input.s3.region } })).store;
  try {
    for (let rep = 0; rep < input.reps; rep++) {
      const pgbr = input.pgbr();
      const target = input.s3rver(`bench-plugin-${rep}`);
      for (const seg of input.segs) {
        const name = path.basename(seg);
        const steps: Array<[string, () => Promise<number>]> = [
          ['plugin Archive call (warm connection)', async () => timeMs(() => warm.call('WAL', 'Archive', { cluster_definition: cluster(`warm-${rep}`), source_file_name: seg, parameters: {} }))],
          ['plugin, as CNPG calls it (new connection, LoadPlugin, Probe, Archive)', async () => timeMs(() => cnpgCall(sidecar.socket, 'WAL', 'Archive', { cluster_definition: cluster(`cnpg-${rep}`), source_file_name: seg, parameters: {} }))],
          ['one pgstow wal-archive process (drop-in)', async () => (await archiveWal('pgstow', 'none', target, `dropin-${rep}`, seg)).wallSeconds * 1000],
          ['one barman-cloud-wal-archive process (plugin-barman-cloud per segment)', async () => (await archiveWal('barman-cloud', 'none', target, `barman-${rep}`, seg)).wallSeconds * 1000],
          ['pgBackRest archive-push', async () => (await archiveWal('pgbackrest', 'none', pgbr, 'bench', seg)).wallSeconds * 1000],
          ['upload alone, in-process (floor)', async () => {
            const body = await fs.promises.readFile(seg);
            return timeMs(() => floorStore.put(`r${rep}/${name}`, body, { contentLength: body.length }));
          }],
        ];
        for (const [config, run] of shuffle(steps)) add(config, await run());
      }
    }
  } finally {
    warm.close();
    await floorStore.close();
  }
  return [...rows.values()];
}

async function timeMs(run: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await run();
  return performance.now() - t0;
}

function shuffle<T>(items: readonly T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [a[i], a[j]] = [a[j] as T, a[i] as T]; }
  return a;
}

/** utime + stime of a process, seconds. */
function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export function rssMiB(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function underLoad(input: PluginBenchInput, sidecar: Sidecar): Promise<PluginLoad> {
  const { pg } = input;
  const pid = sidecar.proc.pid as number;
  const clusterFile = path.join(input.tmp, 'plugin-world', 'load-cluster.json');
  fs.writeFileSync(clusterFile, cluster('load', 'bench-store-parallel'));
  chownToPostgres(clusterFile);
  const previous = (await pg.query<{ c: string }>('show archive_command'))[0]?.c ?? '';
  const readyDir = path.join(pg.dataDir, 'pg_wal', 'archive_status');
  const countReady = (): number => fs.readdirSync(readyDir).filter((f) => f.endsWith('.ready')).length;
  await pg.waitFor('backlog empty before the load', async () => countReady() === 0, 300_000);
  await setArchiveCommand(pg, `${process.execPath} ${WAL_CLIENT} archive ${sidecar.socket} ${clusterFile} %p`);
  try {
    await pg.query('create database plugin_load').catch(() => undefined);
    await psql(pg, 'plugin_load', 'create table if not exists load_rows (id int, payload text)');
    const script = path.join(input.tmp, 'plugin-bulk-insert.sql');
    fs.writeFileSync(script, 'insert into load_rows select g, repeat(md5(random()::text), 6) from generate_series(1, 1500) g;\n');
    const segSize = Number((await pg.query<{ s: string }>("select setting as s from pg_settings where name = 'wal_segment_size'"))[0]?.s);
    const lsn = async (): Promise<bigint> => BigInt((await pg.query<{ l: string }>("select (pg_current_wal_lsn() - '0/0')::text as l"))[0]?.l ?? '0');
    const archived = async (): Promise<number> => Number((await pg.query<{ n: string }>('select archived_count::text as n from pg_stat_archiver'))[0]?.n ?? 0);
    const [lsn0, arch0, cpu0] = [await lsn(), await archived(), cpuSeconds(pid)];
    let maxBacklog = 0;
    const sampler = setInterval(() => { maxBacklog = Math.max(maxBacklog, countReady()); }, 250);
    const t0 = Date.now();
    await pgbench(pg, ['-n', '-c', '4', '-j', '2', '-T', String(input.loadSeconds), '-f', script, 'plugin_load']);
    const loadSeconds = (Date.now() - t0) / 1000;
    clearInterval(sampler);
    const [lsn1, arch1] = [await lsn(), await archived()];
    const t1 = Date.now();
    await pg.waitFor('backlog drained', async () => countReady() === 0, 600_000).catch(() => undefined);
    const drainSeconds = (Date.now() - t1) / 1000;
    await psql(pg, 'plugin_load', 'truncate load_rows');
    const perMinute = (n: number): number => (n * 60) / loadSeconds;
    return {
      loadSeconds, generatedPerMinute: perMinute(Number((lsn1 - lsn0) / BigInt(segSize))), archivedPerMinute: perMinute(arch1 - arch0),
      maxBacklog, drainSeconds, sidecarCpuSeconds: cpuSeconds(pid) - cpu0, sidecarPeakRssMiB: rssMiB(pid, 'VmHWM'),
    };
  } finally {
    await setArchiveCommand(pg, previous);
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
  run('/usr/bin/psql', ['-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', '-d', db, '-v', 'ON_ERROR_STOP=1', '-q', '-c', sql]);
const pgbench = (pg: PostgresServer, args: string[]): Promise<void> =>
  run('/usr/lib/postgresql/15/bin/pgbench', ['-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', ...args]);

function render(rows: PluginRow[], load: PluginLoad | undefined, input: PluginBenchInput): string {
  const med = (config: string): number => stats(rows.find((r) => r.config.startsWith(config))?.values ?? []).median;
  const floor = med('upload alone');
  const plugin = med('plugin Archive call');
  const out: string[] = [];
  out.push(`### CNPG-I plugin: WAL archive per 16 MiB segment, s3rver, no compression (ms/segment; lower is better)`, '');
  out.push(`${input.segs.length} segments × ${input.reps} repetitions, the six ways interleaved in random order per segment; median (min–max).`, '');
  out.push('| how | ms/segment | ÷ floor | barman-cloud ÷ this |', '|---|---|---|---|');
  const barman = med('one barman-cloud');
  for (const r of rows) {
    const s = stats(r.values);
    out.push(`| ${r.config} | ${fmt(s, 0)} | ${(s.median / floor).toFixed(2)}× | ${(barman / s.median).toFixed(1)}× |`);
  }
  out.push('', `Goals: the plugin's Archive call within 1.25× of the floor (now ${(plugin / floor).toFixed(2)}×), at least 4× faster than one barman-cloud process (now ${(barman / plugin).toFixed(1)}×).`, '');
  if (load) {
    out.push(`### CNPG-I plugin under the bulk-insert pgbench load (${load.loadSeconds.toFixed(0)} s; wal.maxParallel 8; archive_command: a CNPG-I client process per segment → the sidecar)`, '');
    out.push('| segments generated / min | archived / min | max .ready backlog | drain after load | sidecar CPU s | sidecar peak RSS |', '|---|---|---|---|---|---|');
    out.push(`| ${load.generatedPerMinute.toFixed(0)} | ${load.archivedPerMinute.toFixed(0)} | ${load.maxBacklog} | ${load.drainSeconds.toFixed(1)} s | ${load.sidecarCpuSeconds.toFixed(1)} | ${load.sidecarPeakRssMiB.toFixed(0)} MiB |`, '');
    out.push(`The archive_command client is test/plugin/wal-client.ts (a Node process speaking gRPC over node:http2, no grpc-js); CloudNativePG's Go manager plays this part in a pod. Goals: backlog bounded (drains), RSS ≤ 100 MiB.`, '');
  }
  return out.join('\n');
}

void PLUGIN;
