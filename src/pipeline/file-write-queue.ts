/**
 * Writes many files at once through the libuv thread pool, for tar extraction: the caller hands over each
 * file's bytes as they arrive and goes on parsing, while opens, writes, chmod/chown/utimes and closes run
 * concurrently across files (in order within a file). A promise per call, one file after the other, made
 * extraction 3–6× slower than synchronous calls; overlapping files makes it as fast without blocking the
 * event loop. Bounded: at most `maxBytes` handed over and not yet written, and `maxFiles` files open.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface FileAttributes {
  mode: number;
  mtime: number;
  /** Owner to set (root only). */
  owner?: { uid: number; gid: number };
}

export interface FileWriteQueueOptions {
  maxBytes: number;
  maxFiles: number;
}

const FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW;

const call = <T>(fn: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> =>
  new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));

/** Writes every chunk, in order, with as few writev calls as the kernel allows (it may write fewer bytes). */
async function writeAll(fd: number, chunks: Buffer[]): Promise<void> {
  let rest = chunks;
  while (rest.length > 0) {
    const batch = rest.length > IOV_MAX ? rest.slice(0, IOV_MAX) : rest;
    let written = await call<number>((cb) => fs.writev(fd, batch, null, cb));
    let i = 0;
    while (i < batch.length && written >= (batch[i] as Buffer).length) written -= (batch[i++] as Buffer).length;
    rest = rest.slice(i);
    if (written > 0) rest[0] = (rest[0] as Buffer).subarray(written);
  }
}

/** Chunks per writev call (Linux IOV_MAX is 1024). */
const IOV_MAX = 1024;

/**
 * Bytes a file gathers before a write is started (its last bytes go at close). A download hands over 64 KiB
 * socket chunks, and a write each was a thread-pool round trip and a syscall per 64 KiB: 8,000 writes in a
 * 461 MB restore. Bounded by the queue's byte budget like every accepted chunk.
 */
const MIN_WRITE = 256 * 1024;

/**
 * Chunks up to this size are copied into reused buffers ("slabs", a file's chunks one after the other) instead
 * of being held: a download's 64 KiB socket chunks, held until written, lived through the young collections
 * the GC pacer runs every few MiB, were promoted, and needed full collections (4-10 in a 461 MB restore, 40-130
 * ms each on a loaded machine); copied, they die young. The copy also replaces Buffer.from for a small slice of
 * a large buffer (see write()). A slab goes back to the queue once its file moved on and its bytes are written.
 */
const SLAB_SIZE = 128 * 1024;

interface Slab { buf: Buffer; used: number; refs: number; retired: boolean }

/** One file being written: write() chunks in order, then close() with its attributes. */
export class QueuedFile {
  private tail: Promise<void>;
  private fd: number | undefined;
  /** Chunks accepted and not yet taken by a write: the next write takes them all in one writev. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** A write is chained that has not yet taken `pending`. */
  private scheduled = false;
  /** The slab of each pending chunk copied into one, and the slab this file fills now. */
  private pendingSlabs: Array<Slab | undefined> = [];
  private slab: Slab | undefined;

  constructor(private readonly queue: FileWriteQueue, readonly file: string, mode: number, before: Promise<void>) {
    this.tail = before.then(async () => { this.fd = await call<number>((cb) => fs.open(file, FLAGS, mode, cb)); });
  }

