/**
 * The lean S3 store (lean-reads.ts) with multipart uploads of its own: CreateMultipartUpload, UploadPart,
 * CompleteMultipartUpload and AbortMultipartUpload signed with the same signer on node:http/https, so a backup's
 * volumes go out without the AWS SDK client. Loading that client and its objects cost a backup process 5 MB of
 * V8 heap used and 12 MB committed (measured for issue 15.3: the heap is a quarter of a backup's peak RSS).
 * The upload loop is the SDK store's (multipart-upload.ts); each request this store does not understand (an error
 * status, a connection refused or reset before its answer, an answer it cannot read) is sent again through the
 * SDK client, loaded then, so errors, retries and messages are the SDK path's. A request that timed out or was
 * aborted fails here, as the lean reads do. Create-only uploads and other checksum modes keep the SDK path.
 */
import type * as httpT from 'node:http';
import { http, https } from '../../node-net.js';
import type { IncompleteUpload, ObjectStore, PutBody, PutOptions, PutResult } from '../../object-store.js';
import { assertValidKey, assertValidPrefix, openBody } from '../../object-store-helpers.js';
import { leanCall, type LeanAnswer } from '../../lean-http.js';
import { choosePartSize, SINGLE_PUT_MAX_BYTES, type S3Settings } from './config.js';
import { CreateOnlyGuard } from './create-only.js';
import type { StorageOperation } from '../../errors.js';
import { LeanReadS3Store, type LeanReadsOptions, type SdkStoreOpener } from './lean-reads.js';
import { multipartPut, type MultipartRequests } from '../../multipart-upload.js';
import { completeXml, parseCompleted, parseCreated, parsePartsPage, parseUploadsPage, type UploadsPage } from './multipart-xml.js';
import { escapeUri, type SignableRequest } from './signer.js';

/** Bodies from this size are sent with Expect: 100-continue, as the SDK does by default (expectContinueHeader). */
const EXPECT_CONTINUE_FROM = 2 * 1024 * 1024;

/** The SDK store's requests of one multipart upload (s3-store.ts). */
interface SdkMultipart { multipartRequests(key: string, options: PutOptions): MultipartRequests }

/** A request the lean path hands to the SDK client (the reason only helps debugging). */
class UseSdk { constructor(readonly why: string) {} }

interface Sent { status: number; headers: httpT.IncomingHttpHeaders; body: string }

export class LeanS3Store extends LeanReadS3Store {
  private readonly sdkOnce: () => Promise<ObjectStore>;
  /** Whether an upload's request went to the SDK client (tests: the lean reads' own flag does not see this class's). */
  private sdkUsed = false;
  /** The SDK store if either class opened it (the reads close only the one they opened themselves). */
  private readonly sdkIfOpened: () => Promise<ObjectStore> | undefined;

  constructor(private readonly mpSettings: S3Settings, private readonly mpOptions: LeanReadsOptions) {
    // One SDK store for both classes' fallbacks, whichever opens it first. The create-only guard the reads hand
    // over is private to them; a guard of its own here only matters for a create-only put made after this class
    // opened the store (it may then probe once more), and this class sends no create-only upload itself.
    let opened: Promise<ObjectStore> | undefined;
    const open: SdkStoreOpener = (capabilities, guard) => (opened ??= mpOptions.openSdkStore(capabilities, guard));
    super(mpSettings, { ...mpOptions, openSdkStore: open });
    this.sdkOnce = () => open(this.capabilities, new CreateOnlyGuard(this.capabilities, mpSettings.bucket));
    this.sdkIfOpened = () => opened;
  }

  /** Closing the SDK store twice (when the reads opened it too) only destroys its client again: harmless. */
  override async close(): Promise<void> {
    const sdk = this.sdkIfOpened();
    await super.close();
    if (sdk) await (await sdk.catch(() => undefined))?.close();
  }

  /** A streamed body the SDK store would send as a multipart upload goes out here; any other put as before. */
  override async put(key: string, body: PutBody, options: PutOptions = {}): Promise<PutResult> {
    assertValidKey(key);
    const partSize = this.leanPartSize(body, options);
    if (partSize === undefined) return super.put(key, body, options);
    return multipartPut(key, openBody(body), partSize, options, this.mpSettings, this.requests(key, options));
  }

  /** The part size of an upload the SDK store would make multipart and this store can send, else undefined. */
  private leanPartSize(body: PutBody, options: PutOptions): number | undefined {
    // Create-only uploads keep the guard's probe and check on the SDK path; other checksum modes add the SDK's.
    if (options.ifAbsent || this.mpSettings.requestChecksumCalculation !== 'WHEN_REQUIRED') return undefined;
    const expected = options.contentLength ?? options.sizeHint ?? (body instanceof Uint8Array ? body.length : undefined);
    const partSize = choosePartSize(this.mpSettings, expected, options.partSize);
    const singleMax = this.mpSettings.partSize > 0 ? partSize : Math.max(partSize, SINGLE_PUT_MAX_BYTES);
    if (body instanceof Uint8Array) return body.length <= singleMax ? undefined : partSize;
    if (typeof body === 'function' && options.contentLength !== undefined && options.contentLength <= singleMax) return undefined;
    return partSize;
  }

