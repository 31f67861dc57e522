/**
 * A streamed GCS upload as a resumable upload session on node:http/https, without the SDK: a backup's volumes.
 * The SDK's resumable upload (gaxios, its retry machinery and the whole Google bundle loaded for it) cost a backup
 * process 15–44 MiB of peak RSS (105–136 MiB against 88–92 here for 1.1 GB, every codec; issue 15.3).
 * The protocol is GCS's: one POST
 * opens the session (its URI authorizes the chunk PUTs); chunks of a multiple of 256 KiB go up in order with
 * `Content-Range: bytes A-B/*` (308 and the persisted range), the last with the total (200 and the object). One
 * chunk is on the wire while the next fills, in buffers reused from one to the next (two chunks of memory, as the
 * memory plan's part buffers). A chunk request that fails (a 5xx, 408, 429, a connection failure or a timeout) is
 * retried where the session says it stands (`bytes * /*`), within the SDK path's budget of failed requests per
 * upload; other answers fail at once. Errors have the shape classifyGcsError reads (a numeric `code`, the JSON
 * API's `errors`), so exit codes and messages are the SDK path's. A failed upload's session is cancelled (DELETE);
 * an unfinished session is never an object. No SDK here.
 */
import type * as httpT from 'node:http';
import { http, https } from '../../node-net.js';
import { httpError, type UploadedObject } from './lean-upload.js';
import type { PartRecycler } from '../../object-store-helpers.js';
import { UseSdk } from './lean-reads.js';

/** Largest answer body read (object metadata, an error document). */
const MAX_ANSWER = 1024 * 1024;
/** Longest wait between two tries of a chunk (the SDK path's maxRetryDelay, 8 s). */
const MAX_RETRY_DELAY_MS = 8000;

