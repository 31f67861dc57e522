/**
 * Azure Blob Storage implementation of ObjectStore on one container (block blobs only).
 *
 * Uploads: bytes or re-openable bodies up to singlePutSize go in one Put Blob (the SDK retries it);
 * everything else is cut into blocks staged with bounded concurrency (multipart-upload.ts's loop, as S3's parts
 * and the lean store's blocks; memory ≈ block size × part buffers) and made visible at once by Put Block List. On failure, uncommitted blocks of a blob that did not
 * exist are discarded (commit an empty list with If-None-Match: *, then delete that exact version);
 * Azure itself drops uncommitted blocks after a week otherwise.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { BlockBlobClient, ContainerClient } from '@azure/storage-blob';
import {
  isCommonPrefix, type CommonPrefix, type GetOptions, type ListOptions, type ObjectInfo, type ObjectStore,
  type PutBody, type PutOptions, type PutResult, type StoreCapabilities,
} from '../../object-store.js';
import { assertValidKey, assertValidPrefix, openBody } from '../../object-store-helpers.js';
import { AccessDeniedError, ObjectNotFoundError, StorageRequestError, type StorageOperation } from '../../errors.js';
import { AZURE_MAX_BLOCKS, blockSizeFor, type AzureTuning } from './config.js';
import { classifyAzureError, cutMidDownload } from './errors.js';
import { multipartPut, type MultipartLimits, type MultipartRequests } from '../../multipart-upload.js';

export interface AzureBlobStoreConfig {
  container: ContainerClient;
  containerName: string;
  /** Service URL with no secrets, for messages. */
  endpoint: string;
  /** Where the credential came from, for messages (describeAuth). */
  credential: string;
  credentialKind: 'key' | 'sas' | 'token';
  tuning: AzureTuning;
  encryptionScope?: string;
  /** The proxy the requests go through, without its credentials (proxyLabel), for messages. */
  proxy?: string;
  /** Releases sockets held for this store (its own agents: private CA, proxy). */
  onClose?: () => void;
}

/** The limits of multipartPut for blocks: Azure's block count, and its error naming the blob. */
export function azureBlockLimits(container: string, concurrency: number): MultipartLimits {
  return {
    bucket: container, maxParts: AZURE_MAX_BLOCKS, uploadConcurrency: concurrency,
    tooManyParts: (key, size) => new StorageRequestError({ provider: 'azure-blob', operation: 'put', key },
      `object ${key} needs more than ${AZURE_MAX_BLOCKS} blocks of ${size} bytes: raise the block size or pass a size hint`),
  };
}

/** A random upload id: it keeps the blocks of concurrent writers of one blob apart. */
export function newUploadId(): string {
  return randomBytes(8).toString('hex');
}

/** A block's id: the same length for every block of a blob (Azure requires it), base64 as the service takes it. */
export function blockId(uploadId: string, n: number): string {
  return Buffer.from(`${uploadId}-${String(n).padStart(6, '0')}`).toString('base64');
}

/** Azure's limit on sub-requests in one Blob Batch. */
const MAX_BATCH = 256;
/** Parallel single deletes when batching is not available (SAS scopes, some emulators). */
const DELETE_CONCURRENCY = 8;
const LIST_PAGE = 5000;

export class AzureBlobStore implements ObjectStore {
  readonly provider = 'azure-blob';
  readonly description: string;
  readonly capabilities: StoreCapabilities;
  private batchDelete = true;

  constructor(private readonly cfg: AzureBlobStoreConfig) {
    this.description = `azure-blob ${cfg.endpoint}/${cfg.containerName} (credential: ${cfg.credential})`;
    this.capabilities = azureCapabilities(cfg.tuning);
  }

