/**
 * `npm run build && node dist/bench/plugin-load.js [--seconds 40] [--reps 2] [--stores s3rver,azurite]
 *   [--sidecars this=dist/src/cli/bin/pgstow.js,other=/path/to/pgstow.js] [--env 'A=1;B=2'] [--floor 8,3] [--max-parallel 8]
 *   [--client manager|node] [--sidecar-logs DIR] [--ceiling=]`
 * The plugin sidecar under the bulk-insert pgbench load alone (the load part of bench/plugin-archive.ts, without the
 * per-segment rows), for A/B work: each repetition runs every sidecar build and the physical-limit loop (a bare
 * in-process PUT loop at each --floor concurrency, same store, same load) in a new random order, on s3rver (ignores
 * create-only writes: every Archive reads its object back) and Azurite (enforces them: no read-back). Prints one
 * row per run and the medians (min–max) per configuration; writes bench/results/plugin-load-<time>.json.
 * archive_command is CloudNativePG's own `manager wal-archive` with PostgreSQL in a pod's network namespace
 * (test/plugin/cnpg-pod.ts; root and scripts/install-cnpg-manager.sh) when it can run here, else, or with
 * --client node, the bench's Node client (test/plugin/wal-client.ts: a Node process per segment).
 * With CloudNativePG's manager, each repetition also runs the ceiling row (--ceiling= leaves it out): the sidecar
 * replaced by bench/lib/instant-plugin.ts, a CNPG-I server that answers Archive with success at once and stores
 * nothing; what it archives a minute is the most CloudNativePG's process per segment allows on this machine,
 * whatever the plugin (on the first store's turn only: no store is involved).
 * --sidecar-logs DIR: each sidecar logs at debug level to DIR/<build>-<store>-<rep>.log (when each WAL upload
 * started and ended: archive-ahead's concurrency over time; the debug lines cost the sidecar some CPU).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateTls } from '../test/harness/ca.js';
import { startPostgres } from '../test/harness/postgres.js';
import { startS3rver } from '../test/harness/servers/s3rver.js';
import { startAzurite } from '../test/harness/servers/azurite.js';
import type { AzuriteInfo, S3ServerInfo } from '../test/harness/test-env.js';
import { chownToPostgres, makeTempDir, removeDir } from '../test/harness/tmp.js';
import { canUseNetns, cnpgManagerInstalled, startCnpgPod, type CnpgPod } from '../test/plugin/cnpg-pod.js';
import type { ObjectStore } from '../src/storage/object-store.js';
import { fmt, stats } from './lib/measure.js';
import { ceilingUnderLoad, CEILING_ROW, dropLoadObjects, floorUnderLoad, LOAD_MAX_PARALLEL, LOAD_PG_SETTINGS, openFloor, startPluginWorld, underLoad, type LoadClient, type LoadMemory, type PluginLoad } from './plugin-archive.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function option(name: string, def: string): string {
  const argv = process.argv.slice(2);
  const i = argv.indexOf(name);
  return (i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1)) ?? def;
}

type StoreName = 's3rver' | 'azurite';
interface Run { config: string; store: StoreName | 'none'; rep: number; load: PluginLoad & { memory?: LoadMemory } }

/** The options this bench knows: anything else (a typo, --help) prints the usage instead of starting a long run. */
const KNOWN = ['--seconds', '--reps', '--stores', '--sidecars', '--env', '--floor', '--max-parallel', '--client', '--sidecar-logs', '--ceiling'];

function usageIfUnknown(): boolean {
  const argv = process.argv.slice(2);
  const unknown = argv.filter((a, i) => a.startsWith('--') && !KNOWN.includes(a.split('=')[0] as string) && !(i > 0 && KNOWN.includes(argv[i - 1] as string)));
  if (unknown.length === 0) return false;
  console.log(`${unknown.includes('--help') || unknown.includes('-h') ? '' : `unknown option ${unknown.join(' ')}\n`}usage: node dist/bench/plugin-load.js `
    + '[--seconds 40] [--reps 2] [--stores s3rver,azurite] [--sidecars this=dist/src/cli/bin/pgstow.js,other=/path/to/pgstow.js] '
    + "[--env 'A=1;B=2'] [--floor 8,8safe] [--max-parallel 8] [--client manager|node] [--sidecar-logs DIR] [--ceiling=]");
  process.exitCode = unknown.includes('--help') ? 0 : 2;
  return true;
}