  /**
   * Resolves once the chunk is accepted (room in the byte budget), not once it is written. A `borrowed` chunk
   * is valid only until the caller's next step: it is always copied.
   */
  async write(data: Buffer, borrowed = false): Promise<void> {
    await this.queue.reserve(data.length);
    // Small chunks and borrowed ones (a download's lent pieces, up to 256 KiB) are copied into the slabs; a large
    // chunk of its own is held as it is, unless it is a small slice of a larger buffer (a decompressor's 1 MiB
    // output): waiting to be written, the slice would keep the whole buffer alive (32 open files pinned 50 MiB in an
    // lz4 restore).
    if (borrowed || data.length <= SLAB_SIZE) this.copyIntoSlabs(data);
    else this.push(data.length < data.buffer.byteLength / 4 ? Buffer.from(data) : data, undefined);
    // One write per batch of at least MIN_WRITE bytes (or the file's last bytes, at close): a chunk arriving
    // while a write runs joins the batch the next write takes.
    if (this.pendingBytes >= MIN_WRITE) this.schedule();
    else if (!this.scheduled) this.queue.hold(this);
  }

  private push(chunk: Buffer, slab: Slab | undefined): void {
    this.pending.push(chunk);
    this.pendingSlabs.push(slab);
    this.pendingBytes += chunk.length;
  }

  /** Copies `data` into the file's slabs: what fits into the current one, the rest into fresh ones. */
  private copyIntoSlabs(data: Buffer): void {
    for (let off = 0; off < data.length;) {
      const slab = this.slab && this.slab.used < this.slab.buf.length ? this.slab : this.freshSlab();
      const n = Math.min(slab.buf.length - slab.used, data.length - off);
      const chunk = slab.buf.subarray(slab.used, slab.used + n);
      data.copy(chunk, 0, off, off + n);
      slab.used += n;
      slab.refs++;
      this.push(chunk, slab);
      off += n;
    }
  }

  /** A fresh slab for the file (the current one retires). */
  private freshSlab(): Slab {
    this.retireSlab();
    this.slab = { buf: this.queue.takeSlab(), used: 0, refs: 0, retired: false };
    return this.slab;
  }

  private retireSlab(): void {
    const s = this.slab;
    this.slab = undefined;
    if (s) { s.retired = true; this.unref(s, 0); }
  }

  /** `k` written (or dropped) chunks of slab `s`: back to the queue once nothing of it waits and the file moved on. */
  private unref(s: Slab, k: number): void {
    s.refs -= k;
    if (s.retired && s.refs === 0) { s.retired = false; this.queue.giveSlab(s.buf); }
  }

  private unrefAll(slabs: Array<Slab | undefined>): void {
    for (const s of slabs) if (s) this.unref(s, 1);
  }

  /** Chains a write of the pending chunks (once: chunks arriving before it runs join it). */
  schedule(): void {
    if (this.scheduled || this.pending.length === 0) return;
    this.scheduled = true;
    this.queue.unhold(this);
    this.tail = this.tail.then(() => this.flush(), (err: unknown) => { this.drop(); throw err; });
  }

  /** The file failed before these chunks were written: they leave the byte budget unwritten. */
  private drop(): void {
    const bytes = this.pendingBytes;
    const slabs = this.pendingSlabs;
    this.pending = [];
    this.pendingSlabs = [];
    this.pendingBytes = 0;
    this.unrefAll(slabs);
    this.scheduled = false;
    this.queue.unhold(this);
    this.queue.release(bytes);
  }

  private async flush(): Promise<void> {
    const chunks = this.pending;
    const slabs = this.pendingSlabs;
    const bytes = this.pendingBytes;
    this.pending = [];
    this.pendingSlabs = [];
    this.pendingBytes = 0;
    this.scheduled = false;
    try {
      await writeAll(this.fd as number, chunks);
    } finally {
      // No write uses these bytes any more (a failed writev has returned too).
      this.unrefAll(slabs);
      this.queue.release(bytes);
    }
  }

