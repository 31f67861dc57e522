/**
 * The one storage interface every driver implements (fs, s3, azure-blob, gcs). Drivers know nothing of
 * PostgreSQL; the conformance suite in test/conformance/object-store.suite.ts checks every rule below.
 *
 * Keys are '/'-separated, relative to the store's root (bucket or container plus the URL prefix is NOT
 * applied here: callers pass full keys below the bucket/container). A key never starts with '/', never
 * contains '..' segments or empty segments, and never ends with '/'.
 */
import type { Readable } from 'node:stream';

export interface StoreCapabilities {
  /** put(key, …, { ifAbsent: true }) is enforced atomically by the server. */
  readonly conditionalCreate: boolean;
  /** put replaces an existing key atomically (readers see old or new, never a mix). */
  readonly atomicReplace: boolean;
  /** Server-side encryption options are honoured. */
  readonly serverSideEncryption: boolean;
  /** Object tags (S3 Tagging, Azure index tags, GCS custom metadata) are stored. */
  readonly objectTags: boolean;
  /** Largest number of keys one delete request takes. */
  readonly maxBatchDelete: number;
  /** Largest number of parts a multipart upload may have. */
  readonly maxParts: number;
  /**
   * Largest body (bytes) that a put of known length stores in one request for which the store computes the
   * content MD5 itself, answers with it (PutResult.md5) and records it (ObjectInfo.md5 of stat and get), with
   * no MD5 given by the caller (Azure's Put Blob). Absent or 0: never. A caller then hashes what it sends as it
   * sends it instead of in a pass before the upload.
   */
  readonly computedMd5UpTo?: number;
}

/** A body that can be produced again for a retry: bytes, or a factory opening a fresh stream. */
export type PutSource = Uint8Array | (() => Readable);

/** A one-shot stream (a tar pipeline); the driver uploads it in parts and retries per part. */
export type PutBody = PutSource | Readable;

export interface PutOptions {
  /** Exact length when known: lets drivers pick single-put vs multipart and the part size. */
  contentLength?: number;
  /**
   * MD5 digest (16 bytes) of a Uint8Array body. Drivers that can send it do (S3 Content-MD5), so the store
   * itself refuses a body damaged in transit.
   */
  md5?: Uint8Array;
  /** Expected size when not exact (e.g. the uncompressed size of a stream); used to size parts. */
  sizeHint?: number;
  /**
   * From the process's memory budget (src/memory-budget.ts), for a streamed body: bytes per part (block,
   * chunk) and parts sent at once. A part size configured on the store wins; drivers round to their limits
   * (S3's 5 MiB minimum, a size that fits the part count limit).
   */
  partSize?: number;
  partsInFlight?: number;
  /**
   * Part buffers a streamed upload holds at once, those on the wire and the one filling (at least 2; default
   * partsInFlight + 1). Fewer than partsInFlight + 1 lets every buffer be on the wire: the next part then fills
   * only once one of them is answered.
   */
  partBuffers?: number;
  /**
   * Create only: fail with ObjectExistsError if the key exists. Enforced atomically when capabilities.conditionalCreate;
   * otherwise the condition is still sent, but a store that ignores it may replace an object written meanwhile, so
   * a caller that must know re-reads what is stored.
   */
  ifAbsent?: boolean;
  tags?: Readonly<Record<string, string>>;
  /** User metadata stored with the object (x-amz-meta-*, Azure metadata, GCS metadata). */
  metadata?: Readonly<Record<string, string>>;
  contentType?: string;
  signal?: AbortSignal;
}

export interface PutResult {
  key: string;
  size: number;
  etag?: string;
  /** Hex MD5 the store reports, in its put response, for the bytes it stored (when it reports one). */
  md5?: string;
}

export interface GetOptions {
  /** Inclusive byte range; `end` omitted = to the end. */
  range?: { start: number; end?: number };
  signal?: AbortSignal;
  /**
   * Called before get() resolves with what the response said about the object (size, ETag, the MD5 the store
   * recorded, user metadata), by drivers whose protocol answers with it; a caller verifying a download uses it
   * instead of another request. Not called by drivers that learn nothing (fs gives the size only).
   */
  onInfo?: (info: ObjectInfo) => void;
  /**
   * getPieces only: the reader takes pieces of up to this many bytes (a driver that lends pieces may then read larger
   * ones than its default; none is larger than this). Ignored by get().
   */
  pieceBytes?: number;
}

