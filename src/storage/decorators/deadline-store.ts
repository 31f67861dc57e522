/**
 * A bound on how long any store call may wait, whatever the provider's SDK does (the Azure SDK's per-try timeout
 * is only a server-side hint, GCS has no default, S3's read timeout applies per attempt and multiplies with the
 * retries). Wrapped around the retrying decorator, so one bound covers an operation and all its retries:
 *  - requests (stat, exists, delete, put of bytes, each listing page, a get until its body starts) must finish
 *    within `timeoutMs` (a put of bytes gets extra time for its size, at `minBytesPerSecond`);
 *  - streams (a get's body, a put from a one-shot stream) must not stall: `timeoutMs` without a byte while the
 *    consumer is waiting for one fails them.
 * A call that runs out is aborted (its AbortSignal) and fails with StorageUnavailableError naming the store's
 * endpoint, the operation and the key: exit 2, as a network failure.
 */
import { Transform, pipeline, type Readable } from 'node:stream';
import type {
  CommonPrefix, GetOptions, ListOptions, ObjectInfo, ObjectStore, PutBody, PutOptions, PutResult,
} from '../object-store.js';
import { StorageUnavailableError, type StorageOperation } from '../errors.js';
import type { StoreOptions } from '../store-options.js';
import { forwardOptional } from './retrying-store.js';

export interface DeadlineOptions {
  /** Longest wait for one operation with its retries, and longest stall of a stream. */
  timeoutMs: number;
  /** Upload rate a put of bytes is at least allowed (default 1 MiB/s): its bound grows with its size. */
  minBytesPerSecond?: number;
  /** How the bound is called in messages (the option a user sets), e.g. "--read-timeout 60 × 2". */
  setting?: string;
}

const MIB = 1024 * 1024;

class DeadlineStore implements ObjectStore {
  getPieces?: ObjectStore['getPieces'];
  createBucket?: ObjectStore['createBucket'];
  listIncompleteUploads?: ObjectStore['listIncompleteUploads'];
  abortIncompleteUpload?: ObjectStore['abortIncompleteUpload'];
  readonly provider: string;
  readonly description: string;
  readonly capabilities: ObjectStore['capabilities'];
  /** Errors this decorator raised (as opposed to the store's own). */
  private readonly expired = new WeakSet<Error>();

  constructor(private readonly inner: ObjectStore, private readonly source: DeadlineOptions | (() => DeadlineOptions)) {
    this.provider = inner.provider;
    this.description = inner.description;
    this.capabilities = inner.capabilities;
    forwardOptional(this, inner, (operation, fn, signal) => this.bounded(operation as StorageOperation, '', this.opts.timeoutMs, signal, () => fn()));
    if (inner.getPieces) {
      const pieces = inner.getPieces.bind(inner);
      this.getPieces = async (key, options = {}) => {
        const got = await this.bounded('get', key, this.opts.timeoutMs, options.signal, (signal) => pieces(key, { ...options, signal }));
        return { pieces: this.watchPieces(key, got.pieces, options.signal), lent: got.lent };
      };
    }
  }

  /** The bound in force: an engine's reconfigure() may change the read timeout it derives from. */
  private get opts(): DeadlineOptions {
    return typeof this.source === 'function' ? this.source() : this.source;
  }

  private get minRate(): number {
    return this.opts.minBytesPerSecond ?? MIB;
  }

  private timeout(operation: StorageOperation, key: string, ms: number, stalled = false): StorageUnavailableError {
    const secs = Math.round(ms / 100) / 10;
    const err = new StorageUnavailableError({ provider: this.provider, operation, key, retryable: false },
      `no answer from ${this.description} for ${secs} s (${operation} ${key || '/'}${stalled ? ', stalled mid-transfer' : ''}): `
      + `the store accepts connections but does not respond${this.opts.setting ? ` (bound: ${this.opts.setting})` : ''}`);
    this.expired.add(err);
    return err;
  }

