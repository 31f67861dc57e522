/**
 * One memory budget for a pgstow process (--max-memory, PGSTOW_MAX_MEMORY; default 100 MiB, what a
 * CloudNativePG sidecar can be given), from which every buffer size and concurrency is derived, so a backup,
 * a restore or WAL archiving each stay within it. Pure: sizes in, sizes out (docs/performance.md, "Memory").
 *
 *   data       = max(MIN_DATA, maxMemory − RUNTIME_RESERVE)      what the operation may add to the runtime
 *   pacing     = clamp(data / 8, 2 MiB, 16 MiB)                  bytes moved between young collections (GcPacer)
 *   buffers    = data − 2 × pacing                               live buffers (freed ones wait for the next
 *                                                                collection: ~2 pacing steps of garbage)
 *   backup     compression 2 × (jobs + 1) × block, upload part buffers × part, per archive at once;
 *              a compressor stream's output chunk = pacing / (16 × jobs) (16 KiB to the block): filled within a
 *              pacing step, so it dies young instead of waiting, promoted, for a full collection;
 *              part buffers = jobs + 1 while they fit (at least 2), parts in flight = min(jobs, part buffers);
 *              part = (upload − 2 MiB of stream queues) / part buffers, at least the store's minimum
 *   restore    per object at once: streams × range + write queue + ~2 MiB decompressor output
 *   WAL        uploads at once: buffers / (1.5 MiB + compressed bytes ≤ segment size), 1 to maxParallel;
 *              downloads (a restore and its prefetches) while their costs fit buffers, at least one:
 *              1.5 MiB each, + 12 MiB for an lz4 or zstd one (decoding)
 * A store's minimum part size (S3: 5 MiB) and its part count limit for very large volumes come first: then an
 * operation may exceed the budget, and planBackup says so (`overBudget`).
 */
import type { BytePacer } from './gc-pacer.js';

export const MiB = 1024 * 1024;
export const DEFAULT_MAX_MEMORY = 100 * MiB;
/**
 * RSS of a pgstow process before any data moves, and what does not scale with the budget (measured for issue
 * 15, /proc/<pid>/status and smaps, Node 24, S3): 52 MB of file-backed pages (the node binary's code and
 * read-only data that http, TLS, zlib, crypto and V8's optimizing compilers touch; bare node touches 36), V8's
 * heap 19-21 MB (pgstow, the bundled SDK), malloc'd and thread memory ~12 MB, the streams' own 256 KiB queues.
 * A restore on S3 is at 83-86 MB when its first download starts.
 */
export const RUNTIME_RESERVE = 84 * MiB;
/** The least the operation gets, however small the budget (one S3 part in flight and one filling). */
export const MIN_DATA = 16 * MiB;
const MAX_PART = 64 * MiB;

export interface MemoryBudget {
  maxBytes: number;
  /** Live buffers of one operation. */
  buffers: number;
  /** Bytes moved between two young-generation collections. */
  pacing: number;
  /** Set by the process owner (CLI, plugin): the data paths report bytes moved to it. */
  pacer?: BytePacer;
}

export function memoryBudget(maxBytes: number = DEFAULT_MAX_MEMORY): MemoryBudget {
  if (!Number.isFinite(maxBytes) || maxBytes <= 0) throw new RangeError(`memory budget must be a positive number of bytes, not ${maxBytes}`);
  const data = Math.max(MIN_DATA, maxBytes - RUNTIME_RESERVE);
  const pacing = Math.min(16 * MiB, Math.max(2 * MiB, Math.floor(data / 8)));
  return { maxBytes, buffers: Math.max(8 * MiB, data - 2 * pacing), pacing };
}

export interface BackupMemoryInput {
  /** Cores for compression and parts in flight (--jobs). */
  jobs: number;
  compressed: boolean;
  /** Archives that may be written at once (1 + tablespaces). */
  archives: number;
  /** The store's smallest and largest part, and its part count limit (S3: 5 MiB, 5 GiB, 10 000). */
  minPart: number;
  maxParts: number;
  /** Expected size of the largest volume (stored bytes), for the part count limit. */
  volumeSizeHint: number;
}

