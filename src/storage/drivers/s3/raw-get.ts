/**
 * One GET on a plain-HTTP connection of its own, the body read straight from the socket. node:http's parser copies
 * every body chunk into a new Buffer (Node ≥ 18): on a 1.2 GB object that is a copy of every byte and twice the
 * Buffer garbage on the main thread (measured on s3rver: node:http 1.22–1.30 s of CPU per 1.2 GB, the socket's
 * own chunks 0.69–0.78 s). Only what a GetObject answer needs: the status line, the headers, and a body framed by
 * Content-Length; any other answer (an error status, chunked or unframed bodies, an oversized head) is returned
 * as RawUnsupported for the caller's other path. The body must have exactly Content-Length bytes: fewer (the
 * connection closed early) or more fail the body stream. The request says `Connection: close`; the socket is
 * closed after the body. `timeoutMs` without a byte fails the request or the body (TimeoutError). rawGetLent reads
 * the body into a few reused buffers instead, for a reader that uses each piece before it asks for the next.
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
    const socket = connect(req);
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

/** The connection with the request sent: timeout, abort signal and, for lent reads, node:net's `onread`. */
function connect(req: RawGetRequest, onread?: net.OnReadOpts): net.Socket {
  const socket = net.connect({
    host: req.host, port: req.port, noDelay: true, ...(req.lookup ? { lookup: req.lookup } : {}), ...(onread ? { onread } : {}),
  });
  const onAbort = (): void => { socket.destroy(Object.assign(new Error('the request was aborted'), { name: 'AbortError' })); };
  if (req.signal?.aborted) onAbort();
  req.signal?.addEventListener('abort', onAbort, { once: true });
  socket.once('close', () => req.signal?.removeEventListener('abort', onAbort));
  socket.setTimeout(req.timeoutMs, () => socket.destroy(Object.assign(new Error(`no response within ${req.timeoutMs} ms`), { name: 'TimeoutError' })));
  socket.write(`GET ${req.path} HTTP/1.1\r\n${Object.entries(req.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}connection: close\r\n\r\n`);
  return socket;
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

/** A response whose body is read into memory the reader reuses (rawGetLent). */
export interface RawLentResponse {
  status: number;
  headers: Record<string, string>;
  pieces: LentPieces;
}

/**
 * The body's bytes into a ring of reused buffers (node:net's `onread`): no Buffer is allocated per socket read, and
 * nothing of the body becomes garbage (on a 1.2 GB object: 18,000 64 KiB Buffers, and the young collections the GC
 * pacer runs to free them). Each piece is a view of a slot, valid until the next next() call; the socket reads ahead
 * into the other slots and pauses when none is free. A piece ≤ `slotBytes` (default LENT_SLOT): a reader that
 * handles larger pieces (a restore) asks for larger slots, and a socket read then takes all the kernel holds up to
 * that size, one read, one piece and one trip through the reader's layers instead of up to four.
 */
export const LENT_SLOT = 64 * 1024;
/** Bytes of the ring: 8 slots of 64 KiB, at least 4 slots of a larger size. */
const RING_BYTES = 8 * LENT_SLOT;

export function rawGetLent(req: RawGetRequest, slotBytes = LENT_SLOT): Promise<RawLentResponse | RawUnsupported> {
  return new Promise((resolve, reject) => {
    const ring = new SlotRing(slotBytes, Math.max(4, Math.ceil(RING_BYTES / slotBytes)));
    let head: Buffer = Buffer.alloc(0);
    let body: LentPieces | undefined;
    const onRead = (n: number, buf: Buffer): boolean => {
      if (body) return body.filled(n);
      // The head: copied out (it is small); what follows it in this read stays in the slot as the first piece.
      head = head.length === 0 ? Buffer.from(buf.subarray(0, n)) : Buffer.concat([head, buf.subarray(0, n)]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_HEAD) { socket.destroy(); resolve(new RawUnsupported('response head too large')); }
        return true;
      }
      socket.off('error', reject);
      socket.off('end', early);
      const parsed = parseHead(head.subarray(0, end).toString('latin1'));
      if (parsed instanceof RawUnsupported) { socket.destroy(); resolve(parsed); return false; }
      body = new LentPieces(socket, ring, parsed.length);
      resolve({ ...parsed.response, pieces: body });
      const first = head.length - (end + 4);
      return first === 0 ? body.filled(0) : body.filled(n, n - first);
    };
    const socket = connect(req, { buffer: () => ring.target, callback: onRead });
    const early = (): void => reject(new Error('the connection closed before the response'));
    socket.on('error', reject);
    socket.on('end', early);
  });
}

