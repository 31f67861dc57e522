/**
 * ObjectStore on Amazon S3 and S3-compatible servers (MinIO, Ceph, Spaces, Linode…) with the AWS SDK v3.
 * Uploads: bytes up to one part go in one PutObject; everything else is read into equal-size parts
 * (memory bounded by partSize × (concurrency + 1)) and sent as a multipart upload that is aborted on any
 * failure, so no half-object and no dangling upload is left behind.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { BucketLocationConstraint, PutObjectCommandInput, S3Client } from '@aws-sdk/client-s3';
import {
  type CommonPrefix, type GetOptions, type IncompleteUpload, type ListOptions, type ObjectInfo, type ObjectStore, type PutBody,
  type PutOptions, type PutResult, type StoreCapabilities,
} from '../../object-store.js';
import { assertValidKey, assertValidPrefix, openBody } from '../../object-store-helpers.js';
import {
  AccessDeniedError, BucketNotFoundError, InvalidCredentialsError, ObjectNotFoundError, StorageRequestError,
  type StorageOperation,
} from '../../errors.js';
import { classifyS3Error } from './errors.js';
import { choosePartSize, SINGLE_PUT_MAX_BYTES, type S3Settings } from './config.js';
import { s3sdk } from './sdk.js';
import { s3Capabilities, s3ObjectInfo, type S3ObjectHeaders } from './object-info.js';
import { CreateOnlyGuard, type CreateOnlyRequests } from './create-only.js';
import { multipartPut, type MultipartRequests } from '../../multipart-upload.js';

const {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, DeleteObjectCommand, DeleteObjectsCommand,
  GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, ListPartsCommand, PutObjectCommand, UploadPartCommand,
} = s3sdk;

/** Parallel single deletes when the server refuses DeleteObjects. */
const DELETE_CONCURRENCY = 8;

interface GetObjectResponse extends S3ObjectHeaders {
  Body?: unknown;
}

interface Sendable { send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown> }

export class S3ObjectStore implements ObjectStore {
  readonly provider = 's3';
  readonly description: string;
  readonly capabilities: StoreCapabilities;
  private bucketChecked = false;
  private batchDelete = true;
  /** Probes once whether the endpoint enforces create-only puts (create-only.ts). */
  private readonly createOnly: CreateOnlyGuard;

  constructor(private readonly client: S3Client, private readonly settings: S3Settings, private readonly accessKeyIdNow: () => string | undefined = () => undefined,
    capabilities?: StoreCapabilities, createOnly?: CreateOnlyGuard) {
    this.description = `s3://${settings.bucket} at ${settings.endpointLabel}`;
    // A store in front of this one (lean-reads.ts) hands in its own capabilities and guard, so that what the
    // create-only probe learns reaches its callers too, and the endpoint is probed once.
    this.capabilities = capabilities ?? s3Capabilities(settings);
    this.createOnly = createOnly ?? new CreateOnlyGuard(this.capabilities, settings.bucket);
  }

  private async send<T>(operation: StorageOperation, key: string | undefined, command: unknown, signal?: AbortSignal): Promise<T> {
    try {
      return await (this.client as unknown as Sendable).send(command, signal ? { abortSignal: signal } : undefined) as T;
    } catch (err) {
      throw this.classify(err, operation, key);
    }
  }

  private classify(err: unknown, operation: StorageOperation, key: string | undefined): Error {
    return classifyS3Error(err, {
      operation, bucket: this.settings.bucket, endpoint: this.settings.endpointLabel,
      ...(key !== undefined ? { key } : {}), ...(this.accessKeyId ? { accessKeyId: this.accessKeyId } : {}),
    });
  }

  /** The key id signing now (it changes when a watched Secret rotates), for messages. */
  private get accessKeyId(): string | undefined {
    return this.accessKeyIdNow();
  }