  /** Sets the attributes (none: the file is abandoned) and closes; the queue tracks completion and failure. */
  close(attrs?: FileAttributes): Promise<void> {
    // The file's last bytes are written; an abandoned file's are given back unwritten.
    if (attrs) this.schedule();
    else this.drop();
    this.retireSlab();
    const done = this.tail.then(async () => {
      if (!attrs) return;
      const fd = this.fd as number;
      await call<void>((cb) => fs.fchmod(fd, attrs.mode, (e) => cb(e, undefined)));
      if (attrs.owner) { const { uid, gid } = attrs.owner; await call<void>((cb) => fs.fchown(fd, uid, gid, (e) => cb(e, undefined))); }
      await call<void>((cb) => fs.futimes(fd, attrs.mtime, attrs.mtime, (e) => cb(e, undefined)));
    }).finally(async () => {
      if (this.fd !== undefined) await call<void>((cb) => fs.close(this.fd as number, (e) => cb(e, undefined)));
    });
    return this.queue.track(this.file, done);
  }
}

export class FileWriteQueue {
  private bytes = 0;
  private files = 0;
  private failure: unknown;
  private readonly waiting: Array<() => void> = [];
  private readonly dirs = new Map<string, Promise<void>>();
  private readonly byPath = new Map<string, Promise<void>>();
  private readonly running = new Set<Promise<void>>();
  /** Files holding accepted bytes below MIN_WRITE with no write chained for them. */
  private readonly holding = new Set<QueuedFile>();
  private readonly freeSlabs: Buffer[] = [];

  constructor(private readonly options: FileWriteQueueOptions) {}

  /** mkdir -p once per directory (mode 0700 for directories the archive did not list). */
  ensureDir(dir: string): Promise<void> {
    let p = this.dirs.get(dir);
    if (!p) {
      p = fs.promises.mkdir(dir, { recursive: true, mode: 0o700 }).then(() => undefined);
      this.dirs.set(dir, p);
    }
    return p;
  }

  /** Starts a file once a file slot is free; a second write of the same path waits for the first. */
  async open(file: string, mode: number): Promise<QueuedFile> {
    this.check();
    while (this.files >= this.options.maxFiles) await this.wait();
    this.files++;
    const before = Promise.all([this.byPath.get(file)?.catch(() => undefined), this.ensureDir(path.dirname(file))]).then(() => undefined);
    return new QueuedFile(this, file, mode, before);
  }

  /** Waits for every file and throws the first failure. */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
    this.check();
  }

  /** Waits for every file, ignoring failures (before a caller gives up and cleans up). */
  async settle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /** @internal */
  async reserve(n: number): Promise<void> {
    this.check();
    // One chunk larger than the budget still goes through alone.
    while (this.bytes > 0 && this.bytes + n > this.options.maxBytes) {
      // Room comes only from writes: bytes held back for a larger write must go now, or this waits for ever.
      for (const f of [...this.holding]) f.schedule();
      await this.wait();
      this.check();
    }
    this.bytes += n;
  }

  /** @internal */
  takeSlab(): Buffer {
    return this.freeSlabs.pop() ?? Buffer.allocUnsafeSlow(SLAB_SIZE);
  }

  /** @internal Kept for reuse up to what the byte budget can fill. */
  giveSlab(buf: Buffer): void {
    if (this.freeSlabs.length < Math.max(2, Math.ceil(this.options.maxBytes / SLAB_SIZE))) this.freeSlabs.push(buf);
  }

  /** @internal */
  hold(file: QueuedFile): void {
    this.holding.add(file);
  }

  /** @internal */
  unhold(file: QueuedFile): void {
    this.holding.delete(file);
  }

  /** @internal */
  release(n: number): void {
    this.bytes -= n;
    this.wake();
  }

  /** @internal */
  track(file: string, done: Promise<void>): Promise<void> {
    const tracked = done.catch((err: unknown) => { this.failure ??= err; }).finally(() => {
      this.running.delete(tracked);
      if (this.byPath.get(file) === tracked) this.byPath.delete(file);
      this.files--;
      this.wake();
    });
    this.running.add(tracked);
    this.byPath.set(file, tracked);
    return tracked;
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private wait(): Promise<void> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private wake(): void {
    for (const w of this.waiting.splice(0)) w();
  }
}
