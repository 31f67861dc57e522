/**
 * Retries around any ObjectStore: exponential backoff with full jitter (delay = random × min(cap, base × 2^n))
 * on StorageErrors marked `retryable` (throttling, 5xx, resets, timeouts). Only what can be repeated safely
 * is retried: puts whose body can be produced again (bytes or a factory), reads, listings (resumed after the
 * last entry already yielded, so no duplicates) and deletes (idempotent). A one-shot stream put is not
 * retried here: the driver retries its parts.
 */
import type { Readable } from 'node:stream';
import type {
  CommonPrefix, GetOptions, ListOptions, ObjectInfo, ObjectStore, PutBody, PutOptions, PutResult,
} from '../object-store.js';
import { StorageError } from '../errors.js';

export interface RetryOptions {
  /** Total attempts including the first (default 4). */
  maxAttempts?: number;
  /** First backoff cap in ms (default 250). */
  baseDelayMs?: number;
  /** Largest backoff cap in ms (default 8000). */
  maxDelayMs?: number;
  /** For tests: a deterministic random source and clock. */
  random?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Called before each retry (logging). */
  onRetry?: (info: { operation: string; attempt: number; delayMs: number; error: StorageError }) => void;
}

export function isRetryable(err: unknown): err is StorageError {
  return err instanceof StorageError && err.retryable;
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(signal.reason); return; }
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = (): void => { clearTimeout(timer); reject(signal?.reason); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function entryKey(e: ObjectInfo | CommonPrefix): string {
  return 'prefix' in e ? e.prefix : e.key;
}

class RetryingStore implements ObjectStore {
  getPieces?: ObjectStore['getPieces'];
  createBucket?: ObjectStore['createBucket'];
  listIncompleteUploads?: ObjectStore['listIncompleteUploads'];
  abortIncompleteUpload?: ObjectStore['abortIncompleteUpload'];
  readonly provider: string;
  readonly description: string;
  readonly capabilities: ObjectStore['capabilities'];
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly random: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(readonly inner: ObjectStore, private readonly opts: RetryOptions) {
    this.provider = inner.provider;
    this.description = inner.description;
    this.capabilities = inner.capabilities;
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 4);
    this.baseDelayMs = opts.baseDelayMs ?? 250;
    this.maxDelayMs = opts.maxDelayMs ?? 8000;
    this.random = opts.random ?? Math.random;
    this.sleep = opts.sleep ?? defaultSleep;
    forwardOptional(this, inner, (operation, fn, signal) => this.run(operation, fn, signal));
    if (inner.getPieces) {
      // As get(): until the body starts.
      const pieces = inner.getPieces.bind(inner);
      this.getPieces = (key, options) => this.run('get', () => pieces(key, options), options?.signal);
    }
  }

  /** Waits before retry number `attempt` (1-based), or rethrows when out of attempts / not retryable. */
  private async backoff(operation: string, attempt: number, err: unknown, signal?: AbortSignal): Promise<void> {
    if (!isRetryable(err) || attempt >= this.maxAttempts || signal?.aborted) throw err;
    const cap = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
    const delayMs = Math.floor(this.random() * cap);
    this.opts.onRetry?.({ operation, attempt, delayMs, error: err });
    await this.sleep(delayMs, signal);
  }

  private async run<T>(operation: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        await this.backoff(operation, attempt, err, signal);
      }
    }
  }

  put(key: string, body: PutBody, options?: PutOptions): Promise<PutResult> {
    const reopenable = body instanceof Uint8Array || typeof body === 'function';
    if (!reopenable) return this.inner.put(key, body, options);
    return this.run('put', () => this.inner.put(key, body, options), options?.signal);
  }

  get(key: string, options?: GetOptions): Promise<Readable> {
    return this.run('get', () => this.inner.get(key, options), options?.signal);
  }

  stat(key: string, options?: { signal?: AbortSignal }): Promise<ObjectInfo> {
    return this.run('stat', () => this.inner.stat(key, options), options?.signal);
  }

  exists(key: string, options?: { signal?: AbortSignal }): Promise<boolean> {
    return this.run('exists', () => this.inner.exists(key, options), options?.signal);
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo | CommonPrefix> {
    let last: string | undefined = options.startAfter;
    for (let attempt = 1; ; attempt++) {
      try {
        const opts: ListOptions = { ...options, ...(last !== undefined ? { startAfter: last } : {}) };
        for await (const entry of this.inner.list(prefix, opts)) {
          const k = entryKey(entry);
          if (last !== undefined && k <= last) continue; // a resumed listing may repeat a common prefix
          last = k;
          yield entry;
        }
        return;
      } catch (err) {
        await this.backoff('list', attempt, err, options.signal);
      }
    }
  }

  delete(keys: readonly string[], options?: { signal?: AbortSignal }): Promise<void> {
    return this.run('delete', () => this.inner.delete(keys, options), options?.signal);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Optional methods the decorators pass through when the store they wrap has them. */
export function forwardOptional(outer: ObjectStore, inner: ObjectStore, wrap: <T>(operation: string, fn: () => Promise<T>, signal?: AbortSignal) => Promise<T>): void {
  if (inner.createBucket) {
    const create = inner.createBucket.bind(inner);
    outer.createBucket = (options) => wrap('create', () => create(options), options?.signal);
  }
  if (inner.listIncompleteUploads) outer.listIncompleteUploads = inner.listIncompleteUploads.bind(inner);
  if (inner.abortIncompleteUpload) {
    const abort = inner.abortIncompleteUpload.bind(inner);
    outer.abortIncompleteUpload = (upload, options) => wrap('delete', () => abort(upload, options), options?.signal);
  }
}

export function withRetry(store: ObjectStore, options: RetryOptions = {}): ObjectStore {
  return new RetryingStore(store, options);
}
