/**
 * ObjectStore on Google Cloud Storage (JSON API through @google-cloud/storage). Only types are imported
 * from the SDK here; index.ts loads it. Small bodies go up in one request on node:http (lean-upload.ts; the SDK
 * when that request fails); anything larger than one chunk goes up in chunks through a resumable session on
 * node:http (lean-resumable.ts; the SDK's resumable upload for create-only uploads, or when the
 * session was not opened for us), so memory stays around two chunks whatever the object size.
 */
import type * as httpT from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { http, https, tls } from '../../node-net.js';
import { Readable, addAbortSignal } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Bucket, File, Storage } from '@google-cloud/storage';
import type { TokenSource } from './lean-token.js';
import type {
  CommonPrefix, GetOptions, ListOptions, ObjectInfo, ObjectStore, PutBody, PutOptions, PutResult, StoreCapabilities,
} from '../../object-store.js';
import type { StorageOperation } from '../../errors.js';
import { PgstowError } from '../../../errors.js';
import { IntegrityError, InvalidCredentialsError, ObjectExistsError, StorageUnavailableError } from '../../errors.js';
import { assertValidKey, assertValidPrefix, fixedSizeParts, openBody, PartRecycler } from '../../object-store-helpers.js';
import { DEFAULT_GCS_ENDPOINT, GCS_CHUNK_GRANULARITY, type GcsConfig } from './config.js';
import { classifyGcsAuthError, classifyGcsError, gcsHttpStatus } from './errors.js';
import { leanMultipartUpload, UploadSourceError, type UploadedObject } from './lean-upload.js';
import { cancelSession, openSession, sendChunks } from './lean-resumable.js';
import { leanListing } from '../../lean-listing.js';
import {
  infoOf, leanRequest, listUrl, objectUrl, parseListPage, parseObject, readJson, UseSdk, type LeanTarget, type ListEntry, type ObjectResource,
} from './lean-reads.js';

/** Single-object deletes run this many at a time (the Node SDK has no batch endpoint). */
const DELETE_CONCURRENCY = 16;
const LIST_PAGE_SIZE = 1000;
/** Failed chunk requests one resumable upload survives: the SDK path's upload budget (index.ts: uploadStorage). */
const RESUMABLE_MAX_RETRIES = 50;

interface GcsObjectMetadata {
  name?: string;
  size?: string | number;
  updated?: string;
  etag?: string;
  /** Base64; absent for composite objects. */
  md5Hash?: string;
  metadata?: Record<string, unknown> | null;
}

export class GcsObjectStore implements ObjectStore {
  readonly provider = 'gcs';
  readonly description: string;
  readonly capabilities: StoreCapabilities;
  /** The SDK's clients, built on first need (index.ts loads the SDK then): the lean requests do without them. */
  private sdkBuckets: { bucket: Bucket; uploadBucket: Bucket } | undefined;
  /** Where the lean requests go (lean-reads.ts), through the store's agent (behind a proxy too). */
  private readonly lean: LeanTarget | undefined;
  private readonly endpoint: string;
  private readonly agent: httpT.Agent;
  private authenticated: Promise<void> | undefined;
  /** An emulator's create-only probe, run once per store by the first create-only put. */
  private createOnlyProbe: Promise<void> | undefined;

