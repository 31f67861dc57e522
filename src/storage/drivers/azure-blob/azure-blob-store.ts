/**
 * Azure Blob Storage implementation of ObjectStore on one container (block blobs only).
 *
 * Uploads: bytes or re-openable bodies up to singlePutSize go in one Put Blob (the SDK retries it);
 * everything else is cut into blocks staged with bounded concurrency (memory ≈ blockSize × (concurrency + 1))
 * and made visible at once by Put Block List. On failure, uncommitted blocks of a blob that did not
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
import { assertValidKey, assertValidPrefix, fixedSizeParts, openBody, PartRecycler } from '../../object-store-helpers.js';
import { AccessDeniedError, ObjectNotFoundError, StorageRequestError, type StorageOperation } from '../../errors.js';
import { AZURE_MAX_BLOCKS, blockSizeFor, type AzureTuning } from './config.js';
import { classifyAzureError, cutMidDownload } from './errors.js';

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

/** Azure's limit on sub-requests in one Blob Batch. */
const MAX_BATCH = 256;
/** Parallel single deletes when batching is not available (SAS scopes, some emulators). */
const DELETE_CONCURRENCY = 8;
const LIST_PAGE = 5000;

/** Marks an error raised by the caller's body stream, so it is rethrown as is, not blamed on Azure. */
class SourceStreamError extends Error {
  constructor(readonly original: unknown) { super('source stream failed'); }
}

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
      return await this.putBlocks(blob, key, openBody(body), options);
    } catch (err) {
      if (err instanceof SourceStreamError) throw err.original;
      throw this.classify(err, 'put', key);
    }
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

  /** Streams `source` as staged blocks, then commits them; a small stream becomes one Put Blob. */
  private async putBlocks(blob: BlockBlobClient, key: string, source: Readable, options: PutOptions): Promise<PutResult> {
    const { singlePutSize } = this.cfg.tuning;
    const concurrency = options.partsInFlight ?? this.cfg.tuning.concurrency;
    // Blocks held at once, staging and filling (PutOptions.partBuffers): by default one more than staging.
    const buffers = Math.max(2, options.partBuffers ?? concurrency + 1);
    // A one-shot stream of known length that fits one Put Blob (a 16 MiB WAL) is read whole and sent in one
    // request; otherwise blocks, sized so the expected size fits in 50 000 of them.
    const known = options.contentLength;
    const blockSize = known !== undefined && known <= singlePutSize ? Math.max(1, known) : blockSizeFor(this.cfg.tuning, options.sizeHint ?? known, options.partSize);
    const spare = new PartRecycler();
    const chunks = chunker(source, blockSize, spare);
    const next = async (): Promise<Buffer | undefined> => {
      try {
        const r = await chunks.next();
        return r.done ? undefined : r.value;
      } catch (err) {
        throw new SourceStreamError(err);
      }
    };
    // `let`, cleared once staged: a const would keep the first blocks in memory for the whole upload.
    let first: Buffer | undefined = (await next()) ?? Buffer.alloc(0);
    let second = first.length < blockSize ? undefined : await next();
    if (second === undefined && first.length <= singlePutSize) {
      const r = await blob.upload(first, first.length, this.writeOptions(options));
      return { key, size: first.length, ...(r.etag ? { etag: r.etag } : {}) };
    }

    // Block ids: same length for every block of a blob; a random upload id keeps concurrent writers apart.
    const uploadId = randomBytes(8).toString('hex');
    const ids: string[] = [];
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    let size = 0;
    const stageOptions = {
      ...(this.cfg.encryptionScope ? { encryptionScope: this.cfg.encryptionScope } : {}),
      ...(options.signal ? { abortSignal: options.signal } : {}),
    };
    const stage = (data: Buffer): void => {
      const id = Buffer.from(`${uploadId}-${String(ids.length).padStart(6, '0')}`).toString('base64');
      ids.push(id);
      size += data.length;
      const p: Promise<void> = blob.stageBlock(id, data, data.length, stageOptions)
        .then(() => { spare.give(data); }, (err: unknown) => { failure ??= err; })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
    };
    try {
      stage(first);
      let chunk: Buffer | undefined = second;
      first = undefined;
      second = undefined;
      while (chunk !== undefined && failure === undefined) {
        if (ids.length >= AZURE_MAX_BLOCKS) {
          throw new StorageRequestError({ provider: this.provider, operation: 'put', key },
            `object ${key} needs more than ${AZURE_MAX_BLOCKS} blocks of ${blockSize} bytes: raise the block size or pass a size hint`);
        }
        // The next block fills while `concurrency` are staging (concurrency + 1 blocks held, as the memory plan
        // counts): reading it only once a slot was free left the connection idle meanwhile.
        while (inFlight.size >= concurrency && failure === undefined) await Promise.race(inFlight);
        if (failure !== undefined) break;
        stage(chunk);
        while (inFlight.size >= buffers && failure === undefined) await Promise.race(inFlight);
        if (failure !== undefined) break;
        chunk = await next();
      }
      await Promise.all(inFlight);
      if (failure !== undefined) throw failure;
      const r = await blob.commitBlockList(ids, this.writeOptions(options));
      return { key, size, ...(r.etag ? { etag: r.etag } : {}) };
    } catch (err) {
      source.destroy();
      await Promise.allSettled(inFlight);
      await this.discardUncommitted(blob);
      throw err;
    }
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

/** Re-cuts a stream into buffers of exactly `size` bytes (the last may be shorter; none if empty). */
function chunker(source: Readable, size: number, spare: PartRecycler): AsyncGenerator<Buffer> {
  return fixedSizeParts(source, size, undefined, spare);
}