  private async sdkRequests(key: string, options: PutOptions): Promise<MultipartRequests> {
    this.sdkUsed = true;
    const sdk = await this.sdkOnce() as ObjectStore & Partial<SdkMultipart>;
    if (!sdk.multipartRequests) throw new Error(`the store behind ${this.description} sends no multipart uploads`);
    return sdk.multipartRequests(key, options);
  }

  /** Each request lean, and through the SDK client when the lean answer is not understood. */
  private requests(key: string, options: PutOptions): MultipartRequests {
    const q = (uploadId: string, more: Record<string, string> = {}): Record<string, string> => ({ ...more, uploadId });
    return {
      single: (data) => super.put(key, data, options),
      create: async (signal) => {
        const sent = await this.send('POST', key, { uploads: '' }, this.objectHeaders(options), undefined, signal);
        const id = sent instanceof UseSdk || !ok(sent.status) ? undefined : parseCreated(sent.body);
        return id ?? (await this.sdkRequests(key, options)).create(signal);
      },
      part: async (uploadId, n, data, signal) => {
        const headers: Record<string, string> = { 'content-length': String(data.length), 'content-type': 'application/octet-stream' };
        if (this.mpSettings.expectContinue && data.length >= EXPECT_CONTINUE_FROM) headers.expect = '100-continue';
        const sent = await this.send('PUT', key, q(uploadId, { partNumber: String(n) }), headers, data, signal);
        const etag = sent instanceof UseSdk || !ok(sent.status) ? undefined : one(sent.headers.etag);
        return etag ?? (await this.sdkRequests(key, options)).part(uploadId, n, data, signal);
      },
      complete: async (uploadId, parts, signal) => {
        const xml = Buffer.from(completeXml(parts));
        const sent = await this.send('POST', key, q(uploadId), { 'content-type': 'application/xml', 'content-length': String(xml.length) }, xml, signal);
        // S3 may answer 200 with an <Error> document: only a result naming the object's ETag is a completed upload.
        const etag = sent instanceof UseSdk || !ok(sent.status) ? undefined : parseCompleted(sent.body);
        return etag ?? (await this.sdkRequests(key, options)).complete(uploadId, parts, signal);
      },
      abort: async (uploadId) => {
        const sent = await this.send('DELETE', key, q(uploadId), {}, undefined, undefined).catch((err: unknown) => new UseSdk(String(err)));
        if (sent instanceof UseSdk || !ok(sent.status)) await (await this.sdkRequests(key, options)).abort(uploadId);
      },
    };
  }

  /**
   * The unfinished uploads under `prefix` with their newest part's time (what a backup's cleanup asks at its end),
   * read whole before the first is handed over: when any page is not a plain listing the SDK store lists them
   * instead, with its errors. A 501 (s3rver has no such API) lists none, as the SDK store reads it.
   */
  override async *listIncompleteUploads(prefix: string, options: { signal?: AbortSignal } = {}): AsyncIterable<IncompleteUpload> {
    assertValidPrefix(prefix);
    const uploads = await this.leanIncompleteUploads(prefix, options.signal);
    if (uploads === undefined) yield* super.listIncompleteUploads(prefix, options);
    else yield* uploads;
  }

  private async leanIncompleteUploads(prefix: string, signal: AbortSignal | undefined): Promise<IncompleteUpload[] | undefined> {
    const found: IncompleteUpload[] = [];
    let marker: UploadsPage['next'];
    do {
      const query: Record<string, string> = { uploads: '', prefix, ...(marker ? { 'key-marker': marker.keyMarker, 'upload-id-marker': marker.idMarker } : {}) };
      const sent = await this.send('GET', undefined, query, {}, undefined, signal, 'list');
      if (!(sent instanceof UseSdk) && sent.status === 501) return found;
      const page = sent instanceof UseSdk || !ok(sent.status) ? undefined : parseUploadsPage(sent.body);
      if (page === undefined) return undefined;
      for (const u of page.uploads) {
        const activity = await this.leanUploadActivity(u.key, u.id, u.initiated, signal);
        if (activity === undefined) return undefined;
        if (activity !== 'gone') found.push({ key: u.key, id: u.id, ...activity });
      }
      marker = page.next;
    } while (marker);
    return found;
  }