  /** Runs `fn` with a signal that fires after `ms`; rejects with the timeout error then, even if `fn` ignores it. */
  private async bounded<T>(operation: StorageOperation, key: string, ms: number, outer: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    outer?.throwIfAborted();
    const controller = new AbortController();
    const onOuter = (): void => controller.abort(outer?.reason);
    outer?.addEventListener('abort', onOuter, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = this.timeout(operation, key, ms);
        controller.abort(err);
        reject(err);
      }, ms);
    });
    try {
      return await Promise.race([fn(controller.signal), expired]);
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onOuter);
    }
  }

  put(key: string, body: PutBody, options: PutOptions = {}): Promise<PutResult> {
    if (body instanceof Uint8Array || typeof body === 'function') {
      const size = body instanceof Uint8Array ? body.length : options.contentLength ?? 0;
      const ms = this.opts.timeoutMs + Math.ceil((size / this.minRate) * 1000);
      return this.bounded('put', key, ms, options.signal, (signal) => this.inner.put(key, body, { ...options, signal }));
    }
    // A one-shot stream (a tar): no bound on the whole upload, only on a stall of it.
    return this.watchPut(key, body, options);
  }

  private async watchPut(key: string, body: Readable, options: PutOptions): Promise<PutResult> {
    const controller = new AbortController();
    const onOuter = (): void => controller.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onOuter, { once: true });
    let last = Date.now();
    // Passes bytes as the driver takes them (backpressure intact), noting when it last did.
    const counted = new Transform({
      transform(chunk: Buffer, _enc, cb) { last = Date.now(); cb(null, chunk); },
      flush(cb) { last = Date.now(); cb(); },
    });
    pipeline(body, counted, () => undefined);
    let stalled: StorageUnavailableError | undefined;
    const timer = setInterval(() => {
      // The driver not taking bytes for that long, or not finishing after the last one: the store stopped answering.
      if (Date.now() - last <= this.opts.timeoutMs) return;
      stalled = this.timeout('put', key, this.opts.timeoutMs, true);
      controller.abort(stalled);
      counted.destroy(stalled);
    }, this.tick);
    try {
      return await this.inner.put(key, counted, { ...options, signal: controller.signal });
    } catch (err) {
      throw stalled ?? err;
    } finally {
      clearInterval(timer);
      options.signal?.removeEventListener('abort', onOuter);
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<Readable> {
    const stream = await this.bounded('get', key, this.opts.timeoutMs, options.signal, (signal) => this.inner.get(key, { ...options, signal }));
    return this.watchBody(key, stream, options.signal);
  }

  /** Fails the body when no byte arrives for timeoutMs while the reader has room for more; follows the caller's signal. */
  private watchBody(key: string, stream: Readable, signal: AbortSignal | undefined): Readable {
    let last = Date.now();
    const out = new Transform({ transform(chunk: Buffer, _enc, cb) { last = Date.now(); cb(null, chunk); } });
    const fail = (err: unknown): void => { stream.destroy(err as Error); out.destroy(err as Error); };
    const onAbort = (): void => fail(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setInterval(() => {
      // Bytes waiting in our buffer mean the reader is the slow one, not the store.
      if (out.readableLength > 0 || out.writableLength > 0) last = Date.now();
      if (Date.now() - last > this.opts.timeoutMs) fail(this.timeout('get', key, this.opts.timeoutMs, true));
    }, this.tick);
    pipeline(stream, out, () => { clearInterval(timer); signal?.removeEventListener('abort', onAbort); });
    return out;
  }

  /**
   * watchBody for pieces: fails when the reader has waited timeoutMs for the next piece (the time it spends on a
   * piece is its own), and follows the caller's signal; either closes the body.
   */
  private async *watchPieces(key: string, pieces: AsyncIterable<Buffer>, signal: AbortSignal | undefined): AsyncGenerator<Buffer> {
    const it = pieces[Symbol.asyncIterator]();
    let waitingSince = 0;
    let failed: unknown;
    const stop = (err: unknown): void => { failed ??= err; void it.return?.()?.catch(() => undefined); };
    const onAbort = (): void => stop(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setInterval(() => {
      if (waitingSince > 0 && Date.now() - waitingSince > this.opts.timeoutMs) stop(this.timeout('get', key, this.opts.timeoutMs, true));
    }, this.tick);
    try {
      for (;;) {
        waitingSince = Date.now();
        let r: IteratorResult<Buffer>;
        try {
          r = await it.next();
        } catch (err) {
          throw failed ?? err;
        }
        waitingSince = 0;
        if (failed !== undefined) throw failed;
        if (r.done) return;
        yield r.value;
      }
    } finally {
      clearInterval(timer);
      signal?.removeEventListener('abort', onAbort);
      await it.return?.();
    }
  }

  private get tick(): number {
    return Math.max(10, Math.min(1000, this.opts.timeoutMs / 4));
  }

  stat(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectInfo> {
    return this.bounded('stat', key, this.opts.timeoutMs, options.signal, (signal) => this.inner.stat(key, { signal }));
  }

  exists(key: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    return this.bounded('exists', key, this.opts.timeoutMs, options.signal, (signal) => this.inner.exists(key, { signal }));
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo | CommonPrefix> {
    const controller = new AbortController();
    const onOuter = (): void => controller.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onOuter, { once: true });
    const it = this.inner.list(prefix, { ...options, signal: controller.signal })[Symbol.asyncIterator]();
    let hung = false;
    try {
      for (;;) {
        // Each page: the wait for the next entry is bounded (entries of a page already fetched come at once).
        let r: IteratorResult<ObjectInfo | CommonPrefix>;
        try {
          r = await this.bounded('list', prefix, this.opts.timeoutMs, undefined, () => it.next());
        } catch (err) {
          hung = err instanceof Error && this.expired.has(err);
          controller.abort(err);
          throw err;
        }
        if (r.done) return;
        yield r.value;
      }
    } finally {
      options.signal?.removeEventListener('abort', onOuter);
      // A listing stuck in a request cannot be closed politely: its next() may never settle.
      if (hung) void it.return?.()?.catch(() => undefined);
      else await it.return?.();
    }
  }

  delete(keys: readonly string[], options: { signal?: AbortSignal } = {}): Promise<void> {
    // One-by-one deletes (a store refusing batches) take a round trip per key.
    const ms = this.opts.timeoutMs + keys.length * 200;
    return this.bounded('delete', keys[0] ?? '', ms, options.signal, (signal) => this.inner.delete(keys, { signal }));
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Barman's default --read-timeout (botocore's), applied to every provider. */
export const DEFAULT_READ_TIMEOUT_SECONDS = 60;

/**
 * The bound for a store opened with `options`: twice the read timeout (one attempt that hears nothing for the
 * read timeout, and one retry), 120 s by default; `--read-timeout N` sets it to 2N.
 */
export function deadlineFor(options: Pick<StoreOptions, 'readTimeoutSeconds'>): DeadlineOptions {
  const read = options.readTimeoutSeconds ?? DEFAULT_READ_TIMEOUT_SECONDS;
  return { timeoutMs: Math.round(read * 2000), setting: `twice --read-timeout ${read}` };
}

export function withDeadline(store: ObjectStore, options: DeadlineOptions | (() => DeadlineOptions)): ObjectStore {
  return new DeadlineStore(store, options);
}
