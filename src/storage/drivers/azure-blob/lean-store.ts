/**
 * The Azure store for an account key or a SAS (AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN, a connection string):
 * the requests WAL archiving and restore make go out on node:http/https, signed with Shared Key (node:crypto's
 * HMAC, shared-key.ts) or carrying the SAS, so a wal-archive/wal-restore process or the plugin sidecar never loads
 * the Azure SDK (~86 MB RSS and ~170 ms of CPU for its import alone, issue 12): Put Blob of a body that fits one
 * (create-only If-None-Match, metadata, tags, encryption scope as the SDK store sends them), Get Blob (ranged),
 * Get Blob Properties, Delete Blob of one name, List Blobs; and a backup's streamed uploads as staged blocks (Put
 * Block, Put Block List, the discard on failure). Blob Batch, container creation and anything else go to the SDK
 * store, loaded then; so does every request the lean path does not answer with a 2xx
 * it understands (other than a Put Blob refused as existing, 409/412, and a missing blob's 404 for exists() and a
 * delete): connection failures before the answer, timeouts, every other status. The SDK store sends the request
 * again (a body produced again) with its retries, and its errors and messages are those of the SDK path.
 * Only an aborted request fails here. The S3 driver's lean-reads.ts is the same design.
 */
import { randomUUID } from 'node:crypto';
import type * as httpT from 'node:http';
import { Readable } from 'node:stream';
import { http, https } from '../../node-net.js';
import type {
  CommonPrefix, GetOptions, ListOptions, ObjectInfo, ObjectStore, PutBody, PutOptions, PutResult, StoreCapabilities,
} from '../../object-store.js';
import { ObjectExistsError, type StorageOperation } from '../../errors.js';
import { assertValidKey, assertValidPrefix, openBody } from '../../object-store-helpers.js';
import { VERSION } from '../../../version.js';
import { leanCall, type LeanAnswer, type LeanCall } from '../../lean-http.js';
import { azureBlockLimits, azureCapabilities, blockId, newUploadId } from './azure-blob-store.js';
import { blockSizeFor, type AzureTuning } from './config.js';
import { multipartPut, type MultipartRequests } from '../../multipart-upload.js';
import { classifyAzureError, cutMidDownload } from './errors.js';
import { parseBlobListPage, type BlobListPage } from './list-xml.js';
import { leanListing } from '../../lean-listing.js';
import { sharedKeyAuthorization } from './shared-key.js';

/** The service version the SDK (@azure/storage-blob 12.34) sends; the lean requests send the same. */
export const AZURE_SERVICE_VERSION = '2026-10-06';
const LIST_PAGE = '5000';
/** Re-requests of the rest of a download after its body broke off (the SDK store's maxRetryRequests). */
const DOWNLOAD_RESUMES = 3;

export interface LeanAzureSettings {
  accountName: string;
  /** Service URL (Azurite's carries the account in its path), no trailing slash. */
  endpoint: string;
  containerName: string;
  /** Exactly one: the decoded account key (Shared Key) or the SAS query string. */
  accountKey?: Buffer;
  sas?: string;
  /** Where the credential came from, for messages (describeAuth). */
  credential: string;
  tuning: AzureTuning;
  encryptionScope?: string;
  /** The SDK's tryTimeoutInMs: no answer for this long hands the request to the SDK store (which retries). */
  readTimeoutMs?: number;
  /** The proxy the requests go through, without its credentials (proxyLabel), for messages. */
  proxy?: string;
}

export interface LeanAzureOptions {
  httpAgent: httpT.Agent;
  httpsAgent: httpT.Agent;
  /** The SDK store, opened on first need. */
  openSdkStore: () => Promise<ObjectStore>;
}

/** A request the lean path hands to the SDK store (the reason only helps debugging). */
class UseSdk { constructor(readonly why: string, readonly status?: number, readonly code?: string) {} }

export class LeanAzureBlobStore implements ObjectStore {
  readonly provider = 'azure-blob';
  readonly description: string;
  readonly capabilities: StoreCapabilities;
  private sdk: Promise<ObjectStore> | undefined;
  private readonly url: URL;
  private readonly containerPath: string;

