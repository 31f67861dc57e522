/**
 * Streaming, safe tar extraction for restores. Reads POSIX ustar, PAX (`x`/`g`, fractional mtimes, long
 * paths, big sizes) and GNU long names (`L`/`K`) as written by Python's tarfile (barman-cloud) and by pgstow.
 * Safety: absolute paths, `..` segments and anything below a symlink the archive created are refused, files
 * are opened with O_NOFOLLOW; header checksums are verified, and a stream that ends before the
 * end-of-archive marker is an error (a truncated object must never look like a complete backup).
 * Restores modes and mtimes; owners (by name, else by number) only when running as root.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FileWriteQueue } from './file-write-queue.js';

export class TarFormatError extends Error {}

export interface ExtractOptions {
  /** Absolute directory the members go into. */
  root: string;
  /** chown to the archive's owners (only meaningful as root). */
  restoreOwners: boolean;
  /** Called with the number of file bytes written, for progress. */
  onBytes?: (n: number) => void;
  signal?: AbortSignal;
  /** Bytes handed to the file writers and not yet written (default 16 MiB), and files open at once (default 16). */
  writeBufferBytes?: number;
  openFiles?: number;
  /**
   * Each chunk of the source is valid only until the next one is asked for (a decoder's or a download's memory,
   * reused): the extractor copies what it keeps of a chunk before asking for more. A function is asked each time
   * (a download knows whether its chunks are lent once it has started).
   */
  borrowed?: boolean | (() => boolean);
}

export interface ExtractResult {
  members: number;
  fileBytes: number;
}

interface Header {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  type: string;
  linkname: string;
  uname: string;
  gname: string;
}

const BLOCK = 512;

export async function extractTar(source: AsyncIterable<Buffer>, options: ExtractOptions): Promise<ExtractResult> {
  const writer = new FileWriteQueue({ maxBytes: options.writeBufferBytes ?? 16 * 1024 * 1024, maxFiles: options.openFiles ?? 16 });
  try {
    const result = await extractMembers(source, options, writer);
    await writer.drain();
    return result;
  } catch (err) {
    // No write may land after the caller sees the failure (it empties the destination next).
    await writer.settle();
    throw err;
  }
}

/** What extraction carries from member to member. */
interface Extraction {
  reader: ByteReader;
  writer: FileWriteQueue;
  options: ExtractOptions;
  root: string;
  owners: OwnerResolver | undefined;
  symlinks: Set<string>;
  dirs: Array<{ abs: string; h: Header }>;
  /** Extended headers (PAX x/g, GNU L/K) waiting for the member they describe. */
  ext: { globalPax: Record<string, string>; pax?: Record<string, string>; longName?: string; longLink?: string };
  members: number;
  fileBytes: number;
  /** The last member seen, for messages. */
  last: string;
}

async function extractMembers(source: AsyncIterable<Buffer>, options: ExtractOptions, writer: FileWriteQueue): Promise<ExtractResult> {
  const x: Extraction = {
    reader: new ByteReader(source[Symbol.asyncIterator](), borrowedTest(options.borrowed)), writer, options, root: path.resolve(options.root),
    owners: options.restoreOwners ? await OwnerResolver.load() : undefined, symlinks: new Set(), dirs: [],
    ext: { globalPax: {} }, members: 0, fileBytes: 0, last: '(start of archive)',
  };
  for (;;) {
    options.signal?.throwIfAborted();
    const block = await x.reader.readExact(BLOCK, () => `inside the header after ${x.last}`);
    if (block === undefined) throw new TarFormatError(`archive truncated: it ends after ${x.last} without the end-of-archive marker`);
    if (isZero(block)) {
      await x.reader.drain();
      break;
    }
    const raw = parseHeader(block, x.last);
    if (raw.type === 'x' || raw.type === 'g' || raw.type === 'L' || raw.type === 'K') await readExtended(x, raw);
    else await extractMember(x, raw);
  }
  // Directories last and deepest first, so writing their files did not change their mtime afterwards.
  await writer.drain();
  for (const { abs, h } of x.dirs.reverse()) {
    await fsp.chmod(abs, h.mode & 0o777);
    if (x.owners) await fsp.chown(abs, x.owners.uid(h), x.owners.gid(h));
    await fsp.utimes(abs, h.mtime, h.mtime);
  }
  return { members: x.members, fileBytes: x.fileBytes };
}