export interface BackupMemoryPlan {
  archivesAtOnce: number;
  compressionBlock: number;
  /** Output buffer of each compressor stream (gzip, zstd), from which a block's compressed pieces are cut. */
  compressionOutputChunk: number;
  /** Upload part size, parts in flight and part buffers (in flight and filling) per archive. */
  partSize: number;
  partsInFlight: number;
  partBuffers: number;
  /** Bytes this plan holds at most. */
  bytes: number;
  /** True when the store's minimum part size or part count forced more than the budget. */
  overBudget: boolean;
}

/**
 * The backup streams' own queues, per archive: the file reads (into a compressor: two 256 KiB buffers of the
 * archive's, reused), the compressor's output and the meter (256 KiB each side), a chunk in hand at each.
 */
export const BACKUP_STREAM_QUEUES = 2 * MiB;

export function planBackup(budget: MemoryBudget, input: BackupMemoryInput): BackupMemoryPlan {
  const jobs = Math.max(1, Math.floor(input.jobs));
  // 1 MiB compression blocks, smaller when they would take more than an eighth of the buffers.
  let block = MiB;
  while (block > 128 * 1024 && 2 * (jobs + 1) * block > budget.buffers / 8) block /= 2;
  const compression = input.compressed ? 2 * (jobs + 1) * block : 0;
  // node:zlib cuts a stream's output from one buffer until it is full. With jobs streams sharing a volume's output
  // and well-compressing pages (~8:1), a buffer lives while jobs × chunk × ~8 bytes are noted to the pacer; at most
  // one pacing step, it survives at most one young collection and dies there. A larger one (256-512 KiB) was promoted
  // and waited for a full collection (every 4 pacing steps of Buffers, at most once a second): 3 MiB of peak RSS
  // for gzip and zstd (measured, issue 15.3).
  const outputChunk = Math.min(block, Math.max(16 * 1024, Math.floor(budget.pacing / (16 * jobs) / (16 * 1024)) * 16 * 1024));
  const partFloor = Math.max(input.minPart, roundUpMiB(Math.ceil(input.volumeSizeHint / input.maxParts)));
  const perArchiveLeast = compression + 2 * partFloor;
  const archivesAtOnce = Math.max(1, Math.min(jobs, input.archives, Math.floor(budget.buffers / perArchiveLeast)));
  const upload = Math.floor(budget.buffers / archivesAtOnce) - compression;
  // One part buffer more than parts in flight (the next fills while they are on the wire), as many as fit;
  // at least two, and then both may be on the wire (a full part does not wait for the other's answer).
  let partBuffers = jobs + 1;
  while (partBuffers > 2 && Math.floor(upload / partBuffers) < partFloor) partBuffers--;
  const partsInFlight = Math.min(jobs, partBuffers);
  // Above the store's minimum, a part grows only into what the streams' own queues leave (measured, issue 15).
  const partSize = Math.min(MAX_PART, Math.max(partFloor, roundDownMiB((upload - BACKUP_STREAM_QUEUES) / partBuffers)));
  const bytes = archivesAtOnce * (compression + partBuffers * partSize);
  return { archivesAtOnce, compressionBlock: block, compressionOutputChunk: outputChunk, partSize, partsInFlight, partBuffers, bytes, overBudget: bytes > budget.buffers };
}

export interface RestoreMemoryPlan {
  objectsAtOnce: number;
  /** Ranged GETs in flight per object and their size. */
  streams: number;
  rangeSize: number;
  /** Bytes handed to the file writers and not yet written, per object. */
  writeBuffer: number;
  bytes: number;
}

const DECOMPRESSOR_OUTPUT = 2 * MiB;

/**
 * A ranged GET in flight costs about three times its range (the range, the socket's partly filled 64 KiB
 * chunks, the request's own objects): 5 × 2 MiB ranges added 28 MB over one streaming GET (measured).
 */
const RANGE_COST = 3;

