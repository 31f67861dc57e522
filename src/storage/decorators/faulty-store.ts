/**
 * A store that fails on purpose, for tests (restic's BackendTestHook slot, as a decorator): wrap any store and
 * script faults by operation and key: an error before the call (throttling, 5xx, access denied), a download
 * that fails or stalls after N bytes, an upload whose body fails after N bytes, a call that hangs until its
 * signal aborts, a delay. Every call is recorded, so a test can say what the code under test asked for.
 */
import { Readable } from 'node:stream';
import type { CommonPrefix, GetOptions, ListOptions, ObjectInfo, ObjectStore, PutBody, PutOptions, PutResult } from '../object-store.js';
import { openBody } from '../object-store-helpers.js';
import { StorageUnavailableError, type StorageOperation } from '../errors.js';

export type FaultAction =
  /** Throw this error instead of calling the store. */
  | { type: 'error'; error: (op: StorageOperation, key: string) => Error }
  /** 503 SlowDown / throttling: a retryable StorageUnavailableError. */
  | { type: 'unavailable' }
  /** get: the stream fails after `bytes` bytes; put: the body fails after `bytes` bytes (the upload must fail). */
  | { type: 'cut'; bytes: number; error?: () => Error }
  /** get: the stream delivers `bytes` bytes, then nothing more, never ending (until destroyed or aborted). */
  | { type: 'stall'; bytes: number }
  /** The call never settles until its signal aborts (then it rejects with the abort reason). */
  | { type: 'hang' }
  /** The call waits `ms` first. */
  | { type: 'delay'; ms: number };

export interface Fault {
  /** Operations it applies to (default: all). */
  operations?: readonly StorageOperation[];
  /** Keys it applies to: a prefix or a pattern (default: all; list matches on its prefix). */
  key?: string | RegExp;
  /** Matching calls let through before it fires (default 0). */
  after?: number;
  /** How often it fires (default: every matching call). */
  times?: number;
  action: FaultAction;
}

export interface RecordedCall {
  operation: StorageOperation;
  key: string;
  /** The fault that fired, if any. */
  fault?: FaultAction['type'];
}

interface ArmedFault extends Fault { seen: number; fired: number }

/**
 * Faults and the record of calls, shared by every store wrapped with it: an engine opens a store per purpose
 * (WAL, data) and lazily, so a test scripts faults once on the injector, before or after the stores exist.
 */
export class FaultInjector {
  readonly calls: RecordedCall[] = [];
  faults: ArmedFault[] = [];

  add(fault: Fault): this {
    this.faults.push({ ...fault, seen: 0, fired: 0 });
    return this;
  }

  clear(): this {
    this.faults = [];
    return this;
  }

  /** Number of recorded calls of an operation (optionally below a key prefix). */
  count(operation: StorageOperation, keyPrefix = ''): number {
    return this.calls.filter((c) => c.operation === operation && c.key.startsWith(keyPrefix)).length;
  }

  /** For openEngine's wrapStore: every store the engine opens gets these faults. */
  readonly wrap = (store: ObjectStore): FaultyObjectStore => new FaultyObjectStore(store, [], this);
}

export class FaultyObjectStore implements ObjectStore {
  readonly provider: string;
  readonly description: string;
  readonly capabilities: ObjectStore['capabilities'];

  constructor(readonly inner: ObjectStore, faults: readonly Fault[] = [], readonly injector: FaultInjector = new FaultInjector()) {
    this.provider = inner.provider;
    this.description = inner.description;
    this.capabilities = inner.capabilities;
    for (const f of faults) this.add(f);
  }

  get calls(): RecordedCall[] {
    return this.injector.calls;
  }

  add(fault: Fault): this {
    this.injector.add(fault);
    return this;
  }

  clear(): this {
    this.injector.clear();
    return this;
  }

  count(operation: StorageOperation, keyPrefix = ''): number {
    return this.injector.count(operation, keyPrefix);
  }

  private pick(operation: StorageOperation, key: string): FaultAction | undefined {
    let action: FaultAction | undefined;
    for (const f of this.injector.faults) {
      if (f.operations && !f.operations.includes(operation)) continue;
      if (f.key !== undefined && !(typeof f.key === 'string' ? key.startsWith(f.key) : f.key.test(key))) continue;
      f.seen++;
      if (action || f.seen <= (f.after ?? 0) || f.fired >= (f.times ?? Infinity)) continue;
      f.fired++;
      action = f.action;
    }
    this.injector.calls.push({ operation, key, ...(action ? { fault: action.type } : {}) });
    return action;
  }