  constructor(private readonly settings: LeanAzureSettings, private readonly options: LeanAzureOptions) {
    this.description = `azure-blob ${settings.endpoint}/${settings.containerName} (credential: ${settings.credential})`;
    this.capabilities = azureCapabilities(settings.tuning);
    this.url = new URL(settings.endpoint);
    this.containerPath = `${this.url.pathname.replace(/\/+$/, '')}/${encodeURIComponent(settings.containerName)}`;
  }

  private sdkStore(): Promise<ObjectStore> {
    this.sdk ??= this.options.openSdkStore();
    return this.sdk;
  }

  private classify(err: unknown, operation: StorageOperation, key?: string): Error {
    return classifyAzureError(err, {
      operation, container: this.settings.containerName, endpoint: this.settings.endpoint, credential: this.settings.credential,
      credentialKind: this.settings.accountKey ? 'key' : 'sas', ...(key !== undefined ? { key } : {}), proxy: this.settings.proxy,
    });
  }

  /** A Put Blob of bytes or a reopenable stream of known length up to singlePutSize; any other put to the SDK store. */
  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<PutResult> {
    assertValidKey(key);
    const length = this.singlePutLength(body, options);
    if (length === undefined && this.sendsBlocks(options)) return this.putBlocks(key, body, options);
    if (length === undefined || !(body instanceof Uint8Array || typeof body === 'function')) return (await this.sdkStore()).put(key, body, options);
    const data = body instanceof Uint8Array ? Buffer.from(body.buffer, body.byteOffset, body.byteLength) : body();
    const answer = await this.call('PUT', 'put', key, {}, putHeaders(options, this.settings.encryptionScope, length), data, options.signal);
    // The blob exists (If-None-Match) exactly when the SDK store says so: errors.ts reads the status and code.
    if (answer instanceof UseSdk) this.throwIfExists(answer, key);
    if (answer instanceof UseSdk) return (await this.sdkStore()).put(key, body, options);
    const etag = one(answer.headers, 'etag');
    const md5 = one(answer.headers, 'content-md5');
    // Put Blob answers with the Content-MD5 the service computed over what it stored.
    return { key, size: length, ...(etag ? { etag } : {}), ...(md5 ? { md5: Buffer.from(md5, 'base64').toString('hex') } : {}) };
  }

  /**
   * Whether a put the SDK store would send as staged blocks goes out here: metadata names it signs, and not a
   * one-shot stream of a length that fits one Put Blob (the SDK store reads that whole into one request).
   */
  private sendsBlocks(options: PutOptions): boolean {
    if (options.metadata && Object.keys(options.metadata).some((n) => !/^[a-z][a-z0-9]*$/.test(n))) return false;
    return options.contentLength === undefined || options.contentLength > this.settings.tuning.singlePutSize;
  }

  /**
   * Staged blocks (Put Block) made visible at once (Put Block List), in the loop of S3's multipart uploads and the
   * SDK store's blocks (multipart-upload.ts: block size, blocks in flight, reused block buffers, the discard on failure), so a
   * backup's volumes go out without the Azure SDK (loading it cost a backup process ~10 MiB of peak RSS: 97.5 → 87.9 MiB at 120 MB, issue 15.3).
   * A body of one block is one Put Blob. Each request the lean path does not answer with a 2xx goes to the SDK
   * store's block requests (blockRequests), which send it again with their retries, errors and messages.
   */
  private putBlocks(key: string, body: PutBody, options: PutOptions): Promise<PutResult> {
    const blockSize = blockSizeFor(this.settings.tuning, options.sizeHint ?? options.contentLength, options.partSize);
    return multipartPut(key, openBody(body), blockSize, options, azureBlockLimits(this.settings.containerName, this.settings.tuning.concurrency),
      this.blockRequests(key, options));
  }

