/**
 * `npm run build && node dist/bench/plugin-memory.js [--calls 10000] [--segment-mb 1] [--db-mb 1024]`
 * The sidecar's memory as a long-lived process: its RSS sampled over N Archive calls (each a new segment
 * uploaded to s3rver; objects removed every 500 calls to bound the disk), then during a Backup of a database
 * of --db-mb. Flat memory means the RSS after 10,000 calls is where it was after the first thousand, and a
 * backup's peak does not grow with the database. Writes bench/results/plugin-memory-<time>.json and
 * plugin-memory-latest.md. A bench script, never a timed test.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateTls } from '../test/harness/ca.js';
import { startPostgres } from '../test/harness/postgres.js';
import { startS3rver } from '../test/harness/servers/s3rver.js';
import type { S3ServerInfo } from '../test/harness/test-env.js';
import { chownToPostgres, makeTempDir, removeDir } from '../test/harness/tmp.js';
import { backupObject, clusterJson } from '../test/plugin/cnpg-fixtures.js';
import { CnpgiClient } from '../src/plugin/protocol/client.js';
import { formatSegmentName, segmentsPerLog } from '../src/domain/wal/wal-file-name.js';
import { openStoreFromEnv as openStore } from '../test/harness/store-options.js';
import { isCommonPrefix } from '../src/storage/object-store.js';
import { createDataset } from './lib/dataset.js';
import { rssMiB, startPluginWorld } from './plugin-archive.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MiB = 1024 * 1024;

function option(name: string, def: number): number {
  const argv = process.argv.slice(2);
  const i = argv.indexOf(name);
  const v = i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
  return v === undefined ? def : Number(v);
}

interface Sample { calls: number; rssMiB: number; heapUsedMiB?: number; externalMiB?: number; arrayBuffersMiB?: number }

/** The sidecar's own view of its memory (its metrics). */
async function memoryBreakdown(client: CnpgiClient, cluster: Buffer): Promise<{ heapUsedMiB: number; externalMiB: number; arrayBuffersMiB: number }> {
  const metrics = (await client.call('Metrics', 'Collect', { cluster_definition: cluster })).metrics;
  const get = (kind: string): number => (metrics.find((m) => m.fq_name.endsWith('_sidecar_memory_bytes') && m.variable_labels[0] === kind)?.value ?? NaN) / MiB;
  return { heapUsedMiB: get('heap_used'), externalMiB: get('external'), arrayBuffersMiB: get('array_buffers') };
}

async function archiveCalls(socket: string, s3: S3ServerInfo, pgdata: string, calls: number, segmentBytes: number): Promise<{ samples: Sample[]; seconds: number }> {
  const client = await CnpgiClient.connect(`unix://${socket}`);
  const cleanup = (await openStore({ provider: 'aws-s3', destinationUrl: 's3://pgstow-test/plugin-bench', endpointUrl: s3.endpoint,
    env: { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey }, s3: { region: s3.region } })).store;
  const cluster = clusterJson({ plugin: { barmanObjectName: 'bench-store', serverName: 'memory' }, withoutTypeMeta: true });
  const walDir = path.join(pgdata, 'pg_wal');
  const body = Buffer.alloc(segmentBytes);
  for (let i = 0; i < body.length; i += 4) body.writeUInt32LE((i * 2654435761) >>> 0, i);
  const perLog = segmentsPerLog(segmentBytes);
  const samples: Sample[] = [];
  const t0 = Date.now();
  try {
    for (let i = 1; i <= calls; i++) {
      const name = formatSegmentName(1, Math.floor(i / perLog), i % perLog);
      const file = path.join(walDir, name);
      body.writeUInt32LE(i, 0); // every segment differs
      await fs.promises.writeFile(file, body);
      await client.call('WAL', 'Archive', { cluster_definition: cluster, source_file_name: file, parameters: {} });
      await fs.promises.rm(file);
      if (i % 500 === 0 || i === calls) {
        samples.push({ calls: i, rssMiB: rssOf(socket), ...(await memoryBreakdown(client, cluster)) });
        const keys: string[] = [];
        for await (const e of cleanup.list('plugin-bench/memory/wals/')) if (!isCommonPrefix(e)) keys.push(e.key);
        if (keys.length) await cleanup.delete(keys);
        const last = samples.at(-1);
        process.stdout.write(`  ${i} calls, sidecar RSS ${last?.rssMiB.toFixed(1)} MiB (heap ${last?.heapUsedMiB?.toFixed(1)}, external ${last?.externalMiB?.toFixed(1)}, array buffers ${last?.arrayBuffersMiB?.toFixed(1)})\n`);
      }
    }
  } finally {
    client.close();
    await cleanup.close();
  }
  return { samples, seconds: (Date.now() - t0) / 1000 };
}

let sidecarPid = 0;
function rssOf(_socket: string): number {
  return rssMiB(sidecarPid);
}

