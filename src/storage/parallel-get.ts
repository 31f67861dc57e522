/**
 * Downloads one object as several ranged GETs in flight at once, yielded in order. A single HTTP stream is
 * often the bottleneck of a restore; with `concurrency` ranges of `partSize` bytes in flight memory stays
 * bounded at about concurrency × partSize. Small objects (or stores without ranges) use one plain GET.
 * Every range is checked for its exact length, so a short read never passes as complete.
 */
import type { GetOptions, GetPieces, ObjectStore } from './object-store.js';
import { IntegrityError } from './errors.js';

export interface ParallelGetOptions {
  /** The object's size from the listing (ranges are planned from it and the total is checked). */
  size: number;
  partSize?: number;
  concurrency?: number;
  signal?: AbortSignal;
  /**
   * The caller uses each chunk before it asks for the next: a plain GET may yield pieces of memory the store reuses
   * (ObjectStore.getPieces). Ranged GETs always yield Buffers of their own.
   */
  lend?: boolean;
  /** Told before the first chunk whether the chunks are lent (valid only until the next is asked for). */
  onLent?: (lent: boolean) => void;
  /** The caller takes chunks of up to this many bytes (GetOptions.pieceBytes). */
  pieceBytes?: number;
}

/** The object's body as pieces: lent by the stores that can (getPieces), else get()'s stream. */
export async function getPieces(store: ObjectStore, key: string, options: GetOptions = {}): Promise<GetPieces> {
  return store.getPieces ? store.getPieces(key, options) : { pieces: await store.get(key, options), lent: false };
}

const DEFAULT_PART = 8 * 1024 * 1024;

export async function* parallelGet(store: ObjectStore, key: string, options: ParallelGetOptions): AsyncGenerator<Buffer> {
  const partSize = options.partSize ?? DEFAULT_PART;
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const size = options.size;
  let received = 0;
  if (concurrency === 1 || size <= partSize) {
    const signal = options.signal ? { signal: options.signal } : {};
    const body = options.lend
      ? await getPieces(store, key, { ...signal, ...(options.pieceBytes ? { pieceBytes: options.pieceBytes } : {}) })
      : { pieces: await store.get(key, signal) as AsyncIterable<Buffer>, lent: false };
    options.onLent?.(body.lent);
    for await (const chunk of body.pieces) {
      received += chunk.length;
      yield chunk;
    }
    if (received !== size) throw sizeMismatch(store, key, size, received);
    return;
  }
  options.onLent?.(false);
  const parts = Math.ceil(size / partSize);
  const inFlight: Array<Promise<Buffer[]>> = [];
  let next = 0;
  const launch = (): void => {
    const start = next * partSize;
    const end = Math.min(size, start + partSize) - 1;
    next++;
    const p = fetchRange(store, key, start, end, options.signal);
    p.catch(() => undefined); // observed when awaited; avoid an unhandled rejection meanwhile
    inFlight.push(p);
  };
  try {
    while (next < parts && inFlight.length < concurrency) launch();
    while (inFlight.length > 0) {
      const chunks = await (inFlight.shift() as Promise<Buffer[]>);
      if (next < parts) launch();
      for (const c of chunks) { received += c.length; yield c; }
    }
  } finally {
    // Consumer stopped early or failed: let in-flight ranges settle quietly.
    await Promise.allSettled(inFlight);
  }
  if (received !== size) throw sizeMismatch(store, key, size, received);
}

/**
 * One range, copied into a buffer of its exact size as it arrives: socket chunks often fill a fraction of
 * the 64 KiB allocated for them, and holding them instead cost ~8 MB per 2 MiB range in flight (measured).
 */
async function fetchRange(store: ObjectStore, key: string, start: number, end: number, signal?: AbortSignal): Promise<Buffer[]> {
  // Every piece is copied before the next is asked for, so the store may lend them.
  const { pieces } = await getPieces(store, key, { range: { start, end }, ...(signal ? { signal } : {}) });
  const out = Buffer.allocUnsafe(end - start + 1);
  let n = 0;
  for await (const chunk of pieces) {
    if (n + chunk.length > out.length) { n += chunk.length; break; }
    chunk.copy(out, n);
    n += chunk.length;
  }
  const chunks = [out.subarray(0, Math.min(n, out.length))];
  if (n !== end - start + 1) {
    throw new IntegrityError({ provider: store.provider, operation: 'get', key },
      `short read of ${key}: bytes ${start}-${end} returned ${n} bytes instead of ${end - start + 1} (object changed or truncated while downloading?)`);
  }
  return chunks;
}

function sizeMismatch(store: ObjectStore, key: string, expected: number, got: number): IntegrityError {
  return new IntegrityError({ provider: store.provider, operation: 'get', key },
    `downloaded ${got} bytes of ${key} but the store lists it with ${expected} bytes`);
}