  private blockRequests(key: string, options: PutOptions): MultipartRequests {
    const sdk = async (): Promise<MultipartRequests> => {
      const store = await this.sdkStore() as ObjectStore & Partial<{ blockRequests(key: string, options: PutOptions): MultipartRequests }>;
      if (!store.blockRequests) throw new Error(`the store behind ${this.description} stages no blocks`);
      return store.blockRequests(key, options);
    };
    const { contentLength: _known, ...single } = options;
    const scope: Record<string, string> = this.settings.encryptionScope ? { 'x-ms-encryption-scope': this.settings.encryptionScope } : {};
    return {
      single: (data) => this.put(key, data, single),
      create: async () => newUploadId(),
      part: async (uploadId, n, data, signal) => {
        const headers = { ...scope, 'content-type': 'application/octet-stream', 'content-length': String(data.length) };
        const answer = await this.call('PUT', 'put', key, { comp: 'block', blockid: blockId(uploadId, n) }, headers, data, signal);
        return answer instanceof UseSdk ? (await sdk()).part(uploadId, n, data, signal) : undefined;
      },
      complete: async (uploadId, parts, signal) => {
        const xml = blockListXml(parts.map((p) => blockId(uploadId, p.PartNumber)));
        const headers: Record<string, string> = { ...putHeaders(options, this.settings.encryptionScope, xml.length), 'content-type': 'application/xml' };
        delete headers['x-ms-blob-type'];
        const answer = await this.call('PUT', 'put', key, { comp: 'blocklist' }, headers, xml, signal);
        if (answer instanceof UseSdk) {
          this.throwIfExists(answer, key);
          return (await sdk()).complete(uploadId, parts, signal);
        }
        return one(answer.headers, 'etag');
      },
      abort: async (uploadId) => {
        // As the SDK store's discardUncommitted: an empty list committed only if no blob exists, then that very blob deleted.
        const empty = blockListXml([]);
        const answer = await this.call('PUT', 'put', key, { comp: 'blocklist' },
          { 'content-type': 'application/xml', 'content-length': String(empty.length), 'if-none-match': '*' }, empty, undefined).catch(() => undefined);
        if (answer instanceof UseSdk && answer.status !== 409 && answer.status !== 412) { await (await sdk()).abort(uploadId); return; }
        const etag = answer && !(answer instanceof UseSdk) ? one(answer.headers, 'etag') : undefined;
        if (etag) await this.call('DELETE', 'delete', key, {}, { 'if-match': etag }, undefined, undefined).catch(() => undefined);
      },
    };
  }

  /** A create-only write refused as existing (409/412) throws ObjectExistsError, as errors.ts reads the SDK's answer. */
  private throwIfExists(answer: UseSdk, key: string): void {
    if (answer.status !== 409 && answer.status !== 412) return;
    const err = this.classify({ statusCode: answer.status, details: { errorCode: answer.code }, message: answer.why }, 'put', key);
    if (err instanceof ObjectExistsError) throw err;
  }

  /** The length of a put the SDK store sends as one Put Blob, when the lean path sends it too; else undefined. */
  private singlePutLength(body: PutBody, options: PutOptions): number | undefined {
    // Metadata names other than plain lower-case ones (case, "_") are the SDK's to sign and send.
    if (options.metadata && Object.keys(options.metadata).some((n) => !/^[a-z][a-z0-9]*$/.test(n))) return undefined;
    const max = this.settings.tuning.singlePutSize;
    if (body instanceof Uint8Array) return body.byteLength <= max ? body.byteLength : undefined;
    if (typeof body === 'function' && options.contentLength !== undefined && options.contentLength <= max) return options.contentLength;
    return undefined;
  }

