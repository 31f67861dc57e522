/**
 * An in-process store (memory://name): objects are Buffers in a sorted map. It keeps the interface's every
 * rule (conformance suite), so services can be tested without a server and a trial engine needs no disk.
 * Stores opened on the same name share one bucket, as two processes share a directory; a bucket lives as
 * long as the process (dropMemoryBucket() forgets one).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  type CommonPrefix, type GetOptions, type ListOptions, type ObjectInfo, type ObjectStore,
  type PutBody, type PutOptions, type PutResult, type StoreCapabilities,
} from '../../object-store.js';
import { assertValidKey, assertValidPrefix, openBody, streamToBuffer } from '../../object-store-helpers.js';
import { ObjectExistsError, ObjectNotFoundError } from '../../errors.js';

interface StoredObject {
  readonly body: Buffer;
  readonly lastModified: Date;
  readonly md5: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly tags?: Readonly<Record<string, string>>;
}

type Bucket = Map<string, StoredObject>;

/** The buckets' content: the process's "disk" for memory://, not configuration. */
const buckets = new Map<string, Bucket>();

export function dropMemoryBucket(name: string): void {
  buckets.delete(name);
}

export class MemoryObjectStore implements ObjectStore {
  readonly provider = 'memory';
  readonly description: string;
  readonly capabilities: StoreCapabilities = {
    conditionalCreate: true,
    atomicReplace: true,
    serverSideEncryption: false,
    objectTags: true,
    maxBatchDelete: 1000,
    maxParts: Number.MAX_SAFE_INTEGER,
    computedMd5UpTo: Number.MAX_SAFE_INTEGER,
  };
  private readonly bucket: Bucket;

  constructor(readonly name: string) {
    this.description = `memory://${name}`;
    let b = buckets.get(name);
    if (!b) buckets.set(name, (b = new Map()));
    this.bucket = b;
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<PutResult> {
    assertValidKey(key);
    options.signal?.throwIfAborted();
    const data = body instanceof Uint8Array ? Buffer.from(body) : await streamToBuffer(openBody(body), options.signal);
    // The object appears only once complete, and create-if-absent is decided at that moment (atomically).
    if (options.ifAbsent && this.bucket.has(key)) throw new ObjectExistsError({ provider: 'memory', operation: 'put', key });
    const md5 = createHash('md5').update(data).digest('hex');
    this.bucket.set(key, {
      body: data, lastModified: new Date(), md5,
      ...(options.metadata ? { metadata: { ...options.metadata } } : {}),
      ...(options.tags ? { tags: { ...options.tags } } : {}),
    });
    return { key, size: data.length, md5 };
  }

  async get(key: string, options: GetOptions = {}): Promise<Readable> {
    const o = this.lookup(key, 'get');
    // As a store's response would: the object's size, MD5 and metadata (a range has no whole-object MD5).
    options.onInfo?.({ key, size: o.body.length, lastModified: o.lastModified, ...(options.range ? {} : { md5: o.md5 }), ...(o.metadata ? { metadata: o.metadata } : {}) });
    const start = options.range?.start ?? 0;
    const end = options.range?.end === undefined ? o.body.length : options.range.end + 1;
    const slice = o.body.subarray(start, end);
    // Chunked like a network body, so consumers see several chunks of a large object.
    const chunks: Buffer[] = [];
    for (let i = 0; i < slice.length; i += 64 * 1024) chunks.push(slice.subarray(i, i + 64 * 1024));
    return Readable.from(chunks, { objectMode: false, ...(options.signal ? { signal: options.signal } : {}) });
  }

  async stat(key: string): Promise<ObjectInfo> {
    const o = this.lookup(key, 'stat');
    return { key, size: o.body.length, lastModified: o.lastModified, md5: o.md5, ...(o.metadata ? { metadata: o.metadata } : {}) };
  }

  async exists(key: string): Promise<boolean> {
    assertValidKey(key);
    return this.bucket.has(key);
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo | CommonPrefix> {
    assertValidPrefix(prefix);
    const keys = [...this.bucket.keys()].filter((k) => k.startsWith(prefix)).sort(compareKeys);
    let lastPrefix: string | undefined;
    for (const key of keys) {
      options.signal?.throwIfAborted();
      if (options.startAfter !== undefined && compareKeys(key, options.startAfter) <= 0) continue;
      if (options.delimiter === '/') {
        const slash = key.indexOf('/', prefix.length);
        if (slash >= 0) {
          const p = key.slice(0, slash + 1);
          if (p !== lastPrefix) yield { prefix: (lastPrefix = p) };
          continue;
        }
      }
      const o = this.bucket.get(key);
      if (o) yield { key, size: o.body.length, lastModified: o.lastModified, md5: o.md5 };
    }
  }

  async delete(keys: readonly string[], options: { signal?: AbortSignal } = {}): Promise<void> {
    for (const key of keys) assertValidKey(key);
    options.signal?.throwIfAborted();
    for (const key of keys) this.bucket.delete(key);
  }

  async close(): Promise<void> { /* the bucket outlives its stores */ }

  /** Tags stored with an object (tests check what was sent). */
  tagsOf(key: string): Readonly<Record<string, string>> | undefined {
    return this.bucket.get(key)?.tags;
  }

  private lookup(key: string, operation: 'get' | 'stat'): StoredObject {
    assertValidKey(key);
    const o = this.bucket.get(key);
    if (!o) throw new ObjectNotFoundError({ provider: 'memory', operation, key });
    return o;
  }
}

/** Byte order, as S3 lists keys. */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