async function readExtended(x: Extraction, raw: Header): Promise<void> {
  const body = await x.reader.readExact(raw.size, () => `inside an extended header after ${x.last}`);
  if (body === undefined && raw.size > 0) throw new TarFormatError(`archive truncated inside an extended header after ${x.last}`);
  await x.reader.skip(padding(raw.size), () => `after an extended header following ${x.last}`);
  const data = body ?? Buffer.alloc(0);
  if (raw.type === 'x') x.ext.pax = { ...x.ext.globalPax, ...parsePax(data) };
  else if (raw.type === 'g') x.ext.globalPax = { ...x.ext.globalPax, ...parsePax(data) };
  else if (raw.type === 'L') x.ext.longName = cString(data);
  else x.ext.longLink = cString(data);
}

async function extractMember(x: Extraction, raw: Header): Promise<void> {
  const { ext } = x;
  const h = applyExtended(raw, ext.pax ?? (Object.keys(ext.globalPax).length ? ext.globalPax : undefined), ext.longName, ext.longLink);
  x.ext = { globalPax: ext.globalPax };
  const rel = safeRelative(h.name);
  x.last = `member "${h.name}"`;
  x.members++;
  if (rel !== '') assertNotBelowSymlink(rel, x.symlinks, h.name);
  const abs = rel === '' ? x.root : path.join(x.root, rel);
  if (h.type === '0' || h.type === '\0' || h.type === '7' || h.type === '') await writeFile(x, h, abs);
  else if (h.type === '5') {
    await x.writer.ensureDir(abs);
    x.dirs.push({ abs, h });
    await skipData(x.reader, h, x.last);
  } else if (h.type === '2') await makeSymlink(x, h, rel, abs);
  else if (h.type === '1') await makeHardLink(x, h, abs);
  else await skipData(x.reader, h, x.last); // devices and FIFOs never belong in PGDATA: skipped, not created
}

/** Hands the file to the write queue: its writes run while the next members are parsed. */
async function writeFile(x: Extraction, h: Header, abs: string): Promise<void> {
  const file = await x.writer.open(abs, h.mode & 0o777);
  let complete = false;
  try {
    let remaining = h.size;
    while (remaining > 0) {
      const chunk = await x.reader.readUpTo(remaining);
      if (chunk === undefined) throw new TarFormatError(`archive truncated inside ${x.last} (${remaining} of ${h.size} bytes missing)`);
      await file.write(chunk, x.reader.borrowed);
      remaining -= chunk.length;
      x.fileBytes += chunk.length;
      x.options.onBytes?.(chunk.length);
    }
    complete = true;
  } finally {
    const owner = x.owners ? { owner: { uid: x.owners.uid(h), gid: x.owners.gid(h) } } : {};
    void file.close(complete ? { mode: h.mode & 0o777, mtime: h.mtime, ...owner } : undefined);
  }
  await x.reader.skip(padding(h.size), () => `in the padding of ${x.last}`);
}

async function makeSymlink(x: Extraction, h: Header, rel: string, abs: string): Promise<void> {
  if (rel === '') throw new TarFormatError(`refusing ${x.last}: the archive root cannot be a symlink`);
  // Links are rare in PGDATA: let pending files finish first, so nothing is written through a new link.
  await x.writer.drain();
  await fsp.mkdir(path.dirname(abs), { recursive: true, mode: 0o700 });
  await fsp.rm(abs, { force: true });
  await fsp.symlink(h.linkname, abs);
  x.symlinks.add(rel);
  if (x.owners) await fsp.lchown(abs, x.owners.uid(h), x.owners.gid(h)).catch(() => undefined);
  await skipData(x.reader, h, x.last);
}

async function makeHardLink(x: Extraction, h: Header, abs: string): Promise<void> {
  const target = safeRelative(h.linkname);
  if (target === '') throw new TarFormatError(`refusing ${x.last}: hard link to the archive root`);
  assertNotBelowSymlink(target, x.symlinks, h.linkname);
  if (x.symlinks.has(target)) throw new TarFormatError(`refusing ${x.last}: hard link to a symlink`);
  await x.writer.drain(); // the link target must be complete
  await fsp.mkdir(path.dirname(abs), { recursive: true, mode: 0o700 });
  await fsp.rm(abs, { force: true });
  await fsp.link(path.join(x.root, target), abs);
  await skipData(x.reader, h, x.last);
}