  /** Get Blob Properties; any answer but a 2xx goes to the SDK store (which tells a missing container apart). */
  async stat(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectInfo> {
    assertValidKey(key);
    const answer = await this.call('HEAD', 'stat', key, {}, {}, undefined, options.signal);
    if (answer instanceof UseSdk) return (await this.sdkStore()).stat(key, options);
    return blobInfo(key, answer.headers, true);
  }

  /** Get Blob Properties: 2xx is true, 404 BlobNotFound false; any other answer goes to the SDK store. */
  async exists(key: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    assertValidKey(key);
    const answer = await this.call('HEAD', 'exists', key, {}, {}, undefined, options.signal);
    if (!(answer instanceof UseSdk)) return true;
    if (answer.status === 404 && answer.code === 'BlobNotFound') return false;
    return (await this.sdkStore()).exists(key, options);
  }

  /** One name: one Delete Blob, a missing blob included (deleteIfExists); more names (Blob Batch) to the SDK store. */
  async delete(keys: readonly string[], options: { signal?: AbortSignal } = {}): Promise<void> {
    for (const k of keys) assertValidKey(k);
    const key = keys[0];
    if (key === undefined) return; // nothing to delete: the SDK store sends no request either
    if (keys.length !== 1) return (await this.sdkStore()).delete(keys, options);
    options.signal?.throwIfAborted();
    const answer = await this.call('DELETE', 'delete', key, {}, {}, undefined, options.signal);
    if (answer instanceof UseSdk && !(answer.status === 404 && answer.code === 'BlobNotFound')) await (await this.sdkStore()).delete(keys, options);
  }

  async get(key: string, options: GetOptions = {}): Promise<Readable> {
    assertValidKey(key);
    const range = options.range;
    const offset = range?.start ?? 0;
    const end = range?.end;
    const res = await this.getResponse(key, offset, end, undefined, options.signal);
    if (res instanceof UseSdk) {
      res.body?.resume(); // the SDK store asks again and reads the error
      return (await this.sdkStore()).get(key, options);
    }
    const info = blobInfo(key, res.headers, !range);
    options.onInfo?.(info);
    const etag = info.etag;
    const total = info.size;
    // Body cut short or broken: the rest is asked for again, of the same blob (If-Match), as the SDK's download does.
    const resume = async (received: number): Promise<Readable | undefined> => {
      if (etag === undefined) return undefined;
      const more = await this.getResponse(key, offset + received, end, etag, options.signal).catch(() => undefined);
      return more instanceof UseSdk ? (more.body?.resume(), undefined) : more;
    };
    const signal = options.signal;
    const fail = (err: unknown): Error => (signal?.aborted || (err as { name?: string }).name === 'AbortError' ? this.classify(err, 'get', key)
      : cutMidDownload(err, this.settings.endpoint, this.settings.containerName, key));
    return Readable.from(downloadBody(res, total, resume, fail), { objectMode: false });
  }

  /** One Get Blob from `offset` (x-ms-range as the SDK sends it); the response when it is a 2xx, else UseSdk. */
  private async getResponse(key: string, offset: number, end: number | undefined, ifMatch: string | undefined, signal: AbortSignal | undefined):
    Promise<httpT.IncomingMessage | (UseSdk & { body?: Readable })> {
    const headers: Record<string, string> = {};
    if (offset > 0 || end !== undefined) headers['x-ms-range'] = `bytes=${offset}-${end ?? ''}`;
    if (ifMatch) headers['if-match'] = ifMatch;
    return this.open('GET', 'get', key, {}, headers, signal);
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo | CommonPrefix> {
    assertValidPrefix(prefix);
    // List Blobs has no start-after: the entries up to it are read and skipped.
    yield* leanListing(async (marker) => {
      const page = await this.listPage(prefix, options, marker);
      return page instanceof UseSdk ? undefined : { entries: page.entries, ...(page.nextMarker ? { next: page.nextMarker } : {}) };
    }, async () => (await this.sdkStore()).list(prefix, options), options.startAfter);
  }

  private async listPage(prefix: string, options: ListOptions, marker: string | undefined): Promise<BlobListPage | UseSdk> {
    // The SDK's parameters for listBlobsFlat/listBlobsByHierarchy with maxPageSize 5000 (the SDK store's page).
    const query: Record<string, string> = { comp: 'list', prefix, maxresults: LIST_PAGE, restype: 'container' };
    if (options.delimiter === '/') query.delimiter = '/';
    if (marker) query.marker = marker;
    const res = await this.open('GET', 'list', undefined, query, {}, options.signal);
    if (res instanceof UseSdk) { res.body?.resume(); return res; }
    let xml = '';
    res.setEncoding('utf8');
    try {
      for await (const chunk of res) xml += chunk as string;
    } catch (err) {
      if (options.signal?.aborted) throw this.classify(err, 'list', prefix);
      return new UseSdk(`listing broke off: ${(err as Error).message}`);
    }
    return parseBlobListPage(xml) ?? new UseSdk('listing not understood');
  }

  /** The path with its query string, and the headers (signed with the account key, or the SAS in the query). */
  private target(method: string, key: string | undefined, query: Record<string, string>, extra: Record<string, string>): { path: string; headers: Record<string, string> } {
    const path = key === undefined ? this.containerPath : `${this.containerPath}/${key.split('/').map(encodeURIComponent).join('/')}`;
    const headers: Record<string, string> = {
      ...extra, 'x-ms-version': AZURE_SERVICE_VERSION, accept: 'application/xml', 'user-agent': `pgstow/${VERSION} Node/${process.version}`,
      'x-ms-client-request-id': randomUUID(), 'x-ms-date': new Date().toUTCString(),
    };
    const s = this.settings;
    if (s.accountKey) headers.authorization = sharedKeyAuthorization(s.accountName, s.accountKey, method, path, query, headers);
    const search = [...Object.entries(query).map(([k, v]) => `${k}=${encodeURIComponent(v)}`), ...(s.sas ? [s.sas] : [])].join('&');
    return { path: search ? `${path}?${search}` : path, headers };
  }

  /**
   * One request whose answer's body is read by the caller (GET): the response when it is a 2xx, else UseSdk with the
   * status, the service's error code and the unread body. Only an abort throws; every other failure is UseSdk.
   */
  private open(method: 'GET', operation: StorageOperation, key: string | undefined, query: Record<string, string>,
    extra: Record<string, string>, signal: AbortSignal | undefined): Promise<httpT.IncomingMessage | (UseSdk & { body?: Readable })> {
    const { path, headers } = this.target(method, key, query, extra);
    const secure = this.url.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request({
        method, protocol: this.url.protocol, hostname: this.url.hostname.replace(/^\[(.*)\]$/, '$1'), ...(this.url.port ? { port: Number(this.url.port) } : {}),
        path, headers, agent: secure ? this.options.httpsAgent : this.options.httpAgent, ...(signal ? { signal } : {}),
      }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) { resolve(res); return; }
        resolve(Object.assign(new UseSdk(`HTTP ${status}`, status, one(res.headers, 'x-ms-error-code')), { body: res }));
      });
      const ms = this.settings.readTimeoutMs;
      if (ms) req.setTimeout(ms, () => req.destroy(Object.assign(new Error(`no response within ${ms} ms`), { name: 'TimeoutError' })));
      req.on('error', (err) => {
        if (signal?.aborted) reject(this.classify(err, operation, key ?? query.prefix));
        else resolve(new UseSdk(err.message));
      });
      req.end();
    });
  }

  /** One PUT, HEAD or DELETE: its answer when it is a 2xx, else UseSdk (status and error code when there was one). */
  private async call(method: LeanCall['method'], operation: StorageOperation, key: string, query: Record<string, string>,
    extra: Record<string, string>, body: Buffer | Readable | undefined, signal: AbortSignal | undefined): Promise<LeanAnswer | UseSdk> {
    const { path, headers } = this.target(method, key, query, extra);
    const secure = this.url.protocol === 'https:';
    let answer: LeanAnswer;
    try {
      answer = await leanCall({
        method, protocol: this.url.protocol, hostname: this.url.hostname, ...(this.url.port ? { port: Number(this.url.port) } : {}), path, headers,
        ...(body ? { body } : {}), agent: secure ? this.options.httpsAgent : this.options.httpAgent,
        timeoutMs: this.settings.readTimeoutMs ?? 0, ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (signal?.aborted) throw this.classify((err as Error).name === 'AbortError' ? err : abortError(signal), operation, key);
      // A failed body stream (a local read) too: the SDK store opens it again and fails as the SDK path does.
      if (body instanceof Readable) body.destroy();
      return new UseSdk((err as Error).message);
    }
    if (answer.status >= 200 && answer.status < 300) return answer;
    return new UseSdk(`HTTP ${answer.status}`, answer.status, one(answer.headers, 'x-ms-error-code'));
  }

  async createBucket(options?: { signal?: AbortSignal }): Promise<void> { return (await this.sdkStore()).createBucket?.(options); }

  async close(): Promise<void> {
    const sdk = this.sdk;
    this.sdk = undefined;
    this.options.httpAgent.destroy();
    this.options.httpsAgent.destroy();
    if (sdk) await (await sdk.catch(() => undefined))?.close();
  }
}

/** A Put Block List body: the blocks in order, each the latest staged under its id (as the SDK sends it). */
function blockListXml(ids: string[]): Buffer {
  return Buffer.from(`<?xml version="1.0" encoding="utf-8"?><BlockList>${ids.map((id) => `<Latest>${id}</Latest>`).join('')}</BlockList>`);
}

/** The Put Blob headers the SDK store's upload() sends for these options (azure-blob-store.ts: writeOptions). */
function putHeaders(options: PutOptions, encryptionScope: string | undefined, length: number): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'content-length': String(length), 'x-ms-blob-type': 'BlockBlob' };
  for (const [name, value] of Object.entries(options.metadata ?? {})) headers[`x-ms-meta-${name}`] = value;
  if (options.ifAbsent) headers['if-none-match'] = '*';
  const tags = Object.entries(options.tags ?? {});
  if (tags.length > 0) headers['x-ms-tags'] = tags.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  if (encryptionScope) headers['x-ms-encryption-scope'] = encryptionScope;
  if (options.contentType) headers['x-ms-blob-content-type'] = options.contentType;
  return headers;
}

