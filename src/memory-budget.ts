/**
 * One memory budget for a pgstow process (--max-memory, ObjectStore `maxMemory`; default 100 MiB, what a
 * CloudNativePG sidecar can be given), from which every buffer size and concurrency is derived, so a backup,
 * a restore or WAL archiving each stay within it. Pure: sizes in, sizes out (docs/performance.md, "Memory").
 *
 *   data       = max(MIN_DATA, maxMemory − RUNTIME_RESERVE)      what buffers may use
 *   gcSlack    = clamp(data / 4, 2 MiB, 64 MiB)                  freed buffers not yet collected (GcPacer)
 *   buffers    = data − gcSlack                                  live buffers of the operation
 *   backup     compression 2 × (jobs + 1) × block per archive, upload (parts in flight + 1) × part size
 *   restore    per object: streams × range + write queue + ~2 MiB decompressor output
 *   WAL        segments in memory at once: buffers / (2 × segment size), at least 1
 * A store's minimum part size (S3: 5 MiB) and its part count limit for very large volumes come first: then an
 * operation may exceed the budget, and planBackup says so (`overBudget`).
 */
export const MiB = 1024 * 1024;
export const DEFAULT_MAX_MEMORY = 100 * MiB;
/**
 * RSS before any data moves: Node 24 (43 MB), the bundled cloud SDK (~22 MB for AWS), pgstow's modules and
 * V8's heap at rest. Measured: 75 MiB for a wal-restore on S3 that finds nothing (Node 24.22, issue 15).
 */
export const RUNTIME_RESERVE = 72 * MiB;
/** The least the buffers get, however small the budget (one S3 part in flight and one filling, plus a queue). */
export const MIN_DATA = 16 * MiB;
export const COMPRESSION_BLOCK = MiB;
const MAX_PART = 64 * MiB;

export interface MemoryBudget {
  maxBytes: number;
  /** Live buffers of one operation. */
  buffers: number;
  /** External (Buffer) memory allowed to wait for the garbage collector. */
  gcSlack: number;
}

export function memoryBudget(maxBytes: number = DEFAULT_MAX_MEMORY): MemoryBudget {
  if (!Number.isFinite(maxBytes) || maxBytes <= 0) throw new RangeError(`memory budget must be a positive number of bytes, not ${maxBytes}`);
  const data = Math.max(MIN_DATA, maxBytes - RUNTIME_RESERVE);
  const gcSlack = Math.min(64 * MiB, Math.max(2 * MiB, Math.floor(data / 4)));
  return { maxBytes, buffers: data - gcSlack, gcSlack };
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
  /** Upload part size and parts in flight per archive. */
  partSize: number;
  partsInFlight: number;
  /** Bytes this plan holds at most. */
  bytes: number;
  /** True when the store's minimum part size or part count forced more than the budget. */
  overBudget: boolean;
}

export function planBackup(budget: MemoryBudget, input: BackupMemoryInput): BackupMemoryPlan {
  const jobs = Math.max(1, Math.floor(input.jobs));
  const compression = input.compressed ? 2 * (jobs + 1) * COMPRESSION_BLOCK : 0;
  const partFloor = Math.max(input.minPart, roundUpMiB(Math.ceil(input.volumeSizeHint / input.maxParts)));
  const perArchiveLeast = compression + 2 * partFloor;
  const archivesAtOnce = Math.max(1, Math.min(jobs, input.archives, Math.floor(budget.buffers / perArchiveLeast)));
  const upload = Math.floor(budget.buffers / archivesAtOnce) - compression;
  let partsInFlight = jobs;
  while (partsInFlight > 1 && Math.floor(upload / (partsInFlight + 1)) < partFloor) partsInFlight--;
  const partSize = Math.min(MAX_PART, Math.max(partFloor, roundDownMiB(upload / (partsInFlight + 1))));
  const bytes = archivesAtOnce * (compression + (partsInFlight + 1) * partSize);
  return { archivesAtOnce, compressionBlock: COMPRESSION_BLOCK, partSize, partsInFlight, bytes, overBudget: bytes > budget.buffers };
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

export function planRestore(budget: MemoryBudget, input: { jobs: number; objects: number }): RestoreMemoryPlan {
  const least = 12 * MiB;
  const objectsAtOnce = Math.max(1, Math.min(Math.floor(input.jobs), input.objects, Math.floor(budget.buffers / least)));
  const perObject = Math.floor(budget.buffers / objectsAtOnce);
  const writeBuffer = clamp(roundDownMiB(perObject / 4), 2 * MiB, 16 * MiB);
  const forRanges = perObject - writeBuffer - DECOMPRESSOR_OUTPUT;
  const rangeSize = clamp(roundDownMiB(forRanges / 4), MiB, 8 * MiB);
  const streams = clamp(Math.floor(forRanges / rangeSize), 1, 8);
  return { objectsAtOnce, streams, rangeSize, writeBuffer, bytes: objectsAtOnce * (streams * rangeSize + writeBuffer + DECOMPRESSOR_OUTPUT) };
}

/** WAL files held in memory at once by one archive/restore call (its file and those it handles ahead). */
export function walFilesAtOnce(budget: MemoryBudget, input: { maxParallel: number; segmentSize: number }): number {
  return clamp(Math.floor(budget.buffers / (2 * input.segmentSize)), 1, Math.max(1, Math.floor(input.maxParallel)));
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