async function main(): Promise<void> {
  if (usageIfUnknown()) return;
  const seconds = Number(option('--seconds', '40'));
  const reps = Number(option('--reps', '2'));
  const stores = option('--stores', 's3rver,azurite').split(',') as StoreName[];
  const sidecars = option('--sidecars', `this=${path.join(ROOT, 'dist/src/cli/bin/pgstow.js')}`).split(',').map((s) => s.split('=') as [string, string]);
  // --env A=1;B=x y: the sidecar's environment beyond the pod's (values may hold '=' and ',').
  const env = Object.fromEntries(option('--env', '').split(';').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  // "8": a bare PUT loop, 8 at once; "8safe": the same loop doing the plugin's safety work.
  const floors = option('--floor', `${LOAD_MAX_PARALLEL},${LOAD_MAX_PARALLEL}safe`).split(',').filter(Boolean).map((f) => ({ at: parseInt(f, 10), safe: f.endsWith('safe') }));
  const maxParallel = Number(option('--max-parallel', String(LOAD_MAX_PARALLEL)));
  const logDir = option('--sidecar-logs', '');
  if (logDir) fs.mkdirSync(logDir, { recursive: true });
  const clientKind = option('--client', canUseNetns() && cnpgManagerInstalled() ? 'manager' : 'node');
  if (clientKind !== 'manager' && clientKind !== 'node') throw new Error(`--client ${clientKind}: manager or node`);
  const ceiling = clientKind === 'manager' && option('--ceiling', 'yes') !== '';
  const tmp = makeTempDir('plugin-load');
  fs.chmodSync(tmp, 0o755);
  // Each world writes the Cluster it archives with to the pod's file before its load (archiveCommandFor).
  const pod: CnpgPod | undefined = clientKind === 'manager' ? await startCnpgPod(path.join(tmp, 'pod'), '{}') : undefined;
  const client: LoadClient = pod ? { kind: 'manager', pod } : { kind: 'node' };
  const tls = generateTls(path.join(tmp, 'tls'));
  const s3 = await startS3rver({ tmpDir: path.join(tmp, 's3'), tls });
  const az = await startAzurite({ tmpDir: path.join(tmp, 'az'), tls });
  const s3Info = s3.servers.s3rver as S3ServerInfo;
  const azInfo = az.servers.azurite as AzuriteInfo;
  const pg = await startPostgres({ version: 15, label: 'plugin-load', ...(pod ? { netns: pod.ns } : {}), settings: LOAD_PG_SETTINGS });
  const floorStores: Record<StoreName, ObjectStore> = {
    s3rver: await openFloor({ s3: s3Info, azurite: azInfo }, 's3rver'),
    azurite: await openFloor({ s3: s3Info, azurite: azInfo }, 'azurite'),
  };
  const runs: Run[] = [];
  const loadAtStart = os.loadavg().map((n) => n.toFixed(1)).join(' ');
  const print = (r: Run): void => {
    const l = r.load;
    const m = l.memory;
    console.log(`${r.store}\t${r.config}\trep ${r.rep}\tgen/min ${l.generatedPerMinute.toFixed(0)}\tarch/min ${l.archivedPerMinute.toFixed(0)}\tbacklog ${l.maxBacklog}\tdrain ${l.drainSeconds.toFixed(1)} s\t`
      + `CPU ms/seg ${l.sidecarCpuMsPerSegment.toFixed(0)}\tclient CPU ms/seg ${l.clientCpuMsPerSegment.toFixed(0)}\tpeak RSS ${l.sidecarPeakRssMiB.toFixed(0)}${m ? ` (anon ${m.rssAnonMiB.toFixed(0)}, file ${m.rssFileMiB.toFixed(0)}; heap ${m.heapUsedMiB.toFixed(0)}/${m.heapTotalMiB.toFixed(0)}, external ${m.externalMiB.toFixed(0)}, arrayBuffers ${m.arrayBuffersMiB.toFixed(0)})` : ''}`);
  };
  try {
    for (let rep = 0; rep < reps; rep++) {
      for (const store of stores) {
        const steps: Array<() => Promise<void>> = [
          ...sidecars.map(([name, bin]) => async () => {
            const dir = path.join(tmp, `world-${name}-${store}-${rep}`);
            fs.mkdirSync(dir);
            chownToPostgres(dir);
            const world = await startPluginWorld(dir, s3Info, pg.dataDir, env, true, { bin, azurite: azInfo, maxParallel, ...(logDir ? { logLevel: 'debug' } : {}) });
            try {
              const r: Run = { config: `plugin sidecar ${name}`, store, rep, load: await underLoad({ pg, tmp: dir, loadSeconds: seconds }, world.sidecar, store, client) };
              runs.push(r);
              print(r);
            } finally {
              await world.close();
              if (logDir) fs.writeFileSync(path.join(logDir, `${name}-${store}-${rep}.log`), world.sidecar.log);
            }
          }),
          ...(ceiling && store === stores[0] ? [async () => {
            const r: Run = { config: CEILING_ROW, store: 'none', rep, load: await ceilingUnderLoad({ pg, tmp: path.join(tmp, `ceiling-${rep}`), loadSeconds: seconds }, client) };
            runs.push(r);
            print(r);
          }] : []),
          ...floors.map((f) => async () => {
            const config = f.safe ? `loop with the same safety work, ${f.at} at once` : `bare PUT loop, ${f.at} at once (physical limit)`;
            const r: Run = { config, store, rep, load: await floorUnderLoad({ pg, tmp, loadSeconds: seconds }, floorStores[store], f.at, f.safe ? 'safe' : 'put') };
            runs.push(r);
            print(r);
          }),
        ];
        // Each load stores gigabytes: its copies go before the next one, or the runs fill the disk.
        for (const step of shuffle(steps)) { await step(); await dropLoadObjects(floorStores[store]); }
      }
    }
  } finally {
    await Promise.all(Object.values(floorStores).map((s) => s.close()));
    await pg.destroy();
    await pod?.close();
    await s3.stop();
    await az.stop();
    if (!process.env.PGSTOW_KEEP_TMP) removeDir(tmp);
  }
  const out = [`| store | how | generated / min | archived / min | max backlog | drain s | CPU ms / segment | client CPU ms / segment | peak RSS MiB |`, '|---|---|---|---|---|---|---|---|---|'];
  for (const key of [...new Set(runs.map((r) => `${r.store}\t${r.config}`))]) {
    const rs = runs.filter((r) => `${r.store}\t${r.config}` === key);
    const col = (f: (l: PluginLoad) => number, digits = 0): string => fmt(stats(rs.map((r) => f(r.load))), digits);
    const [store, config] = key.split('\t');
    out.push(`| ${store} | ${config} | ${col((l) => l.generatedPerMinute)} | ${col((l) => l.archivedPerMinute)} | ${col((l) => l.maxBacklog)} | ${col((l) => l.drainSeconds, 1)} | ${col((l) => l.sidecarCpuMsPerSegment)} | ${col((l) => l.clientCpuMsPerSegment)} | ${config?.startsWith('plugin') ? col((l) => l.sidecarPeakRssMiB) : '–'} |`);
  }
  const clientText = pod ? 'CloudNativePG manager v1.30.0 wal-archive (PostgreSQL in a network namespace)' : 'the Node client (test/plugin/wal-client.ts)';
  console.log(`\n${seconds} s load, ${reps} repetitions, wal.maxParallel ${maxParallel}, archive_command ${clientText}, env ${JSON.stringify(env)}; median (min–max); `
    + `load average at the start ${loadAtStart}, at the end ${os.loadavg().map((n) => n.toFixed(1)).join(' ')}\n\n${out.join('\n')}`);
  const resultsDir = path.join(ROOT, 'bench', 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.writeFileSync(path.join(resultsDir, `plugin-load-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify({ seconds, reps, env, maxParallel, client: clientKind, sidecars, loadAverage: { start: loadAtStart, end: os.loadavg() }, runs }, null, 2));
}

function shuffle<T>(items: readonly T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [a[i], a[j]] = [a[j] as T, a[i] as T]; }
  return a;
}

main().catch((err: unknown) => { console.error(err); process.exit(1); });