async function skipData(reader: ByteReader, h: Header, last: string): Promise<void> {
  if (h.size > 0) await reader.skip(h.size + padding(h.size), () => `inside ${last}`);
}

function borrowedTest(b: ExtractOptions['borrowed']): () => boolean {
  if (typeof b === 'function') return b;
  const fixed = b === true;
  return () => fixed;
}

function padding(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.subarray(0, nul < 0 ? b.length : nul).toString('utf8');
}

function parseNumber(b: Buffer, what: string, last: string): number {
  if ((b[0] as number) & 0x80) {
    // GNU base-256 for values that do not fit in octal.
    let n = 0;
    for (let i = 1; i < b.length; i++) n = n * 256 + (b[i] as number);
    return n;
  }
  const text = cString(b).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`corrupt tar header after ${last}: bad ${what} field`);
  return parseInt(text, 8);
}

function parseHeader(block: Buffer, last: string): Header {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const v = i >= 148 && i < 156 ? 0x20 : (block[i] as number);
    unsigned += v;
    signed += v > 127 ? v - 256 : v;
  }
  const stored = parseNumber(block.subarray(148, 156), 'checksum', last);
  if (stored !== unsigned && stored !== signed) throw new TarFormatError(`corrupt tar header after ${last} (checksum mismatch)`);
  const magic = block.subarray(257, 263).toString('latin1');
  let name = cString(block.subarray(0, 100));
  if (magic === 'ustar\0') {
    const prefix = cString(block.subarray(345, 500));
    if (prefix) name = `${prefix}/${name}`;
  }
  return {
    name,
    mode: parseNumber(block.subarray(100, 108), 'mode', last),
    uid: parseNumber(block.subarray(108, 116), 'uid', last),
    gid: parseNumber(block.subarray(116, 124), 'gid', last),
    size: parseNumber(block.subarray(124, 136), 'size', last),
    mtime: parseNumber(block.subarray(136, 148), 'mtime', last),
    type: String.fromCharCode(block[156] as number),
    linkname: cString(block.subarray(157, 257)),
    uname: cString(block.subarray(265, 297)),
    gname: cString(block.subarray(297, 329)),
  };
}

