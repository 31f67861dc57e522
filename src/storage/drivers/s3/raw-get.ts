/**
 * One GET on a plain-HTTP connection of its own, the body read straight from the socket. node:http's parser copies
 * every body chunk into a new Buffer (Node ≥ 18): on a 1.2 GB object that is a copy of every byte and twice the
 * Buffer garbage on the main thread (measured on s3rver: node:http 1.22–1.30 s of CPU per 1.2 GB, the socket's
 * own chunks 0.69–0.78 s). Only what a GetObject answer needs: the status line, the headers, and a body framed by
 * Content-Length; any other answer (an error status, chunked or unframed bodies, an oversized head) is returned
 * as RawUnsupported for the caller's other path. The body must have exactly Content-Length bytes: fewer (the
 * connection closed early) or more fail the body stream. The request says `Connection: close`; the socket is
 * closed after the body. `timeoutMs` without a byte fails the request or the body (TimeoutError).
 */
import * as net from 'node:net';
import { Readable } from 'node:stream';

export interface RawGetRequest {
  host: string;
  port: number;
  lookup?: net.LookupFunction;
  /** Path with its query string, and the signed headers (host included). */
  path: string;
  headers: Record<string, string>;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface RawResponse {
  status: number;
  /** Lower-case names; a repeated header joined with ", " (as node:http does for most). */
  headers: Record<string, string>;
  body: Readable;
}

/** An answer this reader does not take (the socket is closed). */
export class RawUnsupported {
  constructor(readonly why: string, readonly status?: number) {}
}

/** Longest status line and headers accepted (S3 answers send well under 2 KiB). */
const MAX_HEAD = 64 * 1024;

export function rawGet(req: RawGetRequest): Promise<RawResponse | RawUnsupported> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: req.host, port: req.port, noDelay: true, ...(req.lookup ? { lookup: req.lookup } : {}) });
    const onAbort = (): void => { socket.destroy(Object.assign(new Error('the request was aborted'), { name: 'AbortError' })); };
    if (req.signal?.aborted) onAbort();
    req.signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('close', () => req.signal?.removeEventListener('abort', onAbort));
    socket.setTimeout(req.timeoutMs, () => socket.destroy(Object.assign(new Error(`no response within ${req.timeoutMs} ms`), { name: 'TimeoutError' })));
    socket.write(`GET ${req.path} HTTP/1.1\r\n${Object.entries(req.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}connection: close\r\n\r\n`);
    let head: Buffer = Buffer.alloc(0);
    const beforeHead = (chunk: Buffer): void => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_HEAD) { socket.destroy(); resolve(new RawUnsupported('response head too large')); }
        return;
      }
      socket.off('data', beforeHead);
      socket.off('error', reject);
      socket.off('end', early);
      const parsed = parseHead(head.subarray(0, end).toString('latin1'));
      if (parsed instanceof RawUnsupported) { socket.destroy(); resolve(parsed); return; }
      resolve({ ...parsed.response, body: bodyOf(socket, parsed.length, head.subarray(end + 4)) });
    };
    const early = (): void => reject(new Error('the connection closed before the response'));
    socket.on('data', beforeHead);
    socket.on('error', reject);
    socket.on('end', early);
  });
}

/** Status line and headers of a 2xx answer with a Content-Length body; anything else is RawUnsupported. */
function parseHead(text: string): { response: Omit<RawResponse, 'body'>; length: number } | RawUnsupported {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0] ?? '');
  if (!m) return new RawUnsupported('not an HTTP/1.x status line');
  const status = Number(m[1]);
  if (status < 200 || status >= 300) return new RawUnsupported(`HTTP ${status}`, status);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return new RawUnsupported('malformed header line');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  if (headers['transfer-encoding'] !== undefined) return new RawUnsupported(`transfer-encoding ${headers['transfer-encoding']}`);
  const length = headers['content-length'];
  if (length === undefined || !/^\d{1,15}$/.test(length)) return new RawUnsupported('no usable content-length');
  return { response: { status, headers }, length: Number(length) };
}

/** The socket's chunks as the body, exactly `length` bytes (backpressure: the socket pauses while the body is full). */
function bodyOf(socket: net.Socket, length: number, first: Buffer): Readable {
  let left = length;
  const body = new Readable({
    read() { socket.resume(); },
    destroy(err, cb) { socket.destroy(); cb(err); },
  });
  const take = (chunk: Buffer): void => {
    if (chunk.length > left) {
      body.destroy(new Error(`the response has more bytes than its Content-Length (${length})`));
      return;
    }
    left -= chunk.length;
    if (chunk.length > 0 && !body.push(chunk)) socket.pause();
    if (left === 0) { body.push(null); socket.off('data', take); socket.destroy(); }
  };
  socket.on('data', take);
  socket.on('error', (err) => body.destroy(err));
  socket.on('close', () => {
    // A network failure, as node:http reports a body cut short (ECONNRESET): retryable, exit 2.
    if (left > 0) body.destroy(Object.assign(new Error(`the connection closed after ${length - left} of ${length} bytes of the body`), { code: 'ECONNRESET' }));
  });
  take(first);
  return body;
}