  constructor(private readonly clients: () => { storage: Storage; uploadStorage?: Storage }, private readonly config: GcsConfig,
    private readonly auth: TokenSource | undefined,
    /** Gives back the store's private CA to the process's shared trust (index.ts). */
    private readonly releaseTrust: () => void = () => {},
    /** CRC32C for single-request uploads (native), or undefined to compare MD5s instead. */
    private readonly crc32c?: () => { update(chunk: Buffer): void; toString(): string },
    /** The lean requests' connections (index.ts: keep-alive, the private CA, the proxy for the endpoint). */
    agent?: httpT.Agent) {
    this.endpoint = config.apiEndpoint ?? DEFAULT_GCS_ENDPOINT;
    // Single-request uploads' own connections (lean-upload.ts), with the store's private CA on top of the system roots.
    this.agent = agent ?? (this.endpoint.startsWith('https:')
      ? new https.Agent({ keepAlive: true, ...(config.caPem !== undefined ? { ca: [...tls.rootCertificates, config.caPem] } : {}) })
      : new http.Agent({ keepAlive: true }));
    this.lean = { endpoint: this.endpoint, bucket: config.bucket, agent: this.agent, timeoutMs: config.timeoutMs };
    this.description = config.description;
    this.capabilities = {
      // GCS enforces ifGenerationMatch=0 atomically. Emulators reached through STORAGE_EMULATOR_HOST are not
      // trusted to until a probe shows they do (the stock Firebase emulator ignores preconditions): until then, and
      // where they do not, callers fall back to check-then-put and re-read what they wrote.
      conditionalCreate: !config.emulator,
      atomicReplace: true,
      serverSideEncryption: true,
      objectTags: true,
      maxBatchDelete: 100,
      // Resumable uploads have no part count limit (5 TiB object limit).
      maxParts: Number.MAX_SAFE_INTEGER,
    };
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<PutResult> {
    assertValidKey(key);
    await this.ready();
    if (options.ifAbsent && this.config.emulator) await (this.createOnlyProbe ??= this.probeCreateOnly(key));
    return this.putOnce(key, body, options);
  }

  /**
   * Two create-only puts of a tiny object beside `key` on an emulator: one that enforces ifGenerationMatch=0 refuses
   * the second (412), and capabilities.conditionalCreate becomes true, so callers trust create-only puts as on GCS
   * (no settle wait and read-back). Otherwise, or when the probe itself fails, it stays false. The probe object is
   * deleted again (best effort; Barman and pgstow ignore the name in listings).
   */
  private async probeCreateOnly(key: string): Promise<void> {
    // A name of its own per probe: archivers started together must not put and delete one object at once.
    const probe = `${key.slice(0, key.lastIndexOf('/') + 1)}.pgstow-create-only-probe-${randomBytes(6).toString('hex')}`;
    const refused = async (): Promise<boolean> => this.putOnce(probe, Buffer.from('probe'), { ifAbsent: true }).then(() => false, (err: unknown) => {
      if (err instanceof ObjectExistsError) return true;
      throw err;
    });
    try {
      const enforced = (await refused()) || (await refused());
      (this.capabilities as { conditionalCreate: boolean }).conditionalCreate = enforced;
    } catch {
      // Unknown (no permission, a failing emulator): stays untrusted, the safe side.
    }
    await this.deleteOne(probe).catch(() => undefined);
  }

  private async putOnce(key: string, body: PutBody, options: PutOptions): Promise<PutResult> {
    // The memory budget's part size, in the 256 KiB steps resumable uploads need.
    const chunkSize = options.partSize ? Math.ceil(options.partSize / GCS_CHUNK_GRANULARITY) * GCS_CHUNK_GRANULARITY : this.config.chunkSize;
    if (options.contentLength !== undefined && options.contentLength <= chunkSize) {
      // Known to fit in one request (a WAL segment): streamed from its source, never held whole.
      try {
        return await this.putSingle(key, openBody(body), options.contentLength, options);
      } catch (err) {
        if (body instanceof Readable || !this.worthSdkRetry(err, options)) throw this.putError(err, key, options);
        return this.putBuffered(key, openBody(body), chunkSize, options, false);
      }
    }
    return this.putBuffered(key, openBody(body), chunkSize, options, true);
  }

  /**
   * A body of unknown length: read up to one chunk; one that fits goes in one request, the rest in a resumable
   * upload in chunks. A single request the lean path could not complete (a 5xx, a connection failure) is sent
   * again through the SDK, which retries it, so such failures end with the SDK path's errors as before. With or
   * without a proxy, the chunks go through a session of the store's own (putChunkedLean); create-only uploads keep the SDK's.
   */
  private async putBuffered(key: string, source: Readable, chunkSize: number, options: PutOptions, lean: boolean): Promise<PutResult> {
    if (lean && this.lean && !options.ifAbsent) return this.putChunkedLean(key, source, chunkSize, options);
    try {
      const head = await readUpTo(source, chunkSize, options.signal);
      if (head.ended) return await this.putHeld(key, head.chunks, options, lean);
      return await this.sdkResumable(key, Readable.from(head.rest, { objectMode: false }), chunkSize, options);
    } catch (err) {
      source.destroy();
      throw this.putError(err, key, options);
    }
  }

  /**
   * A body of unknown length on node:http: cut into chunks in reused buffers; a body short of one chunk goes in one
   * request (putHeld), a longer one through a resumable session of the store's own (lean-resumable.ts). A session
   * GCS did not open for it is opened by the SDK, which sends the same bytes, so its errors are the SDK path's.
   * Any failure cancels the session: nothing of the upload becomes visible.
   */
  private async putChunkedLean(key: string, source: Readable, chunkSize: number, options: PutOptions): Promise<PutResult> {
    const spare = new PartRecycler();
    const parts = fixedSizeParts(source, chunkSize, (err) => new UploadSourceError(err as Error), spare)[Symbol.asyncIterator]();
    const abort = new AbortController();
    const onAbort = (): void => abort.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    let session: URL | undefined;
    try {
      const head = await parts.next();
      const first = head.done ? Buffer.alloc(0) : head.value;
      if (first.length < chunkSize) return await this.putHeld(key, [first], options, true);
      const opened = await openSession({
        url: this.uploadUrl(key, 'resumable'), headers: await this.authHeader(), resource: this.resource(key, options),
        contentType: options.contentType ?? 'application/octet-stream', agent: this.agent, timeoutMs: this.config.timeoutMs, signal: abort.signal,
      });
      if (opened instanceof UseSdk) return await this.sdkResumable(key, replay(first, parts), chunkSize, options);
      session = opened;
      const sum = this.checksum();
      const { object, size } = await sendChunks({
        session, chunkSize, onChunk: (c) => sum.update(c), maxRetries: RESUMABLE_MAX_RETRIES, retryDelayMs: 1000,
        agent: this.agent, timeoutMs: this.config.timeoutMs, signal: abort.signal,
      }, first, parts, spare);
      session = undefined;
      await this.checkStored(key, sum, object);
      return { key, size, ...(object.etag ? { etag: object.etag } : {}), ...(object.md5Hash ? { md5: Buffer.from(object.md5Hash, 'base64').toString('hex') } : {}) };
    } catch (err) {
      abort.abort();
      source.destroy();
      if (session) await cancelSession(session, this.agent, this.config.timeoutMs);
      throw this.putError(err, key, options);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** A body held whole: one request (lean when `lean`), the SDK's when that one failed in a way worth its retries. */
  private async putHeld(key: string, chunks: Buffer[], options: PutOptions, lean: boolean): Promise<PutResult> {
    const size = chunks.reduce((n, c) => n + c.length, 0);
    try {
      if (lean) return await this.putSingle(key, Readable.from(chunks), size, options);
    } catch (err) {
      if (!this.worthSdkRetry(err, options)) throw err;
    }
    const bytes = Buffer.concat(chunks);
    const file = this.file(key);
    await file.save(bytes, { resumable: false, metadata: this.sdkMetadata(options), ...(options.ifAbsent ? { preconditionOpts: { ifGenerationMatch: 0 } } : {}), validation: 'crc32c' });
    return { key, size: bytes.length, ...etagOf(file) };
  }

  /** The SDK's resumable upload of `body` in chunks (it keeps the last chunk, to retry it). */
  private async sdkResumable(key: string, body: Readable, chunkSize: number, options: PutOptions): Promise<PutResult> {
    const metadata = this.sdkMetadata(options);
    const preconditionOpts = options.ifAbsent ? { ifGenerationMatch: 0 } : undefined;
    const upload = this.file(key, this.uploadBucket);
    let size = 0;
    const counted = Readable.from((async function* () {
      for await (const chunk of body) { size += (chunk as Buffer).length; yield chunk as Buffer; }
    })(), { objectMode: false });
    // The session is created first, on its own: the SDK's write stream drops useAuthWithCustomEndpoint when it
    // creates sessions (7.22.0), which would send a custom endpoint an unauthenticated request. The chunk PUTs
    // need no credentials: the session URI authorizes them (as on GCS).
    const [uri] = await upload.createResumableUpload({ metadata, ...(preconditionOpts ? { preconditionOpts } : {}) });
    const writer = upload.createWriteStream({
      resumable: true, uri, chunkSize, metadata, validation: 'crc32c',
      ...(preconditionOpts ? { preconditionOpts } : {}),
    });
    await pipeline(counted, writer, ...(options.signal ? [{ signal: options.signal }] as const : []));
    return { key, size, ...etagOf(upload) };
  }

  private sdkMetadata(options: PutOptions): { contentType: string; metadata?: Record<string, string> } {
    const custom: Record<string, string> = { ...options.metadata, ...options.tags };
    return { contentType: options.contentType ?? 'application/octet-stream', ...(Object.keys(custom).length > 0 ? { metadata: custom } : {}) };
  }

  /** The upload URL of `key` (uploadType multipart or resumable), with the store's KMS key and a create-only condition. */
  private uploadUrl(key: string, uploadType: 'multipart' | 'resumable', ifAbsent = false): URL {
    const url = new URL(`${this.endpoint}/upload/storage/v1/b/${encodeURIComponent(this.config.bucket)}/o`);
    url.searchParams.set('uploadType', uploadType);
    url.searchParams.set('name', key);
    if (ifAbsent) url.searchParams.set('ifGenerationMatch', '0');
    if (this.config.kmsKeyName) url.searchParams.set('kmsKeyName', this.config.kmsKeyName);
    return url;
  }

  /** The object resource an upload sends: name, content type, custom metadata (tags too), the caller's MD5. */
  private resource(key: string, options: PutOptions): Record<string, unknown> {
    const custom: Record<string, string> = { ...options.metadata, ...options.tags };
    return {
      name: key, contentType: options.contentType ?? 'application/octet-stream', ...(Object.keys(custom).length > 0 ? { metadata: custom } : {}),
      ...(options.md5 ? { md5Hash: Buffer.from(options.md5).toString('base64') } : {}),
    };
  }

  /** As the SDK's validation does: an object holding bytes other than those sent is removed, then the put fails. */
  private async checkStored(key: string, sum: { differs(o: UploadedObject): string | undefined }, uploaded: UploadedObject): Promise<void> {
    const mismatch = sum.differs(uploaded);
    if (mismatch === undefined) return;
    await this.deleteOne(key).catch(() => undefined);
    throw new IntegrityError({ provider: 'gcs', operation: 'put', bucket: this.config.bucket, key },
      `GCS put on gs://${this.config.bucket}/${key}: checksum mismatch (${mismatch}); the object was deleted`);
  }

  /**
   * One multipart request (lean-upload.ts): the resource (content type, custom metadata, the MD5 when the caller
   * has it, which GCS then checks) and `size` bytes of `body`, whose CRC32C is compared with the one GCS reports.
   */
  private async putSingle(key: string, body: Readable, size: number, options: PutOptions): Promise<PutResult> {
    const contentType = options.contentType ?? 'application/octet-stream';
    const token = await this.accessToken();
    const sum = this.checksum();
    let uploaded: UploadedObject;
    try {
      uploaded = await leanMultipartUpload({
        url: this.uploadUrl(key, 'multipart', options.ifAbsent), headers: token ? { authorization: `Bearer ${token}` } : {},
        resource: this.resource(key, options), contentType, body, size,
        onChunk: (chunk) => sum.update(chunk), agent: this.agent, timeoutMs: this.config.timeoutMs,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (err) {
      body.destroy();
      throw err;
    }
    await this.checkStored(key, sum, uploaded);
    return {
      key, size, ...(uploaded.etag ? { etag: uploaded.etag } : {}),
      ...(uploaded.md5Hash ? { md5: Buffer.from(uploaded.md5Hash, 'base64').toString('hex') } : {}),
    };
  }

  /** CRC32C (native) of what is sent, compared with GCS's; MD5 where the native module is missing. */
  private checksum(): { update(chunk: Buffer): void; differs(o: UploadedObject): string | undefined } {
    const crc = this.crc32c?.();
    if (crc) {
      return { update: (c) => crc.update(c), differs: (o) => (o.crc32c !== undefined && o.crc32c !== crc.toString() ? `CRC32C ${o.crc32c} stored, ${crc.toString()} sent` : undefined) };
    }
    const md5 = createHash('md5');
    return {
      update: (c) => { md5.update(c); },
      differs: (o) => { const ours = md5.digest('base64'); return o.md5Hash !== undefined && o.md5Hash !== ours ? `MD5 ${o.md5Hash} stored, ${ours} sent` : undefined; },
    };
  }

  /** Whether a failed single request goes again through the SDK: a server error or a connection failure, nothing else. */
  private worthSdkRetry(err: unknown, options: PutOptions): boolean {
    if (options.signal?.aborted || err instanceof UploadSourceError || err instanceof PgstowError) return false;
    const status = gcsHttpStatus(err);
    return status === undefined || status >= 500 || status === 408 || status === 429;
  }

  private putError(err: unknown, key: string, options: PutOptions): unknown {
    if (options.signal?.aborted) return options.signal.reason;
    return this.error(err instanceof UploadSourceError ? err.original : err, 'put', key);
  }

  async get(key: string, options: GetOptions = {}): Promise<Readable> {
    assertValidKey(key);
    await this.ready();
    let pinned: ObjectResource | undefined;
    if (this.lean) {
      const got = await this.leanGet(this.lean, key, options);
      if (!(got instanceof UseSdk)) return got;
      pinned = got.pinned;
    }
    return this.sdkGet(key, options, pinned);
  }

  /**
   * A get on node:http: with onInfo, the object's metadata first and the media of that generation, as the SDK path
   * does; UseSdk (with the metadata already reported, if it was) for anything but a 2xx or a 404.
   */
  private async leanGet(t: LeanTarget, key: string, options: GetOptions): Promise<Readable | (UseSdk & { pinned?: ObjectResource })> {
    let pinned: ObjectResource | undefined;
    if (options.onInfo) {
      const md = await this.leanMetadata(t, key, 'get', options.signal);
      if (md instanceof UseSdk) return md;
      options.onInfo(infoOf(key, md));
      pinned = md;
    }
    const range = options.range;
    const headers: Record<string, string> = { ...(await this.authHeader()) };
    if (range) headers.range = `bytes=${range.start}-${range.end ?? ''}`;
    const url = objectUrl(t, key, { alt: 'media', ...(pinned?.generation ? { generation: pinned.generation } : {}) });
    const res = await leanRequest(t, 'GET', url, headers, options.signal);
    if (res instanceof UseSdk) {
      if (res.status === 404) throw this.error(notFound(this.config.bucket, key), 'get', key);
      return Object.assign(res, pinned ? { pinned } : {});
    }
    const whole = range === undefined;
    const encoding = [res.headers['content-encoding'], res.headers['x-goog-stored-content-encoding']].filter((e) => e && e !== 'identity');
    // A range answered whole, or bytes the server transcoded (not what the hashes describe): the SDK path's to read.
    if ((range && res.statusCode !== 206) || encoding.length > 0) {
      res.resume();
      return Object.assign(new UseSdk('answer not taken'), pinned ? { pinned } : {});
    }
    const expected = whole ? this.downloadCheck(res.headers) : undefined;
    const length = Number(res.headers['content-length'] ?? NaN);
    const out = Readable.from(mediaBody(res, length, expected, options.signal, (err) => this.error(err, 'get', key)), { objectMode: false });
    return options.signal ? addAbortSignal(options.signal, out) : out;
  }

  /**
   * What a whole download is checked against, as the SDK's validation does: the CRC32C GCS reports (x-goog-hash),
   * computed natively, else its MD5; nothing when the answer carries neither.
   */
  private downloadCheck(headers: httpT.IncomingHttpHeaders): { update(c: Buffer): void; matches(): boolean } | undefined {
    const hashes = new Map<string, string>();
    for (const part of String(headers['x-goog-hash'] ?? '').split(',')) {
      const i = part.indexOf('=');
      if (i > 0) hashes.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
    }
    const crcWanted = hashes.get('crc32c');
    const crc = crcWanted !== undefined ? this.crc32c?.() : undefined;
    if (crc) return { update: (c) => crc.update(c), matches: () => crc.toString() === crcWanted };
    const md5Wanted = hashes.get('md5');
    if (md5Wanted === undefined) return undefined;
    const md5 = createHash('md5');
    return { update: (c) => { md5.update(c); }, matches: () => md5.digest('base64') === md5Wanted };
  }

  /** The SDK's read (from the metadata the lean path already reported, when it did). */
  private async sdkGet(key: string, options: GetOptions, pinned: ObjectResource | undefined): Promise<Readable> {
    const range = options.range;
    const file = pinned ? this.pinnedFile(key, pinned.generation) : await this.fileToRead(key, options);
    const stream = file.createReadStream(range ? { start: range.start, ...(range.end !== undefined ? { end: range.end } : {}) } : {});
    const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    let first: IteratorResult<Buffer>;
    try {
      // Wait for the response so a missing key fails here, before the caller gets a stream.
      first = await it.next();
    } catch (err) {
      stream.destroy();
      throw this.error(err, 'get', key);
    }
    const classify = (err: unknown): Error => this.error(err, 'get', key);
    const out = Readable.from((async function* () {
      let done = first.done === true;
      try {
        if (!done) yield first.value;
        while (!done) {
          const r = await it.next();
          done = r.done === true;
          if (!done) yield r.value;
        }
      } catch (err) {
        throw classify(err);
      } finally {
        if (!done) stream.destroy();
      }
    })(), { objectMode: false });
    return options.signal ? addAbortSignal(options.signal, out) : out;
  }

  async stat(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectInfo> {
    assertValidKey(key);
    await this.ready();
    const md = this.lean ? await this.leanMetadata(this.lean, key, 'stat', options.signal) : undefined;
    if (md !== undefined && !(md instanceof UseSdk)) return infoOf(key, md);
    try {
      const [sdkMd] = await this.file(key).getMetadata();
      return toInfo(key, sdkMd as GcsObjectMetadata);
    } catch (err) {
      throw this.error(err, 'stat', key);
    }
  }

  async exists(key: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    assertValidKey(key);
    await this.ready();
    const md = this.lean ? await this.leanMetadata(this.lean, key, undefined, options.signal) : undefined;
    if (md !== undefined && !(md instanceof UseSdk)) return true;
    if (md?.status === 404) return false;
    try {
      const [found] = await this.file(key).exists();
      return found;
    } catch (err) {
      throw this.error(err, 'exists', key);
    }
  }

  /**
   * The object's metadata on node:http. A 404 throws ObjectNotFoundError for a get or a stat (the SDK path's
   * classification of any 404 there), and is UseSdk with that status for exists(); anything else not taken is UseSdk.
   */
  private async leanMetadata(t: LeanTarget, key: string, operation: 'get' | 'stat' | undefined, signal?: AbortSignal): Promise<ObjectResource | UseSdk> {
    const res = await leanRequest(t, 'GET', objectUrl(t, key), await this.authHeader(), signal);
    if (res instanceof UseSdk) {
      if (res.status === 404 && operation) throw this.error(notFound(this.config.bucket, key), operation, key);
      return res;
    }
    const json = await readJson(res, signal);
    if (json instanceof UseSdk) return json;
    const md = parseObject(json);
    return md && md.name === key ? md : new UseSdk('object metadata not understood');
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo | CommonPrefix> {
    assertValidPrefix(prefix);
    await this.ready();
    const t = this.lean;
    if (!t) { yield* this.sdkList(prefix, options); return; }
    const startAfter = options.startAfter;
    const seenPrefixes = new Set<string>();
    yield* leanListing(async (pageToken) => {
      options.signal?.throwIfAborted();
      const query: Record<string, string> = { prefix, maxResults: String(LIST_PAGE_SIZE) };
      if (options.delimiter) query.delimiter = options.delimiter;
      if (pageToken) query.pageToken = pageToken;
      if (startAfter !== undefined) query.startOffset = startAfter;
      const res = await leanRequest(t, 'GET', listUrl(t, query), await this.authHeader(), options.signal);
      if (res instanceof UseSdk) return undefined;
      const json = await readJson(res, options.signal);
      const page = json instanceof UseSdk ? undefined : parseListPage(json);
      if (!page) return undefined;
      return { entries: pageEntries(page.objects, page.prefixes, seenPrefixes, startAfter), ...(page.next ? { next: page.next } : {}) };
    }, async () => this.sdkList(prefix, options));
  }

  private async *sdkList(prefix: string, options: ListOptions): AsyncIterable<ObjectInfo | CommonPrefix> {
    const startAfter = options.startAfter;
    const seenPrefixes = new Set<string>();
    let pageToken: string | undefined;
    do {
      if (options.signal?.aborted) throw options.signal.reason;
      let files: File[];
      let next: { pageToken?: string } | null | undefined;
      let response: { prefixes?: string[] } | undefined;
      try {
        [files, next, response] = await this.bucket.getFiles({
          prefix, autoPaginate: false, maxResults: LIST_PAGE_SIZE,
          ...(options.delimiter ? { delimiter: options.delimiter } : {}),
          ...(pageToken ? { pageToken } : {}),
          ...(startAfter !== undefined ? { startOffset: startAfter } : {}),
        }) as unknown as [File[], { pageToken?: string } | null, { prefixes?: string[] } | undefined];
      } catch (err) {
        throw this.error(err, 'list', prefix);
      }
      yield* pageEntries(files.map((f) => toInfo(f.name, f.metadata as GcsObjectMetadata)), response?.prefixes ?? [], seenPrefixes, startAfter);
      pageToken = next?.pageToken;
    } while (pageToken);
  }

  async delete(keys: readonly string[], options: { signal?: AbortSignal } = {}): Promise<void> {
    for (const k of keys) assertValidKey(k);
    if (keys.length === 0) return;
    await this.ready();
    const queue = [...new Set(keys)];
    const worker = async (): Promise<void> => {
      for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
        if (options.signal?.aborted) throw options.signal.reason;
        await this.deleteOne(key, options.signal);
      }
    };
    await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, queue.length) }, worker));
  }

  /** One object, a missing one included: on node:http (2xx or 404), else through the SDK. */
  private async deleteOne(key: string, signal?: AbortSignal): Promise<void> {
    if (this.lean) {
      const res = await leanRequest(this.lean, 'DELETE', objectUrl(this.lean, key), await this.authHeader(), signal);
      if (!(res instanceof UseSdk)) { res.resume(); return; }
      if (res.status === 404) return;
    }
    try {
      await this.file(key).delete({ ignoreNotFound: true });
    } catch (err) {
      throw this.error(err, 'delete', key);
    }
  }

  async close(): Promise<void> {
    // The SDK keeps no connections that need closing; sockets are released by the agent's keep-alive timeout.
    this.agent.destroy();
    this.releaseTrust();
  }

  /**
   * The file a get reads. A caller that wants the object's metadata (onInfo: the MD5 recorded at archive time)
   * gets it from one metadata request, and the read is pinned to that generation, so both describe one object
   * (a media download does not carry custom metadata).
   */
  private async fileToRead(key: string, options: GetOptions): Promise<File> {
    if (!options.onInfo) return this.file(key);
    let md: GcsObjectMetadata & { generation?: string | number };
    try {
      [md] = await this.file(key).getMetadata() as unknown as [GcsObjectMetadata & { generation?: string | number }];
    } catch (err) {
      throw this.error(err, 'get', key);
    }
    options.onInfo(toInfo(key, md));
    return this.pinnedFile(key, md.generation);
  }

  private pinnedFile(key: string, generation: string | number | undefined): File {
    return this.bucket.file(key, { ...(this.config.kmsKeyName ? { kmsKeyName: this.config.kmsKeyName } : {}), ...(generation !== undefined ? { generation: Number(generation) } : {}) });
  }

  private get bucket(): Bucket {
    return this.buckets().bucket;
  }

  /** Same bucket through the client with the long-upload retry budget (resumable uploads only). */
  private get uploadBucket(): Bucket {
    return this.buckets().uploadBucket;
  }

  private buckets(): { bucket: Bucket; uploadBucket: Bucket } {
    if (!this.sdkBuckets) {
      const c = this.clients();
      this.sdkBuckets = { bucket: c.storage.bucket(this.config.bucket), uploadBucket: (c.uploadStorage ?? c.storage).bucket(this.config.bucket) };
    }
    return this.sdkBuckets;
  }

  private file(key: string, bucket: Bucket = this.bucket): File {
    return bucket.file(key, this.config.kmsKeyName ? { kmsKeyName: this.config.kmsKeyName } : {});
  }

  private async authHeader(): Promise<Record<string, string>> {
    const token = await this.accessToken();
    return token ? { authorization: `Bearer ${token}` } : {};
  }

  /** Obtains the access token once, so credential problems are reported as such (not as a failed upload). */
  private ready(): Promise<void> {
    this.authenticated ??= this.authenticate().catch((err: unknown) => {
      this.authenticated = undefined;
      throw err;
    });
    return this.authenticated;
  }

  private async authenticate(): Promise<void> {
    if (!this.auth) return;
    const ctx = { bucket: this.config.bucket, endpoint: this.endpoint, credentials: this.config.auth.label, proxy: this.config.proxy };
    let token: string | undefined;
    try {
      token = await this.accessToken();
    } catch (err) {
      const classified = classifyGcsAuthError(err, ctx);
      if (this.config.auth.kind === 'application-default') {
        // The metadata server not answering (GKE metadata server not ready yet) must stay a retryable network
        // failure: for restore_command, exit 1 would read as "WAL not found".
        const host = this.config.auth.metadataHost;
        const unreachable = await probeMetadataServer(host);
        if (unreachable) {
          throw new StorageUnavailableError({ provider: 'gcs', operation: 'connect', bucket: this.config.bucket, cause: err },
            `no Google credentials: GOOGLE_APPLICATION_CREDENTIALS is not set and the metadata server at ${host} `
            + `is not reachable (${unreachable}); on GKE check workload identity, elsewhere set GOOGLE_APPLICATION_CREDENTIALS`);
        }
      }
      throw classified;
    }
    if (!token) {
      throw new InvalidCredentialsError({ provider: 'gcs', operation: 'connect', bucket: this.config.bucket },
        `no Google access token was issued by ${this.config.auth.label}`);
    }
  }

  /** The current access token (google-auth-library caches it until shortly before it expires); none without credentials. */
  private async accessToken(): Promise<string | undefined> {
    if (!this.auth) return undefined;
    const t: unknown = await this.auth.getAccessToken();
    const token = typeof t === 'object' && t !== null ? (t as { token?: string | null }).token : t as string | null | undefined;
    return token ?? undefined;
  }

  private error(err: unknown, operation: StorageOperation, key: string): Error {
    return classifyGcsError(err, { operation, bucket: this.config.bucket, key, endpoint: this.endpoint, credentials: this.config.auth.label, proxy: this.config.proxy });
  }
}

/** Undefined when the metadata server answers; otherwise why it did not (a system error code or "timeout"). */
function probeMetadataServer(host: string): Promise<string | undefined> {
  // node:http rather than fetch: fetch refuses some ports outright ("bad port").
  return new Promise((resolve) => {
    const req = http.get(`http://${host}/computeMetadata/v1/instance`, { headers: { 'Metadata-Flavor': 'Google' }, timeout: 1500 }, (res) => {
      res.resume();
      resolve(undefined);
    });
    req.on('timeout', () => { req.destroy(); resolve('timeout'); });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'no answer'));
  });
}

/**
 * One listing page's entries in order, as the SDK store yields them: entries at or before `startAfter` left out
 * (a prefix that `startAfter` is inside of kept: keys after it are under it), each prefix once (the Firebase
 * emulator repeats every prefix on every page).
 */
function pageEntries(objects: ObjectInfo[], prefixes: string[], seen: Set<string>, startAfter: string | undefined): ListEntry[] {
  const page: ListEntry[] = objects.filter((o) => startAfter === undefined || o.key > startAfter);
  for (const p of prefixes) {
    if (seen.has(p)) continue;
    seen.add(p);
    if (startAfter !== undefined && p <= startAfter && !startAfter.startsWith(p)) continue;
    page.push({ prefix: p });
  }
  return page.sort((a, b) => compare(nameOf(a), nameOf(b)));
}

/** A 404 in the shape classifyGcsError reads (the status), for the lean path's missing objects. */
function notFound(bucket: string, key: string): Error {
  return Object.assign(new Error(`No such object: ${bucket}/${key}`), { code: 404 });
}

/**
 * A lean download's bytes: as they come, then checked for length (a body that ended short) and, for a whole
 * object, against GCS's hash; a failure is classified as the SDK path's (a network error, or CONTENT_DOWNLOAD_MISMATCH).
 */
async function* mediaBody(res: Readable, length: number, check: { update(c: Buffer): void; matches(): boolean } | undefined,
  signal: AbortSignal | undefined, classify: (err: unknown) => Error): AsyncGenerator<Buffer> {
  let received = 0;
  let done = false;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      received += chunk.length;
      check?.update(chunk);
      yield chunk;
    }
    done = true;
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw classify(err);
  } finally {
    if (!done) res.destroy();
  }
  if (Number.isSafeInteger(length) && received !== length) {
    throw classify(Object.assign(new Error(`the download ended after ${received} of ${length} bytes`), { code: 'ECONNRESET' }));
  }
  if (check && !check.matches()) {
    throw classify(Object.assign(new Error('The downloaded data did not match the data from the server. To be sure the content is the same, you should download the file again.'),
      { code: 'CONTENT_DOWNLOAD_MISMATCH' }));
  }
}