  private objectParams(key: string, options: PutOptions): Omit<PutObjectCommandInput, 'Body'> {
    const p: Omit<PutObjectCommandInput, 'Body'> = { Bucket: this.settings.bucket, Key: key };
    if (this.settings.encryption) p.ServerSideEncryption = this.settings.encryption;
    if (this.settings.sseKmsKeyId) p.SSEKMSKeyId = this.settings.sseKmsKeyId;
    if (options.tags && Object.keys(options.tags).length > 0) p.Tagging = new URLSearchParams(Object.entries(options.tags)).toString();
    if (options.metadata) p.Metadata = { ...options.metadata };
    if (options.contentType) p.ContentType = options.contentType;
    return p;
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<PutResult> {
    assertValidKey(key);
    if (options.ifAbsent) await this.createOnly.check(key, this.createOnlyRequests);
    const expected = options.contentLength ?? options.sizeHint ?? (body instanceof Uint8Array ? body.length : undefined);
    const partSize = choosePartSize(this.settings, expected, options.partSize);
    const singleMax = this.settings.partSize > 0 ? partSize : Math.max(partSize, SINGLE_PUT_MAX_BYTES);
    if (body instanceof Uint8Array && body.length <= singleMax) return this.putSingle(key, Buffer.from(body.buffer, body.byteOffset, body.byteLength), options);
    // A reopenable stream of known length that fits one PUT (a WAL segment streamed from its file) is sent as
    // one streamed request: no copy in memory, no multipart. The SDK never retries a streamed body; the retry
    // decorator does, reopening it.
    if (typeof body === 'function' && options.contentLength !== undefined && options.contentLength <= singleMax) {
      return this.putSingle(key, body(), options, options.contentLength);
    }
    return this.putStream(key, openBody(body), partSize, options);
  }

  /** What the create-only probe sends through this store (create-only.ts). */
  private readonly createOnlyRequests: CreateOnlyRequests = {
    putProbe: (probe, body) => this.send('put', probe, new PutObjectCommand({
      Bucket: this.settings.bucket, Key: probe, Body: body, ContentLength: body.length, IfNoneMatch: '*',
      ...(this.settings.encryption ? { ServerSideEncryption: this.settings.encryption } : {}),
      ...(this.settings.sseKmsKeyId ? { SSEKMSKeyId: this.settings.sseKmsKeyId } : {}),
    })),
    deleteProbe: (probe) => this.send('delete', probe, new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: probe })),
    exists: (k) => this.exists(k),
  };

  /**
   * One PutObject of a body that fits it, with no create-only probe or check first: the lean store (lean-reads.ts)
   * sends its single puts itself and hands one here when it does not understand the answer (after its own check).
   */
  putSingleObject(key: string, data: Buffer | Readable, options: PutOptions, length?: number): Promise<PutResult> {
    return this.putSingle(key, data, options, length);
  }

  private async putSingle(key: string, data: Buffer | Readable, options: PutOptions, length = (data as Buffer).length): Promise<PutResult> {
    const res = await this.send<{ ETag?: string }>('put', key, new PutObjectCommand({
      ...this.objectParams(key, options), Body: data, ContentLength: length,
      ...(options.ifAbsent ? { IfNoneMatch: '*' } : {}),
      ...(options.md5 ? { ContentMD5: Buffer.from(options.md5).toString('base64') } : {}),
    }), options.signal);
    // A single PUT's ETag is the MD5 of the stored bytes, except under SSE-KMS (an opaque value).
    const etag = res.ETag?.replace(/"/g, '');
    const md5 = this.settings.encryption !== 'aws:kms' && etag && /^[0-9a-f]{32}$/i.test(etag) ? etag.toLowerCase() : undefined;
    return { key, size: length, ...(res.ETag ? { etag: res.ETag } : {}), ...(md5 ? { md5 } : {}) };
  }

  private putStream(key: string, stream: Readable, partSize: number, options: PutOptions): Promise<PutResult> {
    return multipartPut(key, stream, partSize, options, this.settings, this.multipartRequests(key, options));
  }

  /**
   * The requests of one multipart upload through the SDK client (errors classified): this store's uploads, and the
   * lean store's (lean-multipart.ts) for each request whose answer it does not understand.
   */
  multipartRequests(key: string, options: PutOptions): MultipartRequests {
    const bucket = this.settings.bucket;
    return {
      single: (data) => this.putSingle(key, data, options),
      create: async (signal) => {
        const created = await this.send<{ UploadId?: string }>('put', key, new CreateMultipartUploadCommand(this.objectParams(key, options)), signal);
        if (!created.UploadId) throw new StorageRequestError({ provider: 's3', operation: 'put', key }, `put s3://${bucket}/${key} failed: no UploadId returned`);
        return created.UploadId;
      },
      part: async (uploadId, partNumber, data, signal) => (await this.send<{ ETag?: string }>('put', key, new UploadPartCommand({
        Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: data, ContentLength: data.length,
      }), signal)).ETag,
      complete: async (uploadId, parts, signal) => (await this.send<{ ETag?: string }>('put', key, new CompleteMultipartUploadCommand({
        Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts },
        ...(options.ifAbsent ? { IfNoneMatch: '*' } : {}),
      }), signal)).ETag,
      abort: async (uploadId) => {
        await (this.client as unknown as Sendable).send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
      },
    };
  }

  async get(key: string, options: GetOptions = {}): Promise<Readable> {
    assertValidKey(key);
    const range = options.range ? `bytes=${options.range.start}-${options.range.end ?? ''}` : undefined;
    const res = await this.send<GetObjectResponse>('get', key, new GetObjectCommand({
      Bucket: this.settings.bucket, Key: key, ...(range ? { Range: range } : {}),
    }), options.signal);
    options.onInfo?.(this.info(key, res, !range));
    const body = res.Body;
    if (body instanceof Readable) {
      // Mid-stream failures (reset, timeout) surface as typed errors too.
      const out = body;
      const classify = (err: unknown): Error => this.classify(err, 'get', key);
      const origDestroy = out._destroy.bind(out);
      out._destroy = (err, cb) => origDestroy(err, (e) => cb(e ? classify(e) : e));
      return out;
    }
    if (body === undefined) return Readable.from([]);
    return Readable.from(body as AsyncIterable<Uint8Array>);
  }

  private info(key: string, r: GetObjectResponse, whole: boolean): ObjectInfo {
    return s3ObjectInfo(this.settings, key, r, whole);
  }

  async stat(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectInfo> {
    assertValidKey(key);
    try {
      const r = await this.send<GetObjectResponse>('stat', key, new HeadObjectCommand({ Bucket: this.settings.bucket, Key: key }), options.signal);
      const { md5: _md5, ...info } = this.info(key, r, true);
      return info; // callers of stat judge the ETag themselves (verifyUpload knows whether SSE-KMS was used)
    } catch (err) {
      // HEAD answers 404 with no body for a missing bucket too: tell the two apart once.
      if (err instanceof ObjectNotFoundError) await this.assertBucket('stat');
      throw err;
    }
  }

  private async assertBucket(operation: StorageOperation): Promise<void> {
    if (this.bucketChecked) return;
    try {
      await (this.client as unknown as Sendable).send(new HeadBucketCommand({ Bucket: this.settings.bucket }));
      this.bucketChecked = true;
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404 || (err as { name?: string }).name === 'NotFound' || (err as { name?: string }).name === 'NoSuchBucket') {
        throw new BucketNotFoundError({ provider: 's3', operation, bucket: this.settings.bucket, cause: err },
          `bucket does not exist: ${this.settings.bucket} (at ${this.settings.endpointLabel})`);
      }
      // Anything else (403 on HeadBucket with object-only permissions): keep the object's own answer.
    }
  }

  async exists(key: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    assertValidKey(key);
    try {
      await this.send('exists', key, new HeadObjectCommand({ Bucket: this.settings.bucket, Key: key }), options.signal);
      return true;
    } catch (err) {
      if (err instanceof ObjectNotFoundError) return false;
      throw err;
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo | CommonPrefix> {
    assertValidPrefix(prefix);
    let token: string | undefined;
    do {
      const page = await this.send<{
        Contents?: Array<{ Key?: string; Size?: number; LastModified?: Date; ETag?: string }>;
        CommonPrefixes?: Array<{ Prefix?: string }>;
        IsTruncated?: boolean;
        NextContinuationToken?: string;
      }>('list', prefix, new ListObjectsV2Command({
        Bucket: this.settings.bucket, Prefix: prefix,
        ...(options.delimiter ? { Delimiter: options.delimiter } : {}),
        ...(token ? { ContinuationToken: token } : options.startAfter !== undefined ? { StartAfter: options.startAfter } : {}),
      }), options.signal);
      const entries: Array<ObjectInfo | CommonPrefix> = [];
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined) continue;
        entries.push({ key: o.Key, size: o.Size ?? 0, ...(o.LastModified ? { lastModified: o.LastModified } : {}), ...(o.ETag ? { etag: o.ETag } : {}) });
      }
      for (const cp of page.CommonPrefixes ?? []) if (cp.Prefix !== undefined) entries.push({ prefix: cp.Prefix });
      // S3 returns keys and prefixes in two sorted lists; one page merged is in order, pages follow each other.
      entries.sort((a, b) => Buffer.compare(Buffer.from(entryKey(a)), Buffer.from(entryKey(b))));
      for (const e of entries) yield e;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(keys: readonly string[], options: { signal?: AbortSignal } = {}): Promise<void> {
    for (const k of keys) assertValidKey(k);
    for (let i = 0; i < keys.length; i += this.capabilities.maxBatchDelete) {
      options.signal?.throwIfAborted();
      const batch = keys.slice(i, i + this.capabilities.maxBatchDelete);
      if (this.batchDelete && batch.length > 1 && (await this.deleteBatch(batch, options.signal))) continue;
      await this.deleteEach(batch, options.signal);
    }
  }

  /**
   * One DeleteObjects request. False when the server refused the request itself (an HTTP error: not implemented,
   * Content-MD5 demanded, a gateway or policy that forbids it): the caller then deletes one key at a time, as
   * Barman does, and this store stops batching. Per-key errors in an accepted batch are real and thrown.
   */
  private async deleteBatch(batch: string[], signal?: AbortSignal): Promise<boolean> {
    let res: { Errors?: Array<{ Key?: string; Code?: string; Message?: string }> };
    try {
      res = await this.send('delete', batch[0],
        new DeleteObjectsCommand({ Bucket: this.settings.bucket, Delete: { Quiet: true, Objects: batch.map((Key) => ({ Key })) } }), signal);
    } catch (err) {
      const status = ((err as { cause?: { $metadata?: { httpStatusCode?: number } } }).cause)?.$metadata?.httpStatusCode;
      if (status === undefined || signal?.aborted || err instanceof BucketNotFoundError || err instanceof InvalidCredentialsError) throw err;
      this.batchDelete = false;
      return false;
    }
    const errors = (res.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
    const first = errors[0];
    if (first) {
      const key = first.Key ?? '';
      if (first.Code === 'AccessDenied') {
        throw new AccessDeniedError({ provider: 's3', operation: 'delete', key, bucket: this.settings.bucket },
          `access denied: delete on s3://${this.settings.bucket}/${key}${this.accessKeyId ? ` for access key ${this.accessKeyId}` : ''} (${errors.length} of ${batch.length} keys refused); check the IAM or bucket policy`);
      }
      throw this.classify(Object.assign(new Error(first.Message ?? first.Code ?? 'delete failed'), { name: first.Code ?? 'Error' }), 'delete', key);
    }
    return true;
  }

  private async deleteEach(keys: string[], signal?: AbortSignal): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < keys.length) {
        const key = keys[next++] as string;
        // DeleteObject answers 204 for a missing key too.
        await this.send('delete', key, new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: key }), signal);
      }
    };
    await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, keys.length) }, worker));
  }

  async *listIncompleteUploads(prefix: string, options: { signal?: AbortSignal } = {}): AsyncIterable<IncompleteUpload> {
    assertValidPrefix(prefix);
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    for (;;) {
      type Page = { Uploads?: Array<{ Key?: string; UploadId?: string; Initiated?: Date }>; IsTruncated?: boolean; NextKeyMarker?: string; NextUploadIdMarker?: string };
      let page: Page;
      try {
        page = await this.send<Page>('list', prefix, new ListMultipartUploadsCommand({ Bucket: this.settings.bucket, Prefix: prefix,
          ...(keyMarker !== undefined ? { KeyMarker: keyMarker } : {}), ...(idMarker !== undefined ? { UploadIdMarker: idMarker } : {}) }), options.signal);
      } catch (err) {
        // A server without the API (s3rver answers 501) keeps no uploads to list.
        if ((err as { cause?: { $metadata?: { httpStatusCode?: number } } }).cause?.$metadata?.httpStatusCode === 501) return;
        throw err;
      }
      for (const u of page.Uploads ?? []) {
        if (!u.Key || !u.UploadId) continue;
        // An upload completed or aborted between the two listings is no longer unfinished: skip it.
        const activity = await this.uploadActivity(u.Key, u.UploadId, u.Initiated, options.signal).catch((err: unknown) => {
          if (isNoSuchUpload(err)) return undefined;
          throw err;
        });
        if (activity) yield { key: u.Key, id: u.UploadId, ...activity };
      }
      if (!page.IsTruncated) return;
      keyMarker = page.NextKeyMarker;
      idMarker = page.NextUploadIdMarker;
    }
  }

  /** When an upload last received a part (its newest part, else its start), and the bytes it holds. */
  private async uploadActivity(key: string, uploadId: string, initiated: Date | undefined, signal?: AbortSignal): Promise<{ lastActivity: Date; size: number }> {
    let last = initiated?.getTime() ?? 0;
    let size = 0;
    let marker: string | undefined;
    for (;;) {
      const page = await this.send<{ Parts?: Array<{ LastModified?: Date; Size?: number }>; IsTruncated?: boolean; NextPartNumberMarker?: string }>('list', key,
        new ListPartsCommand({ Bucket: this.settings.bucket, Key: key, UploadId: uploadId, ...(marker !== undefined ? { PartNumberMarker: marker } : {}) }), signal);
      for (const p of page.Parts ?? []) { last = Math.max(last, p.LastModified?.getTime() ?? 0); size += p.Size ?? 0; }
      if (!page.IsTruncated) return { lastActivity: new Date(last), size };
      marker = page.NextPartNumberMarker;
    }
  }

  async abortIncompleteUpload(upload: IncompleteUpload, options: { signal?: AbortSignal } = {}): Promise<void> {
    try {
      await this.send('delete', upload.key, new AbortMultipartUploadCommand({ Bucket: this.settings.bucket, Key: upload.key, UploadId: upload.id }), options.signal);
    } catch (err) {
      if (isNoSuchUpload(err)) return; // finished or aborted meanwhile
      throw err;
    }
  }

  async createBucket(options: { signal?: AbortSignal } = {}): Promise<void> {
    const region = this.settings.region;
    try {
      await this.send('create', undefined, new CreateBucketCommand({
        Bucket: this.settings.bucket,
        // us-east-1 is the default location and may not be named (AWS answers InvalidLocationConstraint).
        ...(region !== 'us-east-1' ? { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } } : {}),
      }), options.signal);
    } catch (err) {
      const code = ((err as { cause?: { name?: string; Code?: string } }).cause)?.name;
      if (code === 'BucketAlreadyOwnedByYou') return;
      if (err instanceof AccessDeniedError) {
        throw new AccessDeniedError({ provider: 's3', operation: 'create', bucket: this.settings.bucket, cause: err },
          `bucket ${this.settings.bucket} does not exist at ${this.settings.endpointLabel} and ${this.accessKeyId ? `access key ${this.accessKeyId}` : 'these credentials'} `
          + 'may not create it (s3:CreateBucket denied): create the bucket, or grant s3:CreateBucket');
      }
      if (code === 'BucketAlreadyExists') {
        throw new StorageRequestError({ provider: 's3', operation: 'create', bucket: this.settings.bucket, cause: err },
          `bucket ${this.settings.bucket} cannot be created at ${this.settings.endpointLabel}: the name belongs to another account`);
      }
      throw err;
    }
    this.bucketChecked = true;
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

function entryKey(e: ObjectInfo | CommonPrefix): string {
  return 'prefix' in e ? e.prefix : e.key;
}

/** Content-MD5 for a serialized body: DeleteObjects needs it on many S3-compatible servers (aws-sdk-js-v3#6819). */
export function contentMd5(body: unknown): string | undefined {
  if (typeof body === 'string' || body instanceof Uint8Array) return createHash('md5').update(body).digest('base64');
  return undefined;
}

/** S3's answer for an upload id that was completed or aborted (404 NoSuchUpload). */
function isNoSuchUpload(err: unknown): boolean {
  return (err as { cause?: { name?: string } }).cause?.name === 'NoSuchUpload';
}