  private classify(err: unknown, operation: StorageOperation, key?: string): Error {
    return classifyAzureError(err, {
      operation, container: this.cfg.containerName, endpoint: this.cfg.endpoint, credential: this.cfg.credential, credentialKind: this.cfg.credentialKind,
      ...(key !== undefined ? { key } : {}), proxy: this.cfg.proxy,
    });
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<PutResult> {
    assertValidKey(key);
    const blob = this.cfg.container.getBlockBlobClient(key);
    const { singlePutSize } = this.cfg.tuning;
    try {
      if (body instanceof Uint8Array && body.byteLength <= singlePutSize) {
        const r = await blob.upload(body, body.byteLength, this.writeOptions(options));
        // Put Blob answers with the Content-MD5 the service computed over what it stored.
        return { key, size: body.byteLength, ...(r.etag ? { etag: r.etag } : {}), ...(r.contentMD5 ? { md5: Buffer.from(r.contentMD5).toString('hex') } : {}) };
      }
      if (typeof body === 'function' && options.contentLength !== undefined && options.contentLength <= singlePutSize) {
        // The SDK calls the factory again on each retry of the request.
        const r = await blob.upload(body, options.contentLength, this.writeOptions(options));
        return { key, size: options.contentLength, ...(r.etag ? { etag: r.etag } : {}), ...(r.contentMD5 ? { md5: Buffer.from(r.contentMD5).toString('hex') } : {}) };
      }
    } catch (err) {
      throw this.classify(err, 'put', key);
    }
    return this.putBlocks(key, openBody(body), options);
  }

  private writeOptions(options: PutOptions) {
    return {
      ...(options.metadata ? { metadata: { ...options.metadata } } : {}),
      ...(options.tags && Object.keys(options.tags).length > 0 ? { tags: { ...options.tags } } : {}),
      ...(this.cfg.encryptionScope ? { encryptionScope: this.cfg.encryptionScope } : {}),
      ...(options.contentType ? { blobHTTPHeaders: { blobContentType: options.contentType } } : {}),
      ...(options.ifAbsent ? { conditions: { ifNoneMatch: '*' } } : {}),
      ...(options.signal ? { abortSignal: options.signal } : {}),
    };
  }

  /**
   * Streams `source` as staged blocks, then commits them; a small stream becomes one Put Blob. The loop is S3's
   * multipart one (multipart-upload.ts), as on the lean store: block size, blocks in flight (memory ≈ block size ×
   * part buffers), reused block buffers, the discard of uncommitted blocks on failure. Its requests throw classified
   * errors; the body's own failure is rethrown as is.
   */
  private putBlocks(key: string, source: Readable, options: PutOptions): Promise<PutResult> {
    const { singlePutSize } = this.cfg.tuning;
    // A one-shot stream of known length that fits one Put Blob (a 16 MiB WAL) is read whole and sent in one
    // request; otherwise blocks, sized so the expected size fits in 50 000 of them.
    const known = options.contentLength;
    const blockSize = known !== undefined && known <= singlePutSize ? Math.max(1, known) : blockSizeFor(this.cfg.tuning, options.sizeHint ?? known, options.partSize);
    return multipartPut(key, source, blockSize, options, azureBlockLimits(this.cfg.containerName, this.cfg.tuning.concurrency), this.blockRequests(key, options));
  }

  /**
   * The block requests of one upload of `key` through the SDK: the lean store's (lean-store.ts) for a request it did
   * not understand, each failure classified as put() classifies it. Block ids as putBlocks makes them.
   */
  blockRequests(key: string, options: PutOptions): MultipartRequests {
    const blob = this.cfg.container.getBlockBlobClient(key);
    const scope = this.cfg.encryptionScope ? { encryptionScope: this.cfg.encryptionScope } : {};
    const classified = async <T>(request: () => Promise<T>): Promise<T> => {
      try {
        return await request();
      } catch (err) {
        throw this.classify(err, 'put', key);
      }
    };
    return {
      single: (data) => this.put(key, data, options),
      create: async () => newUploadId(),
      part: (uploadId, n, data, signal) => classified(async () => {
        await blob.stageBlock(blockId(uploadId, n), data, data.length, { ...scope, abortSignal: signal });
        return undefined;
      }),
      complete: (uploadId, parts, signal) => classified(async () => {
        const r = await blob.commitBlockList(parts.map((p) => blockId(uploadId, p.PartNumber)), { ...this.writeOptions(options), ...(signal ? { abortSignal: signal } : {}) });
        return r.etag;
      }),
      abort: () => this.discardUncommitted(blob),
    };
  }

  private async discardUncommitted(blob: BlockBlobClient): Promise<void> {
    try {
      const r = await blob.commitBlockList([], { conditions: { ifNoneMatch: '*' } });
      if (r.etag) await blob.delete({ conditions: { ifMatch: r.etag } });
    } catch {
      // The blob exists (its blocks go with its next commit) or we lost access: Azure drops them in 7 days.
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<Readable> {
    assertValidKey(key);
    const blob = this.cfg.container.getBlobClient(key);
    const range = options.range;
    const offset = range?.start ?? 0;
    const count = range?.end !== undefined ? range.end - offset + 1 : undefined;
    let body: NodeJS.ReadableStream | undefined;
    try {
      const res = await blob.download(offset, count, { maxRetryRequests: 3, ...(options.signal ? { abortSignal: options.signal } : {}) });
      body = res.readableStreamBody;
      // A ranged download carries the whole blob's Content-MD5 as blobContentMD5.
      const md5 = range ? undefined : res.contentMD5 ?? res.blobContentMD5;
      options.onInfo?.({
        key, size: res.contentLength ?? 0,
        ...(res.lastModified ? { lastModified: res.lastModified } : {}),
        ...(res.etag ? { etag: res.etag } : {}),
        ...(md5 && md5.length === 16 ? { md5: Buffer.from(md5).toString('hex') } : {}),
        ...(res.metadata ? { metadata: res.metadata } : {}),
      });
    } catch (err) {
      throw this.classify(err, 'get', key);
    }
    if (!body) return Readable.from([]);
    const src = body as Readable;
    const signal = options.signal;
    const classify = (err: unknown): Error => {
      // The SDK reports a connection closed mid-body as an AbortError; only ours (the signal) is a cancellation.
      const cut = (err as { name?: string }).name === 'AbortError' && !signal?.aborted;
      return cut ? cutMidDownload(err, this.cfg.endpoint, this.cfg.containerName, key) : this.classify(err, 'get', key);
    };
    // A failure mid-download surfaces as the classified error; a consumer that stops early ends the iteration,
    // which destroys the SDK stream and its socket.
    return Readable.from((async function* () {
      try {
        for await (const chunk of src) yield chunk as Buffer;
      } catch (err) {
        throw classify(err);
      }
    })(), { objectMode: false });
  }

  async stat(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectInfo> {
    assertValidKey(key);
    try {
      const p = await this.cfg.container.getBlobClient(key).getProperties(options.signal ? { abortSignal: options.signal } : {});
      return {
        key, size: p.contentLength ?? 0,
        ...(p.lastModified ? { lastModified: p.lastModified } : {}),
        ...(p.etag ? { etag: p.etag } : {}),
        // Azure computes it for a Put Blob (every object up to singlePutSize); block lists have none.
        ...(p.contentMD5 && p.contentMD5.length === 16 ? { md5: Buffer.from(p.contentMD5).toString('hex') } : {}),
        ...(p.metadata ? { metadata: p.metadata } : {}),
      };
    } catch (err) {
      throw this.classify(err, 'stat', key);
    }
  }

  async exists(key: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    try {
      await this.stat(key, options);
      return true;
    } catch (err) {
      if (err instanceof ObjectNotFoundError) return false;
      throw err;
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo | CommonPrefix> {
    assertValidPrefix(prefix);
    const c = this.cfg.container;
    const listOptions = { prefix, ...(options.signal ? { abortSignal: options.signal } : {}) };
    const pages = options.delimiter === '/'
      ? c.listBlobsByHierarchy('/', listOptions).byPage({ maxPageSize: LIST_PAGE })
      : c.listBlobsFlat(listOptions).byPage({ maxPageSize: LIST_PAGE });
    const iterator = pages[Symbol.asyncIterator]();
    while (true) {
      let page;
      try {
        page = await iterator.next();
      } catch (err) {
        throw this.classify(err, 'list', prefix);
      }
      if (page.done) return;
      const segment = page.value.segment as { blobItems: Array<{ name: string; properties: { contentLength?: number; lastModified?: Date; etag?: string }; metadata?: Record<string, string> }>; blobPrefixes?: Array<{ name: string }> };
      // Within a page Azure returns prefixes and blobs in two lists; merge them back into name order.
      const entries: Array<ObjectInfo | CommonPrefix> = [
        ...(segment.blobPrefixes ?? []).map((p) => ({ prefix: p.name })),
        ...segment.blobItems.map((b) => ({
          key: b.name, size: b.properties.contentLength ?? 0,
          ...(b.properties.lastModified ? { lastModified: b.properties.lastModified } : {}),
          ...(b.properties.etag ? { etag: b.properties.etag } : {}),
          ...(b.metadata ? { metadata: b.metadata } : {}),
        })),
      ];
      entries.sort((a, b) => Buffer.compare(Buffer.from(entryKey(a)), Buffer.from(entryKey(b))));
      for (const e of entries) {
        if (options.startAfter !== undefined && entryKey(e) <= options.startAfter) continue;
        yield e;
      }
    }
  }

  async delete(keys: readonly string[], options: { signal?: AbortSignal } = {}): Promise<void> {
    for (const k of keys) assertValidKey(k);
    for (let i = 0; i < keys.length; i += MAX_BATCH) {
      options.signal?.throwIfAborted();
      const batch = keys.slice(i, i + MAX_BATCH);
      if (this.batchDelete && batch.length > 1 && (await this.deleteBatch(batch, options.signal))) continue;
      await this.deleteEach(batch, options.signal);
    }
  }

  /** One Blob Batch request. False when the service refused the batch itself (then we delete one by one). */
  private async deleteBatch(keys: string[], signal?: AbortSignal): Promise<boolean> {
    const c = this.cfg.container;
    let res;
    try {
      res = await c.getBlobBatchClient().deleteBlobs(keys.map((k) => c.getBlobClient(k)), signal ? { abortSignal: signal } : {});
    } catch (err) {
      // No HTTP answer (network, abort): not a refusal. Any HTTP error is one: some SAS scopes, proxies and
      // emulators refuse Blob Batch (Azurite answers an account SAS with 500), so fall back to single deletes,
      // which fail on their own if the store itself is the problem.
      const status = (err as { statusCode?: number }).statusCode;
      if (!status || (err as { name?: string }).name === 'AbortError' || signal?.aborted) throw this.classify(err, 'delete');
      this.batchDelete = false;
      return false;
    }
    const base = new URL(c.url).pathname.replace(/\/+$/, '') + '/';
    for (const sub of res.subResponses) {
      if (sub.status === 202 || sub.status === 404) continue;
      const path = new URL(sub._request.url).pathname;
      const key = path.startsWith(base) ? decodeURIComponent(path.slice(base.length)) : undefined;
      throw this.classify({ statusCode: sub.status, details: { errorCode: sub.errorCode, message: sub.statusMessage }, message: sub.statusMessage }, 'delete', key);
    }
    return true;
  }

  private async deleteEach(keys: string[], signal?: AbortSignal): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < keys.length) {
        const key = keys[next++] as string;
        try {
          await this.cfg.container.getBlobClient(key).deleteIfExists(signal ? { abortSignal: signal } : {});
        } catch (err) {
          throw this.classify(err, 'delete', key);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, keys.length) }, worker));
  }

  async createBucket(options: { signal?: AbortSignal } = {}): Promise<void> {
    try {
      await this.cfg.container.createIfNotExists(options.signal ? { abortSignal: options.signal } : {});
    } catch (err) {
      const classified = this.classify(err, 'create');
      if (classified instanceof AccessDeniedError) {
        throw new AccessDeniedError({ provider: this.provider, operation: 'create', bucket: this.cfg.containerName, cause: err },
          `container "${this.cfg.containerName}" does not exist at ${this.cfg.endpoint} and ${this.cfg.credential} may not create it `
          + '(needs permission to create containers: an account key, an account SAS with the container resource type and "c", '
          + 'or a role such as Storage Blob Data Contributor on the account): create the container, or grant it');
      }
      throw classified;
    }
  }

  async close(): Promise<void> {
    this.cfg.onClose?.();
  }
}

/** What a store on one container can do (the lean store, lean-store.ts, has the same). */
export function azureCapabilities(tuning: AzureTuning): StoreCapabilities {
  return {
    conditionalCreate: true,
    atomicReplace: true,
    serverSideEncryption: true,
    objectTags: true,
    maxBatchDelete: MAX_BATCH,
    maxParts: AZURE_MAX_BLOCKS,
    // Put Blob (every body of known length up to singlePutSize) answers with the Content-MD5 the service
    // computed over what it stored, and keeps it as the blob's Content-MD5.
    computedMd5UpTo: tuning.singlePutSize,
  };
}

function entryKey(e: ObjectInfo | CommonPrefix): string {
  return isCommonPrefix(e) ? e.prefix : e.key;
}

