/**
 * The S3 store for static keys against an S3-compatible endpoint (restore_command and archive_command start one
 * per WAL segment; the plugin sidecar keeps one): the requests WAL archiving and restore make go out signed with
 * @smithy/signature-v4 on node:http/https, so such a process never loads the AWS SDK client (~900 KiB of
 * JavaScript, ~120 ms of CPU per process, measured for issue 15; its code and heap a large part of the sidecar's
 * memory, issue 12): GetObject and ListObjectsV2; PutObject of a body that fits one (create-only, Content-MD5,
 * metadata, tags, as the SDK store sends it); HeadObject; DeleteObject of one key. Every other operation, and any
 * request the lean path does not answer with a 2xx it understands (an error status other than a PUT's 412 or a
 * HEAD's 404, a refused or reset connection before the response, a listing it cannot parse), goes to the SDK
 * store, loaded then: its errors, retries and messages are exactly those of the SDK path (a PUT's body is produced
 * again for it). Only a request that timed out (no byte for --read-timeout) or was aborted fails here, so a hung
 * store costs one read timeout, not two.
 */
import type * as httpT from 'node:http';
import type { LookupFunction } from 'node:net';
import { Readable } from 'node:stream';
import { http, https } from '../../node-net.js';
import type {
  CommonPrefix, GetOptions, GetPieces, IncompleteUpload, ListOptions, ObjectInfo, ObjectStore, PutBody, PutOptions, PutResult, PutSource, StoreCapabilities,
} from '../../object-store.js';
import type { StorageOperation } from '../../errors.js';
import { assertValidKey, assertValidPrefix } from '../../object-store-helpers.js';
import { choosePartSize, SINGLE_PUT_MAX_BYTES, type S3Settings } from './config.js';
import { CreateOnlyGuard, type CreateOnlyRequests } from './create-only.js';
import { leanCall, SourceFailure, type LeanAnswer, type LeanCall } from '../../lean-http.js';
import { classifyS3Error } from './errors.js';
import { s3Capabilities, s3ObjectInfo, type S3ObjectHeaders } from './object-info.js';
import { escapeUri, s3Signer, type SignableRequest, type StaticKeys } from './signer.js';
import { parseListPage, type ListPage } from './list-xml.js';
import { leanListing } from '../../lean-listing.js';
import { rawGet, rawGetLent, RawUnsupported, type RawGetRequest } from './raw-get.js';

/** The SDK store behind this one, opened on first need with this store's capabilities object and create-only guard (shared). */
export type SdkStoreOpener = (capabilities: StoreCapabilities, createOnly: CreateOnlyGuard) => Promise<ObjectStore>;

/** The SDK store's PutObject without its create-only check (s3-store.ts), for a put this store has checked. */
interface SingleObjectPut {
  putSingleObject(key: string, data: Buffer | Readable, options: PutOptions, length?: number): Promise<PutResult>;
}

/** Bodies from this size are sent with Expect: 100-continue, as the SDK does by default (expectContinueHeader). */
const EXPECT_CONTINUE_FROM = 2 * 1024 * 1024;

export interface LeanReadsOptions {
  /** The keys to sign with now (a watched Secret may rotate them between requests). */
  keys: () => StaticKeys;
  httpAgent: httpT.Agent;
  httpsAgent: httpT.Agent;
  openSdkStore: SdkStoreOpener;
}

/** A read the lean path hands to the SDK store (the reason only helps debugging). */
class UseSdk { constructor(readonly why: string) {} }

export class LeanReadS3Store implements ObjectStore {
  readonly provider = 's3';
  readonly description: string;
  readonly capabilities: StoreCapabilities;
  private sdk: Promise<ObjectStore> | undefined;
  protected readonly sign: (req: SignableRequest) => Promise<SignableRequest>;
  private readonly endpoint: URL;
  private readonly createOnly: CreateOnlyGuard;