export function planRestore(budget: MemoryBudget, input: { jobs: number; objects: number }): RestoreMemoryPlan {
  const least = 12 * MiB;
  const objectsAtOnce = Math.max(1, Math.min(Math.floor(input.jobs), input.objects, Math.floor(budget.buffers / least)));
  const perObject = Math.floor(budget.buffers / objectsAtOnce);
  const writeBuffer = clamp(roundDownMiB(perObject / 6), 2 * MiB, 16 * MiB);
  const forRanges = perObject - writeBuffer - DECOMPRESSOR_OUTPUT;
  const rangeSize = clamp(roundDownMiB(forRanges / 4), MiB, 8 * MiB);
  // One stream is a plain streaming GET (it reaches a local store's download limit on its own).
  const streams = clamp(Math.floor(forRanges / (RANGE_COST * rangeSize)), 1, 8);
  const ranges = streams > 1 ? streams * RANGE_COST * rangeSize : 0;
  return { objectsAtOnce, streams, rangeSize, writeBuffer, bytes: objectsAtOnce * (ranges + writeBuffer + DECOMPRESSOR_OUTPUT) };
}

/**
 * What one WAL upload in flight holds besides compressed bytes: the file's 256 KiB read chunks (the stream's queue
 * and the one being written), the request's state and, where the store ignores create-only writes, the read-back's
 * 256 KiB compare window and 64 KiB download chunks (docs/performance.md, "WAL archive-ahead").
 */
export const WAL_UPLOAD_COST = 1.5 * MiB;

/**
 * WAL files an archive call uploads at once (its file and those it archives ahead): each costs WAL_UPLOAD_COST,
 * plus, compressed, its compressed bytes (kept for the read-back and a retry; up to the segment's size when the WAL
 * does not compress). At least 1, at most maxParallel.
 */
export function walFilesAtOnce(budget: MemoryBudget, input: { maxParallel: number; segmentSize: number; compressed?: boolean }): number {
  const perFile = WAL_UPLOAD_COST + (input.compressed === false ? 0 : input.segmentSize);
  return clamp(Math.floor(budget.buffers / perFile), 1, Math.max(1, Math.floor(input.maxParallel)));
}

/** What one WAL download holds besides decoding: the socket's 64 KiB chunks, the file's write queue, the checks. */
export const WAL_DOWNLOAD_COST = 1.5 * MiB;
/**
 * What decoding an lz4 or zstd WAL object adds: pgstow's lz4 frames have 4 MiB blocks (the compressed block
 * gathered, the decoder's window and block, the decoded block), zstd a window of up to the segment's size. One
 * lz4 segment downloaded alone raised peak RSS by 23-25 MB of Buffers; four at once (a prefetch) to 143-159 MB
 * (measured, issue 15). gzip (a 32 KiB window) and uncompressed WAL stream through.
 */
export const WAL_DECODE_COST = 12 * MiB;

/** Bytes one WAL download is counted for, by the codec that decodes it (undefined: none). */
export function walDownloadCost(codec: string | undefined): number {
  return WAL_DOWNLOAD_COST + (codec === 'lz4' || codec === 'zstd' ? WAL_DECODE_COST : 0);
}

/** Smallest part of a multipart upload: S3's 5 MiB; Azure blocks and GCS chunks (256 KiB steps) may be small. */
export function minPartSizeFor(provider: string): number {
  return provider === 's3' ? 5 * MiB : MiB;
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}

function roundDownMiB(n: number): number {
  return Math.max(MiB, Math.floor(n / MiB) * MiB);
}

function roundUpMiB(n: number): number {
  return Math.ceil(n / MiB) * MiB;
}

/**
 * --max-memory / ObjectStore maxMemory: a Kubernetes quantity (100Mi, 1Gi, 512M, 1.5G), optionally with a
 * trailing B (100MiB), or a number of bytes. Ki/Mi/Gi/Ti are binary, k/M/G/T decimal, as in a pod's limits.
 */
export function parseMemorySize(text: string | number): number {
  if (typeof text === 'number') return memoryBudget(text).maxBytes;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([kKMGT])(i?)B?|B?)\s*$/.exec(text);
  if (!m) throw new RangeError(`invalid memory size "${text}" (expected a quantity such as 100Mi, 1Gi, 512M or a number of bytes)`);
  const power = m[2] ? 'KMGT'.indexOf((m[2] as string).toUpperCase()) + 1 : 0;
  const bytes = Math.floor(Number(m[1]) * (m[3] ? 1024 : 1000) ** power);
  return memoryBudget(bytes).maxBytes;
}