  /** Runs the before-call part of a fault: errors, hangs, delays. Cut/stall are applied to the data by the caller. */
  private async before(action: FaultAction | undefined, operation: StorageOperation, key: string, signal: AbortSignal | undefined): Promise<void> {
    if (!action) return;
    switch (action.type) {
      case 'error': throw action.error(operation, key);
      case 'unavailable':
        throw new StorageUnavailableError({ provider: this.provider, operation, key, retryable: true }, `injected: 503 SlowDown for ${operation} ${key}`);
      case 'hang': await hang(signal); return;
      case 'delay': await sleep(action.ms, signal); return;
      default: return;
    }
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<PutResult> {
    const action = this.pick('put', key);
    await this.before(action, 'put', key, options.signal);
    if (action?.type === 'cut') {
      const cut = action;
      const failing = (): Readable => cutAfter(openBody(body), cut.bytes, cut.error?.() ?? new Error(`injected: upload body of ${key} failed after ${cut.bytes} bytes`));
      // A re-openable body stays re-openable (each attempt fails the same way); a one-shot stream stays one-shot.
      return this.inner.put(key, body instanceof Readable ? failing() : failing, options);
    }
    return this.inner.put(key, body, options);
  }

  async get(key: string, options: GetOptions = {}): Promise<Readable> {
    const action = this.pick('get', key);
    await this.before(action, 'get', key, options.signal);
    const stream = await this.inner.get(key, options);
    if (action?.type === 'cut') {
      const err = action.error?.() ?? Object.assign(new Error(`injected: connection reset while downloading ${key} after ${action.bytes} bytes`), { code: 'ECONNRESET' });
      return cutAfter(stream, action.bytes, err);
    }
    if (action?.type === 'stall') return stallAfter(stream, action.bytes, options.signal);
    return stream;
  }

  async stat(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectInfo> {
    await this.before(this.pick('stat', key), 'stat', key, options.signal);
    return this.inner.stat(key, options);
  }

  async exists(key: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    await this.before(this.pick('exists', key), 'exists', key, options.signal);
    return this.inner.exists(key, options);
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo | CommonPrefix> {
    await this.before(this.pick('list', prefix), 'list', prefix, options.signal);
    yield* this.inner.list(prefix, options);
  }

  async delete(keys: readonly string[], options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.before(this.pick('delete', keys[0] ?? ''), 'delete', keys[0] ?? '', options.signal);
    return this.inner.delete(keys, options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

export function withFaults(store: ObjectStore, faults: readonly Fault[] = []): FaultyObjectStore {
  return new FaultyObjectStore(store, faults);
}

/** The source's first `bytes` bytes, then `error`. */
function cutAfter(source: Readable, bytes: number, error: Error): Readable {
  return Readable.from((async function* () {
    let sent = 0;
    try {
      for await (const chunk of source) {
        const buf = chunk as Buffer;
        if (sent + buf.length >= bytes) {
          if (bytes > sent) yield buf.subarray(0, bytes - sent);
          throw error;
        }
        sent += buf.length;
        yield buf;
      }
    } finally {
      source.destroy();
    }
    throw error;
  })(), { objectMode: false });
}

/** The source's first `bytes` bytes, then silence until the consumer gives up or the signal aborts. */
function stallAfter(source: Readable, bytes: number, signal: AbortSignal | undefined): Readable {
  return Readable.from((async function* () {
    let sent = 0;
    try {
      for await (const chunk of source) {
        const buf = chunk as Buffer;
        if (sent + buf.length >= bytes) {
          if (bytes > sent) yield buf.subarray(0, bytes - sent);
          break;
        }
        sent += buf.length;
        yield buf;
      }
    } finally {
      source.destroy();
    }
    await hang(signal);
  })(), { objectMode: false });
}

/**
 * Never settles until the signal aborts. A real hang is a socket waiting, which keeps the process alive; so does
 * this (a referenced timer), or a caller waiting only on AbortSignal.timeout() (an unreferenced timer) would see
 * Node end its event loop with the promise pending (Node 22 does).
 */
function hang(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal?.aborted) { reject(signal.reason); return; }
    const alive = setInterval(() => undefined, 1000);
    signal?.addEventListener('abort', () => { clearInterval(alive); reject(signal.reason); }, { once: true });
  });
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
  });
}
