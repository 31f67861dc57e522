/**
 * restore_command latency for one 16 MiB WAL segment, three ways:
 *   process       one `pgstow wal-restore` process per segment, as PostgreSQL's restore_command runs it;
 *   process, -4   the same with --max-parallel 4: a call also prefetches the next 3 segments into the spool,
 *                 the calls it prefetched for are served from there (sequential replay);
 *   in-process    one long-lived process restoring through the engine (openEngine().restoreWal), as the CNPG
 *                 plugin's sidecar serves the instance's restore_command (the default memory budget with its
 *                 GC pacer, as the sidecar runs); the first call (which loads the store's SDK) is reported apart.
 * Wall ms per segment and CPU ms (user + sys of the process, thread pool included) per segment; segments are
 * synthetic but valid (test/harness/wal-segments.ts), on s3rver and Azurite (127.0.0.1). Run on a quiet
 * machine for absolute numbers; on a shared one compare the rows of the same run.
 *   npm run build && node dist/bench/wal-restore-latency.js [--segments 8] [--reps 2] [--only s3rver,azurite] [--codecs none,zstd]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { timed, stats, fmt } from './lib/measure.js';
import { binPath } from '../test/harness/cli.js';
import { startGlobalServers } from '../test/harness/global-setup.js';
import { makeTempDir, removeDir } from '../test/harness/tmp.js';
import { syntheticSegment } from '../test/harness/wal-segments.js';
import { nextSegmentName } from '../src/domain/wal/wal-file-name.js';
import { memoryBudget, openEngine, type EngineSettings, type WalCompression } from '../src/engine/index.js';
import { pacedBudget } from '../src/gc-pacer.js';

const SEGMENT = 16 * 1024 * 1024;
const { values } = parseArgs({
  options: {
    segments: { type: 'string', default: '8' }, reps: { type: 'string', default: '2' },
    only: { type: 'string', default: 's3rver,azurite' }, codecs: { type: 'string', default: 'none,zstd' },
  },
});
const segmentCount = Number(values.segments);
const reps = Number(values.reps);
const codecs = (values.codecs as string).split(',') as Array<WalCompression | 'none'>;

interface Target { name: string; cli: { url: string; args: string[]; env: Record<string, string> }; engine: Omit<EngineSettings, 'serverName'> }
interface Sample { wallMs: number; cpuMs: number }

function segmentNames(): string[] {
  const names = ['000000010000000000000010'];
  while (names.length < segmentCount) names.push(nextSegmentName(names[names.length - 1] as string, SEGMENT));
  return names;
}

async function archiveAll(target: Target, server: string, codec: WalCompression | 'none', dir: string, names: string[]): Promise<void> {
  const engine = await openEngine({ ...target.engine, serverName: server, ...(codec === 'none' ? {} : { wal: { compression: codec } }) });
  try {
    for (const [i, name] of names.entries()) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, syntheticSegment(name, { segmentSize: SEGMENT, seed: i + 1 }));
      await engine.archiveWal(file);
      fs.rmSync(file);
    }
  } finally {
    await engine.close();
  }
}

async function perProcess(target: Target, server: string, names: string[], out: string, extra: string[]): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (const name of names) {
    const dest = path.join(out, name);
    const r = await timed(process.execPath, [binPath('pgstow'), 'wal-restore', ...extra, ...target.cli.args, target.cli.url, server, name, dest], { env: target.cli.env });
    samples.push({ wallMs: r.wallSeconds * 1000, cpuMs: r.cpuSeconds * 1000 });
    fs.rmSync(dest);
  }
  return samples;
}

async function inProcess(target: Target, server: string, names: string[], out: string): Promise<{ first: Sample; rest: Sample[] }> {
  const { budget: memory, stop } = pacedBudget(memoryBudget());
  const engine = await openEngine({ ...target.engine, serverName: server }, { memory });
  try {
    const samples: Sample[] = [];
    for (const name of names) {
      const dest = path.join(out, name);
      const cpu = process.cpuUsage();
      const t0 = performance.now();
      await engine.restoreWal(name, dest);
      const used = process.cpuUsage(cpu);
      samples.push({ wallMs: performance.now() - t0, cpuMs: (used.user + used.system) / 1000 });
      fs.rmSync(dest);
    }
    return { first: samples[0] as Sample, rest: samples.slice(1) };
  } finally {
    await engine.close();
    stop();
  }
}

function targetsFrom(servers: Awaited<ReturnType<typeof startGlobalServers>>): Target[] {
  const s = servers.env.servers;
  const only = new Set((values.only as string).split(','));
  const targets: Target[] = [];
  if (s.s3rver && only.has('s3rver')) {
    const { endpoint, accessKeyId, secretAccessKey, region } = s.s3rver;
    targets.push({
      name: 's3rver',
      cli: { url: 's3://pgstow-test/wal-latency', args: ['--cloud-provider', 'aws-s3', '--endpoint-url', endpoint], env: { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_DEFAULT_REGION: region } },
      engine: { destination: 's3://pgstow-test/wal-latency', provider: 'aws-s3', endpointUrl: endpoint, s3: { region }, credentials: { kind: 's3-access-key', accessKeyId, secretAccessKey } },
    });
  }
  if (s.azurite && only.has('azurite')) {
    const url = `${s.azurite.accountUrl}/pgstow-test/wal-latency`;
    targets.push({
      name: 'azurite',
      cli: { url, args: ['--cloud-provider', 'azure-blob-storage'], env: { AZURE_STORAGE_CONNECTION_STRING: s.azurite.connectionString } },
      engine: { destination: url, provider: 'azure-blob-storage', credentials: { kind: 'azure-connection-string', connectionString: s.azurite.connectionString } },
    });
  }
  return targets;
}

function row(store: string, codec: string, mode: string, samples: Sample[]): string {
  return `| ${store} | ${codec} | ${mode} | ${fmt(stats(samples.map((x) => x.wallMs)), 0)} | ${fmt(stats(samples.map((x) => x.cpuMs)), 0)} |`;
}

async function main(): Promise<void> {
  const dir = makeTempDir('perf-wal-latency');
  const servers = await startGlobalServers(['s3rver', 'azurite']);
  const lines = ['| store | codec | how | wall ms / segment | CPU ms / segment |', '|---|---|---|---|---|'];
  try {
    const names = segmentNames();
    const out = path.join(dir, 'out');
    fs.mkdirSync(out);
    for (const target of targetsFrom(servers)) {
      for (const codec of codecs) {
        const server = `latency-${codec}`;
        await archiveAll(target, server, codec, dir, names);
        const modes: Record<string, Sample[]> = { process: [], 'process, --max-parallel 4': [], 'in-process (engine), first call': [], 'in-process (engine)': [] };
        for (let rep = 0; rep < reps; rep++) {
          modes.process?.push(...await perProcess(target, server, names, out, []));
          const spool = path.join(dir, `spool-${rep}`);
          modes['process, --max-parallel 4']?.push(...await perProcess(target, server, names, out, ['--max-parallel', '4', '--spool-dir', spool]));
          removeDir(spool);
          const r = await inProcess(target, server, names, out);
          modes['in-process (engine), first call']?.push(r.first);
          modes['in-process (engine)']?.push(...r.rest);
        }
        for (const [mode, samples] of Object.entries(modes)) lines.push(row(target.name, codec, mode, samples));
        process.stderr.write(`${target.name} ${codec} done\n`);
      }
    }
    process.stdout.write(`Node ${process.version}, ${segmentCount} segments × ${reps} repetitions, median (min–max)\n\n${lines.join('\n')}\n`);
  } finally {
    await servers.stop();
    removeDir(dir);
  }
}

await main();