async function main(): Promise<void> {
  const calls = option('--calls', 10_000);
  const segmentMb = option('--segment-mb', 1);
  const dbMb = option('--db-mb', 1024);
  const tmp = makeTempDir('plugin-memory');
  fs.chmodSync(tmp, 0o755);
  const tls = generateTls(path.join(tmp, 'tls'));
  const s3 = await startS3rver({ tmpDir: path.join(tmp, 's3'), tls });
  const s3Info = s3.servers.s3rver as S3ServerInfo;
  const pg = await startPostgres({ version: 15, label: 'plugin-memory', settings: { checkpoint_timeout: '30min', max_wal_size: '4GB', archive_mode: 'off' } });
  // --default-memory-settings: run the sidecar without the allocator/V8 settings the image sets (to compare).
  const world = await startPluginWorld(tmp, s3Info, pg.dataDir, { PGHOST: pg.socketDir, PGPORT: String(pg.port) }, !process.argv.includes('--default-memory-settings'));
  sidecarPid = world.sidecar.proc.pid as number;
  const lines: string[] = [];
  try {
    const fakeWal = path.join(tmp, 'fake-pgdata');
    fs.mkdirSync(path.join(fakeWal, 'pg_wal'), { recursive: true });
    chownToPostgres(fakeWal);
    const idle = rssMiB(sidecarPid);
    console.log(`sidecar idle RSS ${idle.toFixed(1)} MiB; ${calls} Archive calls of ${segmentMb} MiB segments…`);
    const a = await archiveCalls(world.sidecar.socket, s3Info, fakeWal, calls, segmentMb * MiB);
    console.log(`creating a ${dbMb} MiB database…`);
    const ds = await createDataset(pg, dbMb * MiB);
    const before = rssMiB(sidecarPid);
    let peak = before;
    const sampler = setInterval(() => { peak = Math.max(peak, rssMiB(sidecarPid)); }, 200);
    const client = await CnpgiClient.connect(`unix://${world.sidecar.socket}`);
    const t0 = Date.now();
    const r = await client.call('Backup', 'Backup', {
      cluster_definition: clusterJson({ plugin: { barmanObjectName: 'bench-store', serverName: 'memory-backup' } }),
      backup_definition: Buffer.from(JSON.stringify(backupObject())), parameters: {},
    });
    const backupSeconds = (Date.now() - t0) / 1000;
    clearInterval(sampler);
    client.close();
    const after = rssMiB(sidecarPid);
    const hwm = rssMiB(sidecarPid, 'VmHWM');
    lines.push(`### CNPG-I plugin sidecar memory — ${new Date().toISOString().slice(0, 10)}`, '');
    lines.push(`RSS of the sidecar process (VmRSS, sampled). Idle after start: ${idle.toFixed(1)} MiB.`, '');
    lines.push(`| Archive calls (${segmentMb} MiB segments, one at a time) | sidecar RSS MiB | V8 heap used | external (buffers) |`, '|---|---|---|---|');
    for (const s of a.samples.filter((x, i) => i === 0 || x.calls % 2000 === 0 || x.calls === calls)) lines.push(`| ${s.calls} | ${s.rssMiB.toFixed(1)} | ${s.heapUsedMiB?.toFixed(1)} | ${s.externalMiB?.toFixed(1)} |`);
    const first = a.samples[0]?.rssMiB ?? NaN;
    const last = a.samples.at(-1)?.rssMiB ?? NaN;
    lines.push('', `${calls} calls in ${a.seconds.toFixed(0)} s (${(a.seconds * 1000 / calls).toFixed(1)} ms/call); RSS after the first 500: ${first.toFixed(1)} MiB, after ${calls}: ${last.toFixed(1)} MiB (${(last - first >= 0 ? '+' : '')}${(last - first).toFixed(1)} MiB).`, '');
    lines.push(`| backup of a ${(ds.databaseBytes / MiB).toFixed(0)} MiB database (Backup call, no compression, jobs 2) | MiB |`, '|---|---|');
    lines.push(`| RSS before | ${before.toFixed(1)} |`, `| peak RSS during (sampled every 200 ms) | ${peak.toFixed(1)} |`, `| RSS after | ${after.toFixed(1)} |`, `| VmHWM of the whole run | ${hwm.toFixed(1)} |`);
    lines.push('', `Backup ${r.backup_id}: ${backupSeconds.toFixed(1)} s. Goal: RSS ≤ 100 MiB while archiving; flat over calls; backup peak independent of database size.`, '');
    const md = lines.join('\n');
    console.log(md);
    const dir = path.join(ROOT, 'bench', 'results');
    fs.mkdirSync(dir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    fs.writeFileSync(path.join(dir, `plugin-memory-${stamp}.json`), JSON.stringify({ date: new Date().toISOString(), calls, segmentMb, dbMb, idle, samples: a.samples, archiveSeconds: a.seconds, backup: { before, peak, after, hwm, seconds: backupSeconds, databaseBytes: ds.databaseBytes } }, null, 2));
    fs.writeFileSync(path.join(dir, 'plugin-memory-latest.md'), md);
  } finally {
    await world.close();
    await pg.destroy();
    await s3.stop();
    if (!process.env.PGSTOW_KEEP_TMP) removeDir(tmp);
  }
}

await main();
