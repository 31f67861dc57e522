/**
 * A single-request GCS upload (JSON API multipart: the object's metadata and its bytes in one POST) on
 * node:http/https, for objects that fit in one request (a WAL segment). The SDK's path for the same request
 * buffered the whole body, copied it again, wrote it as a latin1 string and left a stream with thousands of
 * listeners: ~0.2 s of CPU and ~30 MiB per 16 MiB segment (measured for issue 15). Here the body streams from its
 * source with a known length, its CRC32C is computed as it is sent and compared with the one GCS reports.
 * No SDK here; errors come back in the shape classifyGcsError reads (a numeric `code`, the JSON API `errors`).
 */
import type * as httpT from 'node:http';
import { randomBytes } from 'node:crypto';
import { Readable, pipeline } from 'node:stream';
import { http, https } from '../../node-net.js';

/** Largest answer body read (object metadata, an error document). */
const MAX_ANSWER = 1024 * 1024;

export interface LeanUpload {
  /** The upload URL, query included (uploadType=multipart, name, ifGenerationMatch, kmsKeyName). */
  url: URL;
  /** Authorization, when the store has credentials. */
  headers: Record<string, string>;
  /** The object resource (contentType, metadata, md5Hash) sent as the first part. */
  resource: Record<string, unknown>;
  contentType: string;
  body: Readable;
  size: number;
  /** Called with each chunk of the body as it is sent (the checksum). */
  onChunk: (chunk: Buffer) => void;
  agent: httpT.Agent;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** The object resource GCS answers a successful upload with (the fields pgstow reads). */
export interface UploadedObject {
  size?: string | number;
  etag?: string;
  md5Hash?: string;
  crc32c?: string;
  generation?: string | number;
}

/** The body stream failed or did not have the announced length: not a store failure, reported as such. */
export class UploadSourceError extends Error {
  constructor(readonly original: Error) { super(original.message); }
}

/** Sends the upload; resolves with GCS's object resource, or rejects with an SDK-shaped HTTP error or a network error. */
export async function leanMultipartUpload(u: LeanUpload): Promise<UploadedObject> {
  const boundary = `pgstow-${randomBytes(12).toString('hex')}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n${JSON.stringify(u.resource)}\r\n`
    + `--${boundary}\r\nContent-Type: ${u.contentType}\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const { status, text } = await send(u, Readable.from(framed(head, u.body, tail, u.size, u.onChunk), { objectMode: false }),
    head.length + u.size + tail.length, `multipart/related; boundary=${boundary}`);
  let json: unknown;
  try { json = text === '' ? {} : JSON.parse(text); } catch { json = undefined; }
  if (status >= 200 && status < 300 && json !== undefined) return json as UploadedObject;
  throw httpError(status, json, text);
}

async function* framed(head: Buffer, body: Readable, tail: Buffer, size: number, onChunk: (c: Buffer) => void): AsyncGenerator<Buffer> {
  yield head;
  let sent = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer | string>) {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      sent += b.length;
      if (sent > size) throw new Error(`the body is longer than its announced ${size} bytes`);
      onChunk(b);
      yield b;
    }
  } catch (err) {
    throw new UploadSourceError(err as Error);
  }
  if (sent !== size) throw new UploadSourceError(new Error(`the body ended after ${sent} of its announced ${size} bytes`));
  yield tail;
}

/** Error in the shape of the SDK's ApiError: the status as `code`, the JSON API's message and reasons. */
export function httpError(status: number, json: unknown, text: string): Error {
  const e = (json as { error?: { message?: unknown; errors?: unknown } } | undefined)?.error;
  const message = typeof e?.message === 'string' ? e.message : text.slice(0, 300) || `HTTP ${status}`;
  return Object.assign(new Error(message), { code: status, ...(Array.isArray(e?.errors) ? { errors: e.errors } : {}) });
}

/**
 * One request with `body` (exactly `length` bytes); resolves with the answer's status and text once it has been
 * read. An answer that comes before the whole body was sent (an early refusal: 412) stops the upload. A failing
 * body rejects with its UploadSourceError, whatever the request did after it.
 */
function send(u: LeanUpload, body: Readable, length: number, contentType: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    let sourceError: Error | undefined;
    let answered = false;
    const req = (u.url.protocol === 'https:' ? https : http).request(u.url, {
      method: 'POST', agent: u.agent, ...(u.signal ? { signal: u.signal } : {}),
      headers: { ...u.headers, 'content-type': contentType, 'content-length': String(length) },
    }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      let got = 0;
      res.on('data', (c: Buffer) => { got += c.length; if (got <= MAX_ANSWER) chunks.push(c); });
      res.on('error', reject);
      res.on('end', () => {
        if (!req.writableFinished) req.destroy(); // answered early: the rest of the body is not wanted
        if (sourceError && (res.statusCode ?? 0) < 300) reject(sourceError);
        else resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('close', () => { if (!res.complete) reject(Object.assign(new Error('the connection closed during the answer'), { code: 'ECONNRESET' })); });
    });
    req.setTimeout(u.timeoutMs, () => req.destroy(Object.assign(new Error(`no response within ${u.timeoutMs} ms`), { name: 'TimeoutError' })));
    req.on('error', (err) => reject(sourceError ?? err));
    req.on('close', () => { if (!answered) reject(sourceError ?? Object.assign(new Error('the connection closed before the answer'), { code: 'ECONNRESET' })); });
    body.once('error', (err) => { sourceError ??= err; });
    pipeline(body, req, () => undefined); // failures reach the request's 'error' or 'close' (or come after the answer)
  });
}
