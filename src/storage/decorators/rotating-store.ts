/**
 * An ObjectStore whose underlying store may be replaced while the process runs (credential or CA rotation for
 * drivers that cannot take them per request). Each operation leases the store current when it starts and keeps
 * it until the operation ends (a listing until it is exhausted, a download until its stream closes), so a
 * rotation never interrupts a transfer in flight; the next operation uses the new store.
 */
import type { Readable } from 'node:stream';
import type { CommonPrefix, GetOptions, ListOptions, ObjectInfo, ObjectStore, PutBody, PutOptions, PutResult } from '../object-store.js';

export interface StoreLeaseSource {
  /** The current store, held until release(). */
  acquire(): Promise<{ store: ObjectStore; release(): Promise<void> }>;
  /** Stops rotating and closes the stores once their leases end. */
  close(): Promise<void>;
}

class RotatingStore implements ObjectStore {
  createBucket?: ObjectStore['createBucket'];
  listIncompleteUploads?: ObjectStore['listIncompleteUploads'];
  abortIncompleteUpload?: ObjectStore['abortIncompleteUpload'];
  readonly provider: string;
  readonly description: string;
  readonly capabilities: ObjectStore['capabilities'];

  constructor(first: ObjectStore, private readonly source: StoreLeaseSource) {
    // The provider, location and capabilities do not change on rotation (only secrets and the CA do).
    this.provider = first.provider;
    this.description = first.description;
    this.capabilities = first.capabilities;
    if (first.createBucket) this.createBucket = (options) => this.with((s) => s.createBucket?.(options) ?? Promise.resolve());
    if (first.listIncompleteUploads) {
      const source = this.source;
      this.listIncompleteUploads = async function* (prefix, options) {
        const lease = await source.acquire();
        try { if (lease.store.listIncompleteUploads) yield* lease.store.listIncompleteUploads(prefix, options); } finally { await lease.release(); }
      };
    }
    if (first.abortIncompleteUpload) this.abortIncompleteUpload = (upload, options) => this.with((s) => s.abortIncompleteUpload?.(upload, options) ?? Promise.resolve());
  }

  private async with<T>(fn: (store: ObjectStore) => Promise<T>): Promise<T> {
    const lease = await this.source.acquire();
    try {
      return await fn(lease.store);
    } finally {
      await lease.release();
    }
  }

  put(key: string, body: PutBody, options?: PutOptions): Promise<PutResult> {
    return this.with((s) => s.put(key, body, options));
  }

  async get(key: string, options?: GetOptions): Promise<Readable> {
    const lease = await this.source.acquire();
    try {
      const stream = await lease.store.get(key, options);
      stream.once('close', () => { void lease.release(); });
      return stream;
    } catch (err) {
      await lease.release();
      throw err;
    }
  }

  stat(key: string, options?: { signal?: AbortSignal }): Promise<ObjectInfo> {
    return this.with((s) => s.stat(key, options));
  }

  exists(key: string, options?: { signal?: AbortSignal }): Promise<boolean> {
    return this.with((s) => s.exists(key, options));
  }

  async *list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo | CommonPrefix> {
    const lease = await this.source.acquire();
    try {
      yield* lease.store.list(prefix, options);
    } finally {
      await lease.release();
    }
  }

  delete(keys: readonly string[], options?: { signal?: AbortSignal }): Promise<void> {
    return this.with((s) => s.delete(keys, options));
  }

  close(): Promise<void> {
    return this.source.close();
  }
}

export function withRotation(first: ObjectStore, source: StoreLeaseSource): ObjectStore {
  return new RotatingStore(first, source);
}