  constructor(private readonly settings: S3Settings, private readonly options: LeanReadsOptions) {
    this.description = `s3://${settings.bucket} at ${settings.endpointLabel}`;
    this.capabilities = s3Capabilities(settings);
    this.createOnly = new CreateOnlyGuard(this.capabilities, settings.bucket);
    this.sign = s3Signer(options.keys, settings.region);
    this.endpoint = new URL(settings.endpoint as string);
  }

  /** Lean reads need static keys and an endpoint URL (AWS itself keeps the SDK: region redirects, naming rules). */
  static suits(settings: S3Settings): boolean {
    return settings.endpoint !== undefined && settings.credentials.kind === 'static';
  }

  /** Plain HTTP straight to the endpoint: the raw GET (its own socket; through a proxy, node:http and the agent). */
  private rawReads(): boolean {
    return this.endpoint.protocol === 'http:' && this.settings.proxy === undefined;
  }

  private sdkStore(): Promise<ObjectStore> {
    this.sdk ??= this.options.openSdkStore(this.capabilities, this.createOnly);
    return this.sdk;
  }

  async get(key: string, options: GetOptions = {}): Promise<Readable> {
    assertValidKey(key);
    const headers = rangeHeaders(options);
    const raw = this.rawReads() ? await this.rawRequest(key, headers, options.signal, rawGet) : undefined;
    return this.getFrom(key, options, headers, raw);
  }

  /**
   * On plain HTTP the body is read into reused memory (raw-get.ts, rawGetLent); any other answer goes the ways
   * get() goes, without asking the raw path again.
   */
  async getPieces(key: string, options: GetOptions = {}): Promise<GetPieces> {
    assertValidKey(key);
    const headers = rangeHeaders(options);
    const slot = options.pieceBytes;
    const raw = this.rawReads() ? await this.rawRequest(key, headers, options.signal, (req) => rawGetLent(req, slot)) : undefined;
    if (raw === undefined || raw instanceof UseSdk) return { pieces: await this.getFrom(key, options, headers, raw), lent: false };
    options.onInfo?.(s3ObjectInfo(this.settings, key, objectHeaders(raw.headers), !options.range));
    raw.pieces.mapError = (err) => this.classify(err, 'get', key);
    return { pieces: raw.pieces, lent: true };
  }

  /** The body of a raw answer, else through node:http (no raw answer), else from the SDK store (UseSdk). */
  private async getFrom(key: string, options: GetOptions, headers: Record<string, string>,
    raw: { headers: Record<string, string>; body: Readable } | UseSdk | undefined): Promise<Readable> {
    let res: { headers: Record<string, string | string[] | undefined>; body: Readable } | UseSdk | undefined = raw;
    if (res === undefined) {
      const viaHttp = await this.request('get', key, {}, headers, options.signal);
      res = viaHttp instanceof UseSdk ? viaHttp : { headers: viaHttp.headers, body: viaHttp };
    }
    if (res instanceof UseSdk) return (await this.sdkStore()).get(key, options);
    options.onInfo?.(s3ObjectInfo(this.settings, key, objectHeaders(res.headers), !options.range));
    // Mid-stream failures (reset, timeout) surface as typed errors, as from the SDK store.
    const body = res.body;
    const origDestroy = body._destroy.bind(body);
    body._destroy = (err, cb) => origDestroy(err, (e) => cb(e ? this.classify(e, 'get', key) : e));
    return body;
  }