/**
 * A download's bytes: the first response's, then, when it broke off or ended short of `total`, up to
 * DOWNLOAD_RESUMES responses for the rest; the error of the last failure otherwise.
 */
async function* downloadBody(first: Readable, total: number, resume: (received: number) => Promise<Readable | undefined>,
  fail: (err: unknown) => Error): AsyncGenerator<Buffer> {
  let res: Readable = first;
  let received = 0;
  for (let resumes = 0; ; resumes++) {
    let broke: unknown;
    try {
      for await (const chunk of res) { received += (chunk as Buffer).length; yield chunk as Buffer; }
    } catch (err) {
      broke = err;
    }
    if (broke === undefined && received >= total) return;
    broke ??= Object.assign(new Error('the download ended early'), { code: 'ECONNRESET' });
    if ((broke as { name?: string }).name === 'AbortError' || resumes >= DOWNLOAD_RESUMES) throw fail(broke);
    const more = await resume(received);
    if (!more) throw fail(broke);
    res = more;
  }
}

/** ObjectInfo from Get Blob / Get Blob Properties headers, as the SDK store builds it (md5 only for the whole blob). */
function blobInfo(key: string, h: httpT.IncomingHttpHeaders, whole: boolean): ObjectInfo {
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(h)) {
    if (name.startsWith('x-ms-meta-') && value !== undefined) metadata[name.slice('x-ms-meta-'.length)] = Array.isArray(value) ? value.join(', ') : value;
  }
  const length = one(h, 'content-length');
  const modified = one(h, 'last-modified');
  const etag = one(h, 'etag');
  // A ranged Get Blob carries the whole blob's MD5 as x-ms-blob-content-md5; the SDK store reports it for whole reads only.
  const md5b64 = whole ? one(h, 'content-md5') ?? one(h, 'x-ms-blob-content-md5') : undefined;
  const md5 = md5b64 ? Buffer.from(md5b64, 'base64') : undefined;
  return {
    key, size: length !== undefined ? Number(length) : 0,
    ...(modified ? { lastModified: new Date(modified) } : {}),
    ...(etag ? { etag } : {}),
    ...(md5 && md5.length === 16 ? { md5: md5.toString('hex') } : {}),
    metadata,
  };
}

function one(h: httpT.IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(', ') : v;
}


/** What an aborted request fails with when the abort surfaced as another error (the body's stream stopped first). */
function abortError(signal: AbortSignal): Error {
  return Object.assign(new Error('This operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR', cause: signal.reason as unknown });
}
