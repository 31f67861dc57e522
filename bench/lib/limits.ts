/**
 * "Physical limit" rows: how fast this machine reads the data directory, how fast the store server accepts
 * and serves bytes through a plain SDK call, and how fast each codec runs alone on the same bytes. They show
 * how close each tool gets to what the hardware and the server allow.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3ServerInfo } from '../../test/harness/test-env.js';
import { TEST_BUCKET } from '../../test/harness/stores.js';
import * as os from 'node:os';
import { stats, type Stats } from './measure.js';
import { getCodec } from '../../src/pipeline/codecs.js';
import { createTarCompressor } from '../../src/pipeline/backup-compression.js';
import { TaskLimiter } from '../../src/pipeline/task-limiter.js';
import type { BackupCompression } from '../../src/domain/backup/backup-manifest.js';
import { downloadLimitRuns } from '../download-limit.js';

export interface LimitRow { what: string; mbPerSecond: Stats }

const MiB = 1024 * 1024;

function files(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...files(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

async function timeIt(fn: () => Promise<number>, reps: number): Promise<Stats> {
  const v: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    const bytes = await fn();
    v.push(bytes / 1e6 / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  return stats(v);
}

export async function measureLimits(ctx: { dataDir: string; s3: S3ServerInfo; tmp: string; quick: boolean; codecs: readonly string[] }): Promise<LimitRow[]> {
  const rows: LimitRow[] = [];
  const reps = ctx.quick ? 1 : 3;
  const all = files(ctx.dataDir);
  rows.push({ what: 'read the data directory (page cache warm)', mbPerSecond: await timeIt(async () => {
    let n = 0;
    for (const f of all) { try { for await (const c of fs.createReadStream(f)) n += (c as Buffer).length; } catch { /* vanished */ } }
    return n;
  }, reps) });

  // A sample of real database bytes for the codec rows.
  const sampleSize = (ctx.quick ? 64 : 256) * MiB;
  const chunks: Buffer[] = [];
  let have = 0;
  for (const f of all.filter((x) => x.includes(`${path.sep}base${path.sep}`))) {
    if (have >= sampleSize) break;
    try { const b = fs.readFileSync(f); chunks.push(b); have += b.length; } catch { /* skip */ }
  }
  const sample = Buffer.concat(chunks).subarray(0, sampleSize);
  const codecRow = async (name: string, make: () => NodeJS.ReadWriteStream): Promise<void> => {
    rows.push({ what: `codec alone: ${name} (${(sample.length / MiB).toFixed(0)} MiB of table data)`, mbPerSecond: await timeIt(async () => {
      // Discard the output: only the codec's own speed is measured.
      const counter = new Writable({ write(_c: Buffer, _e, cb) { cb(); } });
      await pipeline(Readable.from([sample]), make(), counter);
      return sample.length;
    }, reps) });
  };
  await codecRow('gzip level 6 (zlib), one core', () => zlib.createGzip({ level: 6 }));
  await codecRow('gzip level 1 (zlib), one core', () => zlib.createGzip({ level: 1 }));
  for (const n of ['lz4', 'zstd']) await codecRow(`${n} (pgstow codec), one stream`, () => getCodec(n).createCompressor() as unknown as NodeJS.ReadWriteStream);
  // What parallel compression can reach on this machine: pgstow's block compressor on every core, no I/O.
  const cores = os.cpus().length;
  for (const n of ctx.codecs.filter((c) => c !== 'none')) {
    await codecRow(`${n} (pgstow backup compressor) on ${cores} cores`, () => createTarCompressor(n as BackupCompression, undefined, { limiter: new TaskLimiter(cores) }) as unknown as NodeJS.ReadWriteStream);
  }

  // The store's own speed with a plain SDK call (lib-storage Upload, 8 MiB parts, 4 at once).
  const { S3Client, GetObjectCommand } = await import('@aws-sdk/client-s3');
  const { Upload } = await import('@aws-sdk/lib-storage');
  const client = new S3Client({ region: ctx.s3.region, endpoint: ctx.s3.endpoint, forcePathStyle: true,
    credentials: { accessKeyId: ctx.s3.accessKeyId, secretAccessKey: ctx.s3.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  const objSize = (ctx.quick ? 64 : 256) * MiB;
  const body = Buffer.alloc(objSize, 7);
  rows.push({ what: `s3rver upload, plain SDK (${objSize / MiB} MiB, 8 MiB parts × 4)`, mbPerSecond: await timeIt(async () => {
    await new Upload({ client, params: { Bucket: TEST_BUCKET, Key: 'bench-limit/obj', Body: Readable.from([body]) }, partSize: 8 * MiB, queueSize: 4 }).done();
    return objSize;
  }, reps) });
  rows.push({ what: `s3rver download through the SDK, one stream (${objSize / MiB} MiB)`, mbPerSecond: await timeIt(async () => {
    const r = await client.send(new GetObjectCommand({ Bucket: TEST_BUCKET, Key: 'bench-limit/obj' }));
    let n = 0;
    for await (const c of r.Body as Readable) n += (c as Buffer).length;
    return n;
  }, reps) });
  client.destroy();
  rows.push(...await downloadLimitRows(ctx, 'bench-limit/obj', objSize, reps));
  return rows;
}

/**
 * The store's download limit: the clients that cost least (curl, node:http discarding the bytes; one stream, ranged
 * streams, to a file), each a process of its own (bench/download-limit.ts), and their best per repetition. One SDK
 * stream in this process was beaten by Barman's restore (the SDK's CPU is taken from the server on these cores).
 */
async function downloadLimitRows(ctx: { s3: S3ServerInfo; tmp: string }, key: string, size: number, reps: number): Promise<LimitRow[]> {
  const byWhat = new Map<string, number[]>();
  const best: number[] = [];
  for (let i = 0; i < reps; i++) {
    const runs = await downloadLimitRuns(ctx.s3, TEST_BUCKET, key, size, ctx.tmp);
    for (const r of runs) byWhat.set(r.what, [...(byWhat.get(r.what) ?? []), r.mbPerSecond]);
    best.push(Math.max(...runs.map((r) => r.mbPerSecond)));
  }
  return [
    ...[...byWhat].map(([what, v]) => ({ what: `s3rver download: ${what} (${size / MiB} MiB)`, mbPerSecond: stats(v) })),
    { what: `s3rver download limit (best of the download rows in each repetition)`, mbPerSecond: stats(best) },
  ];
}