function parsePax(buf: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let off = 0;
  while (off < buf.length) {
    const sp = buf.indexOf(0x20, off);
    if (sp < 0) break;
    const len = parseInt(buf.subarray(off, sp).toString('latin1'), 10);
    if (!Number.isFinite(len) || len <= 0 || off + len > buf.length) throw new TarFormatError('corrupt PAX extended header');
    const rec = buf.subarray(sp + 1, off + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    off += len;
  }
  return out;
}

function applyExtended(h: Header, pax: Record<string, string> | undefined, longName: string | undefined, longLink: string | undefined): Header {
  const out = { ...h };
  if (longName !== undefined) out.name = longName;
  if (longLink !== undefined) out.linkname = longLink;
  if (pax) {
    if (pax.path !== undefined) out.name = pax.path;
    if (pax.linkpath !== undefined) out.linkname = pax.linkpath;
    if (pax.size !== undefined) out.size = Number(pax.size);
    if (pax.mtime !== undefined) out.mtime = Number(pax.mtime);
    if (pax.uid !== undefined) out.uid = Number(pax.uid);
    if (pax.gid !== undefined) out.gid = Number(pax.gid);
    if (pax.uname !== undefined) out.uname = pax.uname;
    if (pax.gname !== undefined) out.gname = pax.gname;
  }
  if (!Number.isSafeInteger(out.size) || out.size < 0) throw new TarFormatError(`corrupt tar header for "${out.name}": bad size`);
  return out;
}

/** "./PG_VERSION" → "PG_VERSION", "." → "" (the root); refuses absolute paths and "..". */
export function safeRelative(name: string): string {
  if (name.includes('\0')) throw new TarFormatError(`refusing member "${name}": NUL in name`);
  if (name.startsWith('/')) throw new TarFormatError(`refusing member "${name}": absolute path`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw new TarFormatError(`refusing member "${name}": path leaves the destination ("..")`);
  return parts.join('/');
}

function assertNotBelowSymlink(rel: string, symlinks: Set<string>, name: string): void {
  if (symlinks.size === 0) return;
  const parts = rel.split('/');
  for (let i = 1; i < parts.length; i++) {
    if (symlinks.has(parts.slice(0, i).join('/'))) throw new TarFormatError(`refusing member "${name}": it would be written through the symlink "${parts.slice(0, i).join('/')}"`);
  }
}

/** User and group names → ids from /etc/passwd and /etc/group (as Python's tarfile does via pwd/grp). */
class OwnerResolver {
  private constructor(private readonly users: Map<string, number>, private readonly groups: Map<string, number>) {}
  static async load(): Promise<OwnerResolver> {
    return new OwnerResolver(await readIds('/etc/passwd'), await readIds('/etc/group'));
  }
  uid(h: Header): number { return (h.uname ? this.users.get(h.uname) : undefined) ?? h.uid; }
  gid(h: Header): number { return (h.gname ? this.groups.get(h.gname) : undefined) ?? h.gid; }
}

async function readIds(file: string): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  try {
    for (const line of (await fsp.readFile(file, 'utf8')).split('\n')) {
      const f = line.split(':');
      if (f.length >= 3 && f[0] && /^\d+$/.test(f[2] as string)) m.set(f[0], Number(f[2]));
    }
  } catch { /* no such file: numeric ids only */ }
  return m;
}

/**
 * Pull-based reader over an async iterator of buffers, with exact and up-to reads. With `borrowed` chunks (valid
 * until the next is asked for) the bytes it holds are copied before it asks, and exact reads are copies; up-to
 * reads stay views, used before the next read.
 */
class ByteReader {
  private chunks: Buffer[] = [];
  private head = 0;
  private available = 0;
  private ended = false;

  constructor(private readonly it: AsyncIterator<Buffer>, private readonly isBorrowed: () => boolean) {}

  get borrowed(): boolean {
    return this.isBorrowed();
  }

  private async fill(): Promise<boolean> {
    if (this.ended) return false;
    if (this.borrowed && this.available > 0) this.own();
    const r = await this.it.next();
    if (r.done) { this.ended = true; return false; }
    const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    if (b.length) { this.chunks.push(b); this.available += b.length; }
    return true;
  }

  private take(n: number): Buffer {
    const first = this.chunks[this.head] as Buffer;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) { this.chunks[this.head++] = undefined as unknown as Buffer; this.compact(); }
      else this.chunks[this.head] = first.subarray(n);
      this.available -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[this.head] as Buffer;
      const k = Math.min(c.length, n - off);
      c.copy(out, off, 0, k);
      off += k;
      if (k === c.length) { this.chunks[this.head++] = undefined as unknown as Buffer; }
      else this.chunks[this.head] = c.subarray(k);
    }
    this.compact();
    this.available -= n;
    return out;
  }

  /** The bytes held (less than one header or extended header) as a copy of their own. */
  private own(): void {
    const copy = Buffer.allocUnsafe(this.available);
    let off = 0;
    for (let i = this.head; i < this.chunks.length; i++) off += (this.chunks[i] as Buffer).copy(copy, off);
    this.chunks = [copy];
    this.head = 0;
  }

  private compact(): void {
    if (this.head > 1024) { this.chunks = this.chunks.slice(this.head); this.head = 0; }
  }

  /** Exactly n bytes; undefined at a clean end of stream; throws if the stream ends in the middle. */
  async readExact(n: number, where: () => string): Promise<Buffer | undefined> {
    if (n === 0) return Buffer.alloc(0);
    while (this.available < n) {
      if (!(await this.fill())) {
        if (this.available === 0) return undefined;
        throw new TarFormatError(`archive truncated ${where()}`);
      }
    }
    const out = this.take(n);
    return this.borrowed ? Buffer.from(out) : out;
  }

  /** Between 1 and n bytes; undefined at the end of the stream. */
  async readUpTo(n: number): Promise<Buffer | undefined> {
    while (this.available === 0) if (!(await this.fill())) return undefined;
    const first = this.chunks[this.head] as Buffer;
    return this.take(Math.min(n, first.length));
  }

  async skip(n: number, where: () => string): Promise<void> {
    let left = n;
    while (left > 0) {
      const c = await this.readUpTo(left);
      if (c === undefined) throw new TarFormatError(`archive truncated ${where()}`);
      left -= c.length;
    }
  }

  /** Reads to the end (the zero padding after the end-of-archive marker), so the download completes. */
  async drain(): Promise<void> {
    this.chunks = []; this.head = 0; this.available = 0;
    while (await this.fill()) { this.chunks = []; this.head = 0; this.available = 0; }
  }
}