  /**
   * A GET with its body read from the socket (raw-get.ts: no copy of every byte by node:http's parser). An error
   * status is left to the SDK store as on the node:http path; an answer it does not read (chunked) to that path.
   */
  private async rawRequest<T>(key: string, headers: Record<string, string>, signal: AbortSignal | undefined,
    send: (req: RawGetRequest) => Promise<T | RawUnsupported>): Promise<T | UseSdk | undefined> {
    const { signed, path } = await this.signedTarget(key, {}, headers);
    const lookup = (this.options.httpAgent as { options?: { lookup?: LookupFunction } }).options?.lookup;
    try {
      const r = await send({
        host: signed.hostname.replace(/^\[(.*)\]$/, '$1'), port: signed.port ?? 80, path, headers: signed.headers,
        timeoutMs: this.settings.readTimeoutMs, ...(lookup ? { lookup } : {}), ...(signal ? { signal } : {}),
      });
      if (!(r instanceof RawUnsupported)) return r;
      return r.status !== undefined ? new UseSdk(r.why) : undefined;
    } catch (err) {
      if (signal?.aborted || isTimeout(err)) throw this.classify(err, 'get', key);
      return new UseSdk((err as Error).message);
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo | CommonPrefix> {
    assertValidPrefix(prefix);
    yield* leanListing(async (token) => {
      const page = await this.listPage(prefix, options, token);
      return page instanceof UseSdk ? undefined : { entries: page.entries, ...(page.nextToken ? { next: page.nextToken } : {}) };
    }, async () => (await this.sdkStore()).list(prefix, options));
  }

  private async listPage(prefix: string, options: ListOptions, token: string | undefined): Promise<ListPage | UseSdk> {
    const query: Record<string, string> = { 'list-type': '2', prefix };
    if (options.delimiter) query.delimiter = options.delimiter;
    if (token) query['continuation-token'] = token;
    else if (options.startAfter !== undefined) query['start-after'] = options.startAfter;
    const res = await this.request('list', undefined, query, {}, options.signal);
    if (res instanceof UseSdk) return res;
    let xml = '';
    res.setEncoding('utf8');
    try {
      for await (const chunk of res) xml += chunk as string;
    } catch (err) {
      if (options.signal?.aborted || isTimeout(err)) throw this.classify(err, 'list', prefix);
      return new UseSdk(`listing broke off: ${(err as Error).message}`);
    }
    return parseListPage(xml) ?? new UseSdk('listing not understood');
  }

  /**
   * One signed GET; the response when it is a 2xx, else UseSdk. Timeouts and aborts throw (classified as the
   * SDK store classifies them); every other failure before the response is left to the SDK store to repeat.
   */
  private async request(operation: 'get' | 'list', key: string | undefined, query: Record<string, string>,
    headers: Record<string, string>, signal: AbortSignal | undefined): Promise<httpT.IncomingMessage | UseSdk> {
    const { signed, path } = await this.signedTarget(key, query, headers);
    const secure = signed.protocol === 'https:';
    const ms = this.settings.readTimeoutMs;
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request({
        method: 'GET', protocol: signed.protocol, hostname: signed.hostname.replace(/^\[(.*)\]$/, '$1'), ...(signed.port ? { port: signed.port } : {}),
        path, headers: signed.headers,
        agent: secure ? this.options.httpsAgent : this.options.httpAgent, ...(signal ? { signal } : {}),
      }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) { resolve(res); return; }
        res.resume(); // the SDK store asks again and reads the error
        resolve(new UseSdk(`HTTP ${status}`));
      });
      // Barman's --read-timeout: no byte for this long fails the request, also mid-body (as the SDK's socketTimeout).
      req.setTimeout(ms, () => req.destroy(Object.assign(new Error(`no response within ${ms} ms`), { name: 'TimeoutError' })));
      req.on('error', (err) => {
        if (signal?.aborted || isTimeout(err)) reject(this.classify(err, operation, key ?? query.prefix));
        else resolve(new UseSdk(err.message));
      });
      req.end();
    });
  }

  /** The signed request and its path with the query string (a body given is hashed into the signature, as the SDK does). */
  private async signedTarget(key: string | undefined, query: Record<string, string>, headers: Record<string, string>, method = 'GET', body?: Buffer):
    Promise<{ signed: SignableRequest; path: string }> {
    const signed = await this.sign({ ...this.target(key, query, headers, method), ...(body ? { body } : {}) });
    const search = Object.entries(signed.query).map(([k, v]) => `${escapeUri(k)}=${escapeUri(v)}`).join('&');
    return { signed, path: search ? `${signed.path}?${search}` : signed.path };
  }

  /** Where a read goes: path style (endpoint/bucket/key) or virtual-host style (bucket.endpoint/key). */
  protected target(key: string | undefined, query: Record<string, string>, headers: Record<string, string>, method: string): SignableRequest {
    const e = this.endpoint;
    const base = e.pathname.replace(/\/+$/, '');
    const objectPath = key === undefined ? '' : key.split('/').map(escapeUri).join('/');
    const pathStyle = this.settings.forcePathStyle;
    const hostname = pathStyle ? e.hostname : `${this.settings.bucket}.${e.hostname}`;
    const path = pathStyle ? `${base}/${this.settings.bucket}${key === undefined ? '' : `/${objectPath}`}` : `${base}/${objectPath}`;
    const port = e.port === '' ? undefined : Number(e.port);
    return {
      method, protocol: e.protocol, hostname, ...(port !== undefined ? { port } : {}), path, query,
      headers: { ...headers, host: port !== undefined ? `${hostname}:${port}` : hostname },
    };
  }

  protected classify(err: unknown, operation: StorageOperation, key: string | undefined): Error {
    return classifyS3Error(err, {
      operation, bucket: this.settings.bucket, endpoint: this.settings.endpointLabel, accessKeyId: this.options.keys().accessKeyId,
      ...(key !== undefined ? { key } : {}),
    });
  }

  /**
   * A put of one PutObject (bytes, or a reopenable stream of known length, that fit one part as the SDK store
   * decides) goes out here, after the same create-only probe and check; any other put goes to the SDK store. An
   * answer other than 2xx or 412, or a connection that failed before one, is handed to the SDK store with the body
   * produced again: it sends the same PutObject and reads the error as the SDK path does.
   */
  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<PutResult> {
    assertValidKey(key);
    const length = this.singlePutLength(body, options);
    if (length === undefined || !(body instanceof Uint8Array || typeof body === 'function')) return (await this.sdkStore()).put(key, body, options);
    if (options.ifAbsent) await this.createOnly.check(key, this.createOnlyRequests);
    return this.putSingle(key, body, length, options);
  }

  /** The length of a put the SDK store would send as one PutObject, else undefined (s3-store.ts: put). */
  private singlePutLength(body: PutBody, options: PutOptions): number | undefined {
    if (this.settings.requestChecksumCalculation !== 'WHEN_REQUIRED') return undefined; // the SDK adds checksums then
    const expected = options.contentLength ?? options.sizeHint ?? (body instanceof Uint8Array ? body.length : undefined);
    const partSize = choosePartSize(this.settings, expected, options.partSize);
    const singleMax = this.settings.partSize > 0 ? partSize : Math.max(partSize, SINGLE_PUT_MAX_BYTES);
    if (body instanceof Uint8Array) return body.length <= singleMax ? body.length : undefined;
    if (typeof body === 'function' && options.contentLength !== undefined && options.contentLength <= singleMax) return options.contentLength;
    return undefined;
  }

  private async putSingle(key: string, body: PutSource, length: number, options: PutOptions): Promise<PutResult> {
    const data = body instanceof Uint8Array ? Buffer.from(body.buffer, body.byteOffset, body.byteLength) : body();
    const headers: Record<string, string> = { 'content-length': String(length), 'content-type': options.contentType ?? 'application/octet-stream' };
    if (options.ifAbsent) headers['if-none-match'] = '*';
    if (options.md5) headers['content-md5'] = Buffer.from(options.md5).toString('base64');
    if (this.settings.encryption) headers['x-amz-server-side-encryption'] = this.settings.encryption;
    if (this.settings.sseKmsKeyId) headers['x-amz-server-side-encryption-aws-kms-key-id'] = this.settings.sseKmsKeyId;
    if (options.tags && Object.keys(options.tags).length > 0) headers['x-amz-tagging'] = new URLSearchParams(Object.entries(options.tags)).toString();
    for (const [name, value] of Object.entries(options.metadata ?? {})) headers[`x-amz-meta-${name}`] = value;
    // As the SDK sends them: a streamed body unsigned, bytes with their SHA-256; Expect from 2 MiB (its default).
    if (!Buffer.isBuffer(data)) headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
    if (this.settings.expectContinue && length >= EXPECT_CONTINUE_FROM) headers.expect = '100-continue';
    const answer = await this.call('PUT', 'put', key, headers, data, options.signal);
    // 412: the object exists (If-None-Match), whatever the error document says (errors.ts reads the status alone).
    if (!(answer instanceof UseSdk) && answer.status === 412) {
      throw this.classify(Object.assign(new Error('PreconditionFailed'), { name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } }), 'put', key);
    }
    if (answer instanceof UseSdk || answer.status < 200 || answer.status >= 300) {
      const sdk = await this.sdkStore() as ObjectStore & Partial<SingleObjectPut>;
      if (!sdk.putSingleObject) return sdk.put(key, body, options);
      return sdk.putSingleObject(key, typeof body === 'function' ? body() : data, options, length);
    }
    // A single PUT's ETag is the MD5 of the stored bytes, except under SSE-KMS (an opaque value).
    const etagHeader = one(answer.headers, 'etag');
    const etag = etagHeader?.replace(/"/g, '');
    const md5 = this.settings.encryption !== 'aws:kms' && etag && /^[0-9a-f]{32}$/i.test(etag) ? etag.toLowerCase() : undefined;
    return { key, size: length, ...(etagHeader ? { etag: etagHeader } : {}), ...(md5 ? { md5 } : {}) };
  }

  /** What the create-only probe sends through the lean path (create-only.ts). */
  private readonly createOnlyRequests: CreateOnlyRequests = {
    putProbe: (probe, body) => this.putSingle(probe, body, body.length, { ifAbsent: true }),
    deleteProbe: (probe) => this.delete([probe]),
    exists: (k) => this.exists(k),
  };

  /** HeadObject; any answer but a 2xx (a missing key: the SDK store tells a missing bucket apart) goes to the SDK store. */
  async stat(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectInfo> {
    assertValidKey(key);
    const answer = await this.call('HEAD', 'stat', key, {}, undefined, options.signal);
    if (answer instanceof UseSdk || answer.status < 200 || answer.status >= 300) return (await this.sdkStore()).stat(key, options);
    const { md5: _md5, ...info } = s3ObjectInfo(this.settings, key, objectHeaders(answer.headers), true);
    return info; // callers of stat judge the ETag themselves, as from the SDK store
  }

  /** HeadObject: 2xx is true, 404 false (as the SDK store reads it); any other answer goes to the SDK store. */
  async exists(key: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    assertValidKey(key);
    const answer = await this.call('HEAD', 'exists', key, {}, undefined, options.signal);
    if (!(answer instanceof UseSdk) && answer.status >= 200 && answer.status < 300) return true;
    if (!(answer instanceof UseSdk) && answer.status === 404) return false;
    return (await this.sdkStore()).exists(key, options);
  }

  /**
   * One key: one DeleteObject, as the SDK store sends it for a single key (204 also for a missing key); any answer
   * but a 2xx goes to the SDK store. More keys (DeleteObjects, and its fallback) go to the SDK store.
   */
  async delete(keys: readonly string[], options: { signal?: AbortSignal } = {}): Promise<void> {
    for (const k of keys) assertValidKey(k);
    const key = keys[0];
    if (keys.length !== 1 || key === undefined) return (await this.sdkStore()).delete(keys, options);
    options.signal?.throwIfAborted();
    const answer = await this.call('DELETE', 'delete', key, {}, undefined, options.signal);
    if (answer instanceof UseSdk || answer.status < 200 || answer.status >= 300) await (await this.sdkStore()).delete(keys, options);
  }

  /**
   * One signed PUT, HEAD or DELETE of `key`. Timeouts and aborts throw (classified as the SDK store classifies
   * them), and so does a failure of the request body's own stream (rethrown as it is: not a store failure); every
   * other failure before an answer is left to the SDK store to repeat.
   */
  private async call(method: LeanCall['method'], operation: StorageOperation, key: string, headers: Record<string, string>,
    body: Buffer | Readable | undefined, signal: AbortSignal | undefined): Promise<LeanAnswer | UseSdk> {
    const { signed, path } = await this.signedTarget(key, {}, headers, method, Buffer.isBuffer(body) ? body : undefined);
    const secure = signed.protocol === 'https:';
    try {
      return await leanCall({
        method, protocol: signed.protocol, hostname: signed.hostname, ...(signed.port ? { port: signed.port } : {}), path, headers: signed.headers,
        ...(body ? { body } : {}), agent: secure ? this.options.httpsAgent : this.options.httpAgent, timeoutMs: this.settings.readTimeoutMs,
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (signal?.aborted) throw this.classify((err as Error).name === 'AbortError' ? err : abortError(signal), operation, key);
      if (err instanceof SourceFailure) throw err.original;
      if (isTimeout(err)) throw this.classify(err, operation, key);
      if (body instanceof Readable) body.destroy();
      return new UseSdk((err as Error).message);
    }
  }

  async createBucket(options?: { signal?: AbortSignal }): Promise<void> { return (await this.sdkStore()).createBucket?.(options); }

  async *listIncompleteUploads(prefix: string, options?: { signal?: AbortSignal }): AsyncIterable<IncompleteUpload> {
    const sdk = await this.sdkStore();
    if (sdk.listIncompleteUploads) yield* sdk.listIncompleteUploads(prefix, options);
  }

  async abortIncompleteUpload(upload: IncompleteUpload, options?: { signal?: AbortSignal }): Promise<void> {
    return (await this.sdkStore()).abortIncompleteUpload?.(upload, options);
  }

  async close(): Promise<void> {
    const sdk = this.sdk;
    this.sdk = undefined;
    this.options.httpAgent.destroy();
    this.options.httpsAgent.destroy();
    if (sdk) await (await sdk.catch(() => undefined))?.close();
  }
}

/** What an aborted request fails with when the abort surfaced as another error (the body's stream stopped first). */
function abortError(signal: AbortSignal): Error {
  return Object.assign(new Error('This operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR', cause: signal.reason as unknown });
}

function one(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function rangeHeaders(options: GetOptions): Record<string, string> {
  return options.range ? { range: `bytes=${options.range.start}-${options.range.end ?? ''}` } : {};
}

function isTimeout(err: unknown): boolean {
  return (err as { name?: string } | undefined)?.name === 'TimeoutError';
}


/** A GetObject response's headers as the SDK reads them (x-amz-meta-* → Metadata, lower-case names). */
function objectHeaders(h: Record<string, string | string[] | undefined>): S3ObjectHeaders {
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(h)) {
    if (name.startsWith('x-amz-meta-') && value !== undefined) metadata[name.slice('x-amz-meta-'.length)] = Array.isArray(value) ? value.join(', ') : value;
  }
  const length = one(h, 'content-length');
  const modified = one(h, 'last-modified');
  const etag = one(h, 'etag');
  const sse = one(h, 'x-amz-server-side-encryption');
  const ssec = one(h, 'x-amz-server-side-encryption-customer-algorithm');
  return {
    ...(length !== undefined ? { ContentLength: Number(length) } : {}),
    ...(modified !== undefined ? { LastModified: new Date(modified) } : {}),
    ...(etag !== undefined ? { ETag: etag } : {}),
    Metadata: metadata,
    ...(sse !== undefined ? { ServerSideEncryption: sse } : {}),
    ...(ssec !== undefined ? { SSECustomerAlgorithm: ssec } : {}),
  };
}
