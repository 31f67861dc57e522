/**
 * One streamed upload in parts, whoever sends its requests: S3's multipart uploads (the SDK store, s3-store.ts, and
 * the lean store signed on node:http, s3/lean-multipart.ts) and Azure's staged blocks (Put Block, Put Block List:
 * the SDK store's and the lean store's, azure-blob/). One loop for all of them, so part sizes, parts in flight, part
 * buffers and the abort on failure are the same whichever store and path a backup takes. The request names are
 * S3's; no SDK here.
 */
import type { Readable } from 'node:stream';
import type { PutOptions, PutResult } from './object-store.js';
import { fixedSizeParts, PartRecycler } from './object-store-helpers.js';
import { StorageRequestError } from './errors.js';

export interface UploadedPart { PartNumber: number; ETag?: string }

/** The requests of one multipart upload of one key; each throws the store's typed error. */
export interface MultipartRequests {
  /** The whole body fits one part: one PutObject. */
  single(data: Buffer): Promise<PutResult>;
  /** CreateMultipartUpload: the upload id. */
  create(signal: AbortSignal): Promise<string>;
  /** UploadPart: the part's ETag. */
  part(uploadId: string, partNumber: number, data: Buffer, signal: AbortSignal): Promise<string | undefined>;
  /** CompleteMultipartUpload: the object's ETag. */
  complete(uploadId: string, parts: UploadedPart[], signal: AbortSignal | undefined): Promise<string | undefined>;
  /** AbortMultipartUpload (best effort: its failure is ignored). */
  abort(uploadId: string): Promise<void>;
}

export interface MultipartLimits {
  bucket: string;
  maxParts: number;
  uploadConcurrency: number;
  /** The error of an object that needs more than maxParts parts (Azure's blocks name their store); S3's by default. */
  tooManyParts?: (key: string, partSize: number) => Error;
}

/** Marks an error thrown by the caller's body stream, so it is rethrown as is (it is not a store failure). */
class SourceError extends Error {
  constructor(readonly original: unknown) { super('source stream failed'); }
}

/**
 * Reads `stream` into parts of `partSize` and uploads them; a body of one part goes in one PutObject. Any failure
 * aborts the upload, so no half-object and no dangling upload is left behind.
 */
export async function multipartPut(key: string, stream: Readable, partSize: number, options: PutOptions, limits: MultipartLimits,
  requests: MultipartRequests): Promise<PutResult> {
  const spare = new PartRecycler();
  const parts = fixedSizeParts(stream, partSize, (err) => new SourceError(err), spare)[Symbol.asyncIterator]();
  let uploadId: string | undefined;
  const abort = new AbortController();
  const onOuterAbort = (): void => abort.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  try {
    // Held in an array emptied once sent: variables would keep the first two parts alive for the whole upload.
    const head: Buffer[] = [];
    await pullInto(parts, head);
    if (head.length === 1 && (head[0] as Buffer).length === partSize) await pullInto(parts, head);
    if (head.length < 2) return await requests.single(head.pop() ?? Buffer.alloc(0));
    uploadId = await requests.create(abort.signal);
    const id = uploadId;
    const sent = await sendParts(key, id, head, parts, partSize, options, limits, requests, spare, abort);
    const etag = await requests.complete(id, sent.completed.sort((a, b) => a.PartNumber - b.PartNumber), options.signal);
    uploadId = undefined;
    return { key, size: sent.size, ...(etag ? { etag } : {}) };
  } catch (err) {
    abort.abort();
    stream.destroy();
    // Never leave a dangling upload (it is billed and invisible in listings).
    if (uploadId !== undefined) await requests.abort(uploadId).catch(() => undefined);
    if (err instanceof SourceError) throw err.original;
    throw err;
  } finally {
    options.signal?.removeEventListener('abort', onOuterAbort);
  }
}

/** Sends the head parts and the rest of the stream's, within the slots and part buffers the options allow. */
async function sendParts(key: string, id: string, head: Buffer[], parts: AsyncIterator<Buffer>, partSize: number, options: PutOptions,
  limits: MultipartLimits, requests: MultipartRequests, spare: PartRecycler, abort: AbortController): Promise<{ completed: UploadedPart[]; size: number }> {
  const completed: UploadedPart[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let size = 0;
  let partNumber = 0;
  const startPart = (buf: Buffer): void => {
    partNumber++;
    if (partNumber > limits.maxParts) {
      if (limits.tooManyParts) throw limits.tooManyParts(key, partSize);
      throw new StorageRequestError({ provider: 's3', operation: 'put', key, bucket: limits.bucket },
        `put s3://${limits.bucket}/${key} failed: the object needs more than ${limits.maxParts} parts of ${partSize} bytes; `
        + 'pass a size hint or a larger part size');
    }
    const n = partNumber;
    size += buf.length;
    const p: Promise<void> = requests.part(id, n, buf, abort.signal)
      .then((etag) => { completed.push({ PartNumber: n, ...(etag ? { ETag: etag } : {}) }); spare.give(buf); },
        (err: unknown) => { failure ??= err; abort.abort(); }).finally(() => { inFlight.delete(p); });
    inFlight.add(p);
  };
  const drainTo = async (limit: number): Promise<void> => {
    while (inFlight.size > limit && failure === undefined) await Promise.race(inFlight);
    if (failure !== undefined) throw failure;
  };
  const slots = Math.max(1, options.partsInFlight ?? limits.uploadConcurrency);
  // Part buffers held at once, the ones on the wire and the one filling: by default one more than the slots.
  // With as many buffers as slots (the default budget's two 5 MiB S3 parts), a full part goes out at once
  // beside the other instead of waiting for its answer, and the next fills once one of them is answered.
  const buffers = Math.max(2, options.partBuffers ?? slots + 1);
  // The two head parts go out as slots allow too: both at once with one slot made the next part a third
  // buffer, and the recycler kept three alive for the whole upload (+1 part of RSS, measured for issue 15).
  try {
    for (const buf of head.splice(0)) { await drainTo(slots - 1); startPart(buf); }
    // The next part fills while parts are on the wire: filling only once a slot was free left the connection
    // idle for that time.
    for (;;) {
      await drainTo(buffers - 1);
      const next = await parts.next();
      if (next.done) break;
      await drainTo(slots - 1);
      startPart(next.value);
    }
    await drainTo(0);
  } catch (err) {
    // The parts still on the wire settle (aborted) before the caller aborts the upload: Azure would otherwise keep
    // a block staged after its discard (uncommitted, for a week).
    abort.abort();
    await Promise.allSettled([...inFlight]);
    throw err;
  }
  return { completed, size };
}

async function pullInto(parts: AsyncIterator<Buffer>, into: Buffer[]): Promise<void> {
  const r = await parts.next();
  if (!r.done) into.push(r.value);
}