export interface SessionRequest {
  /** The session's creation URL (uploadType=resumable, name, kmsKeyName). */
  url: URL;
  /** Authorization, when the store has credentials. */
  headers: Record<string, string>;
  /** The object resource (name, contentType, metadata). */
  resource: Record<string, unknown>;
  contentType: string;
  agent: httpT.Agent;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface ChunkUpload {
  /** The session URI (a credential: never in a message). */
  session: URL;
  chunkSize: number;
  /** Called with each chunk's bytes once, in order, before it is sent (the checksum). */
  onChunk: (chunk: Buffer) => void;
  /** Failed requests tolerated over the whole upload before it fails with the last failure. */
  maxRetries: number;
  /** First wait before a retry, doubled per failure in a row up to 8 s. */
  retryDelayMs: number;
  agent: httpT.Agent;
  timeoutMs: number;
  signal: AbortSignal;
}

interface Answer { status: number; headers: httpT.IncomingHttpHeaders; text: string }

/**
 * Opens a session: its URI, or UseSdk when the answer is not a 2xx with a Location (or no answer came), so the SDK
 * path opens it instead with its retries and errors. Only an abort throws.
 */
export async function openSession(s: SessionRequest): Promise<URL | UseSdk> {
  const body = Buffer.from(JSON.stringify(s.resource));
  let answer: Answer;
  try {
    answer = await request('POST', s.url, {
      ...s.headers, 'content-type': 'application/json; charset=UTF-8', 'content-length': String(body.length), 'x-upload-content-type': s.contentType,
    }, body, s.agent, s.timeoutMs, s.signal);
  } catch (err) {
    if (s.signal?.aborted) throw s.signal.reason;
    return new UseSdk((err as Error).message);
  }
  const location = one(answer.headers.location);
  if (answer.status < 200 || answer.status >= 300 || !location) return new UseSdk(`HTTP ${answer.status}`, answer.status);
  try {
    return new URL(location, s.url);
  } catch {
    return new UseSdk('session location not understood');
  }
}

/**
 * Sends `first` and the rest of `parts` (each `chunkSize` bytes but the last) through the session; resolves with
 * GCS's object resource and the size. `spare` gets each chunk back once GCS has it. Throws the failure; the caller
 * cancels the session.
 */
export async function sendChunks(u: ChunkUpload, first: Buffer, parts: AsyncIterator<Buffer>, spare: PartRecycler):
  Promise<{ object: UploadedObject; size: number }> {
  const budget = { failures: 0 };
  let offset = 0;
  let chunk = first;
  for (;;) {
    const last = chunk.length < u.chunkSize;
    const start = offset;
    offset += chunk.length;
    u.onChunk(chunk);
    const sent = chunk;
    const sending = sendChunk(u, sent, start, last ? offset : undefined, budget).then((object) => { spare.give(sent); return object; });
    if (last) return { object: await finalObject(sending), size: offset };
    // The next chunk fills while this one is on the wire.
    const [, next] = await Promise.all([sending, parts.next()]);
    if (next.done) {
      // The body ended on a chunk boundary: an empty request with the total finalizes.
      return { object: await finalObject(sendChunk(u, Buffer.alloc(0), offset, offset, budget)), size: offset };
    }
    chunk = next.value;
  }
}

/** Cancels a session (best effort: an unfinished session is never an object, and GCS drops it after a week). */
export async function cancelSession(session: URL, agent: httpT.Agent, timeoutMs: number): Promise<void> {
  await request('DELETE', session, { 'content-length': '0' }, undefined, agent, timeoutMs, undefined).catch(() => undefined);
}

async function finalObject(p: Promise<UploadedObject | undefined>): Promise<UploadedObject> {
  const object = await p;
  if (object === undefined) throw Object.assign(new Error('GCS did not finalize the upload after its last chunk'), { code: 'ECONNRESET' });
  return object;
}

/**
 * One chunk at `start` (the last when `total` is given): undefined once GCS has it all (308), the object once the
 * last is in. Resends what GCS did not persist; retries failures in place, asking the session where it stands.
 */
async function sendChunk(u: ChunkUpload, chunk: Buffer, start: number, total: number | undefined, budget: { failures: number }):
  Promise<UploadedObject | undefined> {
  let have = 0; // bytes of this chunk GCS holds
  let inARow = 0;
  for (;;) {
    const body = chunk.subarray(have);
    const range = body.length === 0 ? `bytes */${total ?? '*'}` : `bytes ${start + have}-${start + chunk.length - 1}/${total ?? '*'}`;
    let outcome: Answer | Error = await put(u, { 'content-range': range, 'content-length': String(body.length) }, body);
    if (!(outcome instanceof Error)) {
      const taken = took(outcome, start, chunk.length, total);
      if (taken.done) return taken.object;
      if (taken.have !== undefined && taken.have > have) { have = taken.have; inARow = 0; continue; }
      // A 308 that took nothing is retried as a failure; any other status but the retryable ones fails.
      if (taken.have === undefined && !retryable(outcome.status)) throw answerError(outcome);
    }
    // A failure: wait, then ask where the session stands before sending again (its answer may have been lost).
    for (;;) {
      if (++budget.failures > u.maxRetries) throw outcome instanceof Error ? outcome : answerError(outcome);
      await delay(Math.min(MAX_RETRY_DELAY_MS, u.retryDelayMs * 2 ** inARow++), u.signal);
      const status = await put(u, { 'content-range': 'bytes */*', 'content-length': '0' }, undefined);
      if (status instanceof Error || (!ok(status.status) && status.status !== 308)) {
        if (!(status instanceof Error) && !retryable(status.status)) throw answerError(status);
        outcome = status;
        continue;
      }
      const taken = took(status, start, chunk.length, total);
      if (taken.done) return taken.object;
      if (taken.have === undefined) throw answerError(status);
      have = taken.have;
      break;
    }
  }
}

/**
 * What an answer says of this chunk: done (all of it persisted; the object when it was the last), or how much of
 * it GCS holds (a 308's Range), or neither (another status). Persisted bytes before the chunk missing, or a
 * finalized object when more was to come, are protocol errors.
 */
function took(a: Answer, start: number, length: number, total: number | undefined):
  { done: true; object: UploadedObject | undefined } | { done: false; have?: number } {
  if (ok(a.status)) {
    let object: unknown;
    try { object = JSON.parse(a.text); } catch { object = undefined; }
    if (total === undefined || typeof object !== 'object' || object === null) throw answerError(a, 'GCS finalized the upload before its last chunk');
    return { done: true, object: object as UploadedObject };
  }
  if (a.status !== 308) return { done: false };
  const m = /^bytes=0-(\d+)$/.exec(one(a.headers.range) ?? '');
  const persisted = m ? Number(m[1]) + 1 : 0;
  if (persisted < start || persisted > start + length) {
    throw Object.assign(new Error(`GCS holds ${persisted} bytes of the upload, not between ${start} and ${start + length}`), { code: 'ECONNRESET' });
  }
  if (total === undefined && persisted === start + length) return { done: true, object: undefined };
  return { done: false, have: persisted - start };
}

/** A chunk or status request: the answer, or the failure (a network error, a timeout); an abort throws. */
async function put(u: ChunkUpload, headers: Record<string, string>, body: Buffer | undefined): Promise<Answer | Error> {
  try {
    return await request('PUT', u.session, headers, body, u.agent, u.timeoutMs, u.signal);
  } catch (err) {
    if (u.signal.aborted) throw u.signal.reason;
    return err as Error;
  }
}

function answerError(a: Answer, message?: string): Error {
  let json: unknown;
  try { json = a.text === '' ? undefined : JSON.parse(a.text); } catch { json = undefined; }
  const err = httpError(a.status, json, a.text);
  if (message) err.message = `${message} (HTTP ${a.status})`;
  return err;
}

/** The statuses the SDK path retries (its retryableErrorFn): timeouts, throttling, server errors. */
function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function ok(status: number): boolean {
  return status >= 200 && status < 300;
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) { reject(signal.reason); return; }
    const done = (): void => { clearTimeout(timer); reject(signal.reason); };
    const timer = setTimeout(() => { signal.removeEventListener('abort', done); resolve(); }, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** One request with a body in memory; the answer once read (up to MAX_ANSWER bytes of it). */
function request(method: 'POST' | 'PUT' | 'DELETE', url: URL, headers: Record<string, string>, body: Buffer | undefined, agent: httpT.Agent,
  timeoutMs: number, signal: AbortSignal | undefined): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).request(url, { method, headers, agent, ...(signal ? { signal } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      let got = 0;
      res.on('data', (c: Buffer) => { got += c.length; if (got <= MAX_ANSWER) chunks.push(c); });
      res.on('error', reject);
      res.on('end', () => {
        // Answered before the whole body was sent: the rest is not wanted (the socket cannot be reused).
        if (!req.writableFinished) req.destroy();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('close', () => { if (!res.complete) reject(Object.assign(new Error('the connection closed during the answer'), { code: 'ECONNRESET' })); });
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no response within ${timeoutMs} ms`), { name: 'TimeoutError' })));
    req.on('error', reject);
    req.end(body);
  });
}
