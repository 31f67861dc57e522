/**
 * One signed request without a body to read back (PUT, HEAD, DELETE) on node:http/https, for the lean stores
 * (S3's lean-reads.ts, Azure's lean-store.ts; each signs its own headers). The request body, when there is one, is a
 * Buffer or a stream written as it is read, as the SDKs' handlers write it, with pgstow's own agents (no wait for
 * 100 Continue). Resolves with the status and headers once the answer's body (an error document, ignored here) has
 * been read, so the socket goes back to the agent; an answer that comes before the request body was sent in full
 * (an early refusal) stops the upload.
 */
import type * as httpT from 'node:http';
import { Readable, pipeline, type Writable } from 'node:stream';
import { http, https } from './node-net.js';

export interface LeanCall {
  method: 'PUT' | 'HEAD' | 'DELETE';
  protocol: string;
  hostname: string;
  port?: number;
  /** Path with its query string. */
  path: string;
  /** The signed headers (host included). */
  headers: Record<string, string>;
  body?: Buffer | Readable;
  agent: httpT.Agent;
  /** No byte sent or received for this long fails the request (TimeoutError), as the SDK's socketTimeout. */
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface LeanAnswer {
  status: number;
  headers: httpT.IncomingHttpHeaders;
}

/**
 * A body stream that can write itself into the request (and end it) instead of being piped: archive-wal.ts's WAL
 * file, read into a few buffers it reuses once each write is done (no fresh Buffer per read). A rejection is the
 * body's failure; a request that fails meanwhile reports its own.
 */
export interface SelfWritingBody {
  writeInto(dest: Writable): Promise<void>;
}

/** The request body stream failed (a local read): not a store failure. */
export class SourceFailure extends Error {
  constructor(readonly original: Error) { super(original.message); }
}

export function leanCall(call: LeanCall): Promise<LeanAnswer> {
  return new Promise((resolve, reject) => {
    const secure = call.protocol === 'https:';
    let sourceError: Error | undefined;
    let answered = false;
    const failure = (err?: Error): Error => (sourceError ? new SourceFailure(sourceError)
      : err ?? Object.assign(new Error('the connection closed before the answer'), { code: 'ECONNRESET' }));
    const req = (secure ? https : http).request({
      method: call.method, protocol: call.protocol, hostname: call.hostname.replace(/^\[(.*)\]$/, '$1'), ...(call.port ? { port: call.port } : {}),
      path: call.path, headers: call.headers, agent: call.agent, ...(call.signal ? { signal: call.signal } : {}),
    }, (res) => {
      answered = true;
      res.on('error', reject);
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers });
        // Answered before the whole body was sent: the rest is not wanted (the socket cannot be reused).
        if (!req.writableFinished) req.destroy();
      });
      res.on('close', () => { if (!res.complete) reject(Object.assign(new Error('the connection closed during the answer'), { code: 'ECONNRESET' })); });
      res.resume();
    });
    req.setTimeout(call.timeoutMs, () => req.destroy(Object.assign(new Error(`no response within ${call.timeoutMs} ms`), { name: 'TimeoutError' })));
    req.on('error', (err) => reject(failure(err)));
    // A request that pipeline ended for its body's failure closes without an 'error' of its own.
    req.on('close', () => { if (!answered) reject(failure()); });
    const body = call.body;
    if (body instanceof Readable) {
      // Registered before pipeline's own listener: a failure of the body is known as such when the request fails of it.
      body.once('error', (err) => { sourceError ??= err; });
      const writeInto = (body as Partial<SelfWritingBody>).writeInto;
      if (writeInto) writeInto.call(body, req).catch((err: Error) => { sourceError ??= err; req.destroy(err); });
      else pipeline(body, req, () => undefined); // failures reach the request's 'error' or 'close' (or come after the answer)
    } else {
      req.end(body);
    }
  });
}