  /** ListParts: the upload's newest part and bytes; 'gone' when it finished meanwhile (404), undefined when not understood. */
  private async leanUploadActivity(key: string, uploadId: string, initiated: Date | undefined, signal: AbortSignal | undefined):
    Promise<{ lastActivity: Date; size: number } | 'gone' | undefined> {
    let last = initiated?.getTime() ?? 0;
    let size = 0;
    let marker: string | undefined;
    do {
      const query: Record<string, string> = { uploadId, ...(marker !== undefined ? { 'part-number-marker': marker } : {}) };
      const sent = await this.send('GET', key, query, {}, undefined, signal, 'list');
      if (!(sent instanceof UseSdk) && sent.status === 404 && /<Code>NoSuchUpload<\/Code>/.test(sent.body)) return 'gone';
      const page = sent instanceof UseSdk || !ok(sent.status) ? undefined : parsePartsPage(sent.body);
      if (page === undefined) return undefined;
      for (const p of page.parts) { last = Math.max(last, p.lastModified?.getTime() ?? 0); size += p.size; }
      marker = page.nextMarker;
    } while (marker !== undefined);
    return { lastActivity: new Date(last), size };
  }

  /** AbortMultipartUpload; any answer but a 2xx goes to the SDK store (it reads NoSuchUpload as done). */
  override async abortIncompleteUpload(upload: IncompleteUpload, options: { signal?: AbortSignal } = {}): Promise<void> {
    const sent = await this.send('DELETE', upload.key, { uploadId: upload.id }, {}, undefined, options.signal, 'delete');
    if (sent instanceof UseSdk || !ok(sent.status)) await super.abortIncompleteUpload(upload, options);
  }

  /** The object's headers on CreateMultipartUpload, as the SDK store sends them (s3-store.ts: objectParams). */
  private objectHeaders(options: PutOptions): Record<string, string> {
    const headers: Record<string, string> = {};
    if (options.contentType) headers['content-type'] = options.contentType;
    if (this.mpSettings.encryption) headers['x-amz-server-side-encryption'] = this.mpSettings.encryption;
    if (this.mpSettings.sseKmsKeyId) headers['x-amz-server-side-encryption-aws-kms-key-id'] = this.mpSettings.sseKmsKeyId;
    if (options.tags && Object.keys(options.tags).length > 0) headers['x-amz-tagging'] = new URLSearchParams(Object.entries(options.tags)).toString();
    for (const [name, value] of Object.entries(options.metadata ?? {})) headers[`x-amz-meta-${name}`] = value;
    return headers;
  }

  /**
   * One signed request of `key` (a body in memory hashed into the signature, as the SDK signs a Buffer). Timeouts
   * and aborts throw, classified as the SDK store classifies them; any other failure before an answer is UseSdk.
   */
  private async send(method: 'GET' | 'POST' | 'PUT' | 'DELETE', key: string | undefined, query: Record<string, string>, headers: Record<string, string>,
    body: Buffer | undefined, signal: AbortSignal | undefined, operation: StorageOperation = 'put'): Promise<Sent | UseSdk> {
    const signed = await this.sign({ ...this.target(key, query, headers, method), ...(body ? { body } : {}) });
    const search = Object.entries(signed.query).map(([k, v]) => `${escapeUri(k)}=${escapeUri(v)}`).join('&');
    const path = search ? `${signed.path}?${search}` : signed.path;
    const agent = signed.protocol === 'https:' ? this.mpOptions.httpsAgent : this.mpOptions.httpAgent;
    try {
      if (method === 'POST' || method === 'GET') return await requestXml(method, signed, path, agent, body, this.mpSettings.readTimeoutMs, signal);
      const answer: LeanAnswer = await leanCall({
        method, protocol: signed.protocol, hostname: signed.hostname, ...(signed.port ? { port: signed.port } : {}), path, headers: signed.headers,
        ...(body ? { body } : {}), agent, timeoutMs: this.mpSettings.readTimeoutMs, ...(signal ? { signal } : {}),
      });
      return { ...answer, body: '' };
    } catch (err) {
      if (signal?.aborted) throw this.classify((err as Error).name === 'AbortError' ? err : abortError(signal), operation, key);
      if ((err as { name?: string }).name === 'TimeoutError') throw this.classify(err, operation, key);
      return new UseSdk((err as Error).message);
    }
  }
}

/** A request whose answer is a small XML document, read whole (create, complete, the listings of uploads and parts). */
function requestXml(method: 'GET' | 'POST', signed: SignableRequest, path: string, agent: httpT.Agent, body: Buffer | undefined, timeoutMs: number,
  signal: AbortSignal | undefined): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const req = (signed.protocol === 'https:' ? https : http).request({
      method, protocol: signed.protocol, hostname: signed.hostname.replace(/^\[(.*)\]$/, '$1'), ...(signed.port ? { port: signed.port } : {}),
      path, headers: signed.headers, agent, ...(signal ? { signal } : {}),
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    // CompleteMultipartUpload may take long on a large object; S3 keeps the connection alive with whitespace.
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no response within ${timeoutMs} ms`), { name: 'TimeoutError' })));
    req.on('error', reject);
    req.end(body);
  });
}

function ok(status: number): boolean {
  return status >= 200 && status < 300;
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

/** What an aborted request fails with when the abort surfaced as another error. */
function abortError(signal: AbortSignal): Error {
  return Object.assign(new Error('This operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR', cause: signal.reason as unknown });
}