/** A get's body as pieces (ObjectStore.getPieces). */
export interface GetPieces {
  pieces: AsyncIterable<Buffer>;
  /**
   * The pieces are views of memory the driver reads the next ones into: each is valid only until the next is asked
   * for (or the iteration ends). False: Buffers of their own (a Readable's chunks).
   */
  lent: boolean;
}

export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
  readonly lastModified?: Date;
  readonly etag?: string;
  /**
   * Lowercase hex MD5 of the whole content, when the store itself computed and recorded one (Azure's
   * Content-MD5 of a Put Blob, GCS md5Hash). Never guessed from an S3 ETag, which is an MD5 only sometimes.
   */
  readonly md5?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

/** A "directory" reported by a delimited listing. Always ends with the delimiter. */
export interface CommonPrefix {
  readonly prefix: string;
}

export interface ListOptions {
  /** Group keys by this delimiter (only "/" is supported) and yield CommonPrefix entries. */
  delimiter?: '/';
  /** Only keys strictly after this one (lexicographic). */
  startAfter?: string;
  signal?: AbortSignal;
}

export interface ObjectStore {
  /** Provider name, e.g. "s3". */
  readonly provider: string;
  /** Human-readable location for messages, with no secrets (e.g. "s3://bucket at http://127.0.0.1:4568"). */
  readonly description: string;
  readonly capabilities: StoreCapabilities;

  /**
   * Stores `body` at `key`, replacing any existing object unless `ifAbsent`.
   * Large or unknown-length bodies go through multipart upload with bounded memory; on failure the
   * multipart upload is aborted. The object is visible only once complete.
   */
  put(key: string, body: PutBody, options?: PutOptions): Promise<PutResult>;

  /** Streams the object. Must throw ObjectNotFoundError for a missing key (before any data). */
  get(key: string, options?: GetOptions): Promise<Readable>;

  /**
   * get() for a reader that uses each piece before it asks for the next (a restore copies it or writes it out): a
   * driver may read the body into memory it reuses, with no Buffer per piece. Same errors as get(). Optional:
   * callers fall back to get() (parallel-get.ts, getPieces()).
   */
  getPieces?(key: string, options?: GetOptions): Promise<GetPieces>;

  /** Must throw ObjectNotFoundError for a missing key. */
  stat(key: string, options?: { signal?: AbortSignal }): Promise<ObjectInfo>;

  /** Never throws for a missing key. */
  exists(key: string, options?: { signal?: AbortSignal }): Promise<boolean>;

  /**
   * All keys starting with `prefix`, in lexicographic order, across every page. With a delimiter, keys
   * below the next "/" after the prefix are grouped into one CommonPrefix. A missing prefix yields nothing.
   */
  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo | CommonPrefix>;

  /** Deletes the keys, batching up to capabilities.maxBatchDelete. Missing keys are not an error. */
  delete(keys: readonly string[], options?: { signal?: AbortSignal }): Promise<void>;

  /**
   * Creates the bucket or container, as Barman does for a new cluster whose destination does not exist yet
   * (barman-cloud 3.4 in wal-archive and backup, ≥ 3.16 in check-wal-archive). One that exists already is not an
   * error; credentials that may not create one give AccessDeniedError naming the permission. Optional: a driver
   * that cannot create buckets leaves it out.
   */
  createBucket?(options?: { signal?: AbortSignal }): Promise<void>;

  /**
   * Uploads begun and never completed under `prefix` (S3 multipart uploads, fs temp files) — what a killed backup
   * leaves, invisible in listings and billed. Optional: stores that discard them themselves (Azure drops uncommitted
   * blocks after 7 days, GCS resumable sessions expire after 7 days) leave it out.
   */
  listIncompleteUploads?(prefix: string, options?: { signal?: AbortSignal }): AsyncIterable<IncompleteUpload>;

  /** Discards an upload listIncompleteUploads returned (S3 AbortMultipartUpload, fs unlink). */
  abortIncompleteUpload?(upload: IncompleteUpload, options?: { signal?: AbortSignal }): Promise<void>;

  /** Releases sockets and clients. */
  close(): Promise<void>;
}

export interface IncompleteUpload {
  /** The key the upload would have created. */
  readonly key: string;
  /** Driver's handle (S3 UploadId, fs temp file name). */
  readonly id: string;
  /** When data was last added to it (its newest part), or when it started. */
  readonly lastActivity: Date;
  /** Bytes uploaded so far, when known. */
  readonly size?: number;
}

export function isCommonPrefix(entry: ObjectInfo | CommonPrefix): entry is CommonPrefix {
  return 'prefix' in entry;
}