function nameOf(e: ObjectInfo | CommonPrefix): string {
  return 'prefix' in e ? e.prefix : e.key;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function toInfo(key: string, md: GcsObjectMetadata): ObjectInfo {
  const custom: Record<string, string> = {};
  for (const [k, v] of Object.entries(md.metadata ?? {})) if (v !== null && v !== undefined) custom[k] = String(v);
  return {
    key,
    size: Number(md.size ?? 0),
    ...(md.updated ? { lastModified: new Date(md.updated) } : {}),
    ...(md.etag ? { etag: md.etag } : {}),
    ...(md.md5Hash ? { md5: Buffer.from(md.md5Hash, 'base64').toString('hex') } : {}),
    ...(Object.keys(custom).length > 0 ? { metadata: custom } : {}),
  };
}

/** The etag and MD5 (hex) GCS returned for the object just written. */
function etagOf(file: File): { etag?: string; md5?: string } {
  const meta = file.metadata as GcsObjectMetadata | undefined;
  const md5Hash = (meta as { md5Hash?: string } | undefined)?.md5Hash;
  return { ...(meta?.etag ? { etag: meta.etag } : {}), ...(md5Hash ? { md5: Buffer.from(md5Hash, 'base64').toString('hex') } : {}) };
}

/**
 * Reads from `source` until `limit` bytes or the end. `rest` replays what was read, then the remainder, so the
 * caller can switch to a chunked upload without holding more than `limit` bytes here.
 */
async function readUpTo(source: Readable, limit: number, signal?: AbortSignal): Promise<{ chunks: Buffer[]; ended: boolean; rest: AsyncIterable<Buffer> }> {
  const it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const chunks: Buffer[] = [];
  let total = 0;
  let ended = false;
  while (total <= limit) {
    if (signal?.aborted) throw signal.reason;
    const r = await it.next();
    if (r.done) { ended = true; break; }
    const b = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    chunks.push(b);
    total += b.length;
  }
  const rest = (async function* () {
    let finished = ended;
    try {
      yield* chunks.splice(0);
      while (!finished) {
        const r = await it.next();
        finished = r.done === true;
        if (!r.done) yield typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
      }
    } finally {
      if (!finished) await it.return?.();
    }
  })();
  return { chunks, ended, rest };
}

/** `first`, then the rest of `parts`, as one stream (the SDK's upload of a body the lean path began to read). */
function replay(first: Buffer, parts: AsyncIterator<Buffer>): Readable {
  return Readable.from((async function* () {
    yield first;
    for (let r = await parts.next(); !r.done; r = await parts.next()) yield r.value;
  })(), { objectMode: false });
}