/** `slots` buffers: `target` is the one the socket reads into next (never one holding unread bytes). */
class SlotRing {
  private readonly free: Buffer[] = [];
  target: Buffer;

  constructor(slotBytes: number, slots: number) {
    for (let i = 1; i < slots; i++) this.free.push(Buffer.allocUnsafeSlow(slotBytes));
    this.target = Buffer.allocUnsafeSlow(slotBytes);
  }

  /** The target now holds bytes: the next free slot becomes the target; false when none is left after it. */
  advance(): boolean {
    this.target = this.free.pop() as Buffer;
    return this.free.length > 0;
  }

  give(slot: Buffer): void {
    this.free.push(slot);
  }

  get hasFree(): boolean {
    return this.free.length > 0;
  }
}

/**
 * The body as lent pieces: exactly `length` bytes (fewer, the connection closing early, fails as a reset
 * connection as node:http reports it; more fails), read ahead into the ring while the reader works on a piece.
 */
export class LentPieces implements AsyncIterableIterator<Buffer> {
  private readonly queue: Array<{ slot: Buffer; piece: Buffer }> = [];
  private lent: Buffer | undefined;
  private left: number;
  private paused = false;
  private failure: Error | undefined;
  private done = false;
  private wake: (() => void) | undefined;
  /** How a failure reaches the reader (the store's error classes). */
  mapError: (err: Error) => Error = (err) => err;

  constructor(private readonly socket: net.Socket, private readonly ring: SlotRing, private readonly length: number) {
    this.left = length;
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => {
      // A network failure, as node:http reports a body cut short (ECONNRESET): retryable, exit 2.
      if (this.left > 0) {
        this.fail(Object.assign(new Error(`the connection closed after ${length - this.left} of ${length} bytes of the body`), { code: 'ECONNRESET' }));
      }
    });
  }

  /** @internal The socket read `n` bytes into the ring's target (the piece starts at `from`); false pauses it. */
  filled(n: number, from = 0): boolean {
    if (this.done || this.failure) return false;
    if (n - from > this.left) {
      this.fail(new Error(`the response has more bytes than its Content-Length (${this.length})`));
      return false;
    }
    if (n > from) {
      this.queue.push({ slot: this.ring.target, piece: this.ring.target.subarray(from, n) });
      this.left -= n - from;
      this.paused = !this.ring.advance();
    }
    if (this.left === 0) this.socket.destroy();
    this.wake?.();
    return !this.paused;
  }

  async next(): Promise<IteratorResult<Buffer>> {
    this.giveBack();
    while (this.queue.length === 0) {
      if (this.failure) throw this.mapError(this.failure);
      if (this.left === 0 || this.done) { this.done = true; return { done: true, value: undefined }; }
      await new Promise<void>((resolve) => { this.wake = resolve; });
      this.wake = undefined;
    }
    const { slot, piece } = this.queue.shift() as { slot: Buffer; piece: Buffer };
    this.lent = slot;
    return { done: false, value: piece };
  }

  /** Stops reading: the socket is closed; a next() waiting ends (without a value). */
  async return(): Promise<IteratorResult<Buffer>> {
    this.done = true;
    this.socket.destroy();
    this.wake?.();
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The slot of the piece lent last is free again: reading resumes if it waited for one. */
  private giveBack(): void {
    if (!this.lent) return;
    this.ring.give(this.lent);
    this.lent = undefined;
    if (this.paused && this.ring.hasFree && !this.done) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.socket.destroy();
    this.wake?.();
  }
}
