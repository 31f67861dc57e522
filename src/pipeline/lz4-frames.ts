/**
 * LZ4 frames (the lz4 frame format, as the lz4 CLI, python-lz4 and lz4-napi write it).
 *   Compression: lz4-napi's async compressFrame (libuv thread pool), one independent frame per 4 MiB (a
 *   concatenation of frames is a valid .lz4 file); backups use block-encoders.ts, one frame per block.
 *   Decompression: here, in JavaScript. lz4-napi 2.10's decompressFrame (sync and async) and compressFrameSync
 *   never free their output: RSS grew by the bytes they produced (+175 MB over 240 MB decompressed, measured
 *   for issue 15), which a long-lived sidecar cannot afford. Linked and independent blocks, block and content
 *   checksums (xxHash32) are supported; dictionaries are not (no lz4 writer we know uses them).
 */
import { Transform, type TransformCallback } from 'node:stream';
import { xxh32 } from './xxhash32.js';

export interface Lz4Binding {
  /** On the libuv thread pool. */
  compressFrame(data: Buffer): Promise<Buffer>;
}

export class Lz4FormatError extends Error {}

const FRAME_MAGIC = 0x184d2204;
const CHUNK = 4 << 20;
const BLOCK_MAX = [0, 0, 0, 0, 64 << 10, 256 << 10, 1 << 20, 4 << 20];

/** Length of the frame starting at `off`, or undefined when `buf` does not hold all of it yet. */
export function lz4FrameLength(buf: Buffer, off: number): number | undefined {
  if (buf.length - off < 4) return undefined;
  const magic = buf.readUInt32LE(off);
  if ((magic & 0xfffffff0) === 0x184d2a50) { // skippable frame
    if (buf.length - off < 8) return undefined;
    const n = 8 + buf.readUInt32LE(off + 4);
    return buf.length - off >= n ? n : undefined;
  }
  if (magic !== FRAME_MAGIC) throw new Lz4FormatError('not an LZ4 frame (bad magic number)');
  if (buf.length - off < 7) return undefined;
  const flg = buf[off + 4] as number;
  if ((flg >> 6) !== 1) throw new Lz4FormatError('unsupported LZ4 frame version');
  const blockChecksum = (flg & 0x10) !== 0;
  const contentChecksum = (flg & 0x04) !== 0;
  let p = off + 6 + ((flg & 0x08) ? 8 : 0) + ((flg & 0x01) ? 4 : 0) + 1;
  for (;;) {
    if (buf.length < p + 4) return undefined;
    const size = buf.readUInt32LE(p);
    p += 4;
    if (size === 0) break;
    p += (size & 0x7fffffff) + (blockChecksum ? 4 : 0);
  }
  if (contentChecksum) p += 4;
  return buf.length >= p ? p - off : undefined;
}

/** Decodes one complete data frame (as delimited by lz4FrameLength). */
export function decodeLz4Frame(frame: Buffer): Buffer {
  const flg = frame[4] as number;
  const bd = frame[5] as number;
  if ((flg & 0x02) || (bd & 0x8f)) throw new Lz4FormatError('corrupt LZ4 frame: reserved header bits set');
  if (flg & 0x01) throw new Lz4FormatError('LZ4 frames with a dictionary are not supported');
  const blockMax = BLOCK_MAX[(bd >> 4) & 7] as number;
  if (!blockMax) throw new Lz4FormatError('corrupt LZ4 frame: bad block size');
  const headerEnd = 6 + ((flg & 0x08) ? 8 : 0) + 1;
  if ((xxh32(frame.subarray(4, headerEnd - 1)) >>> 8 & 0xff) !== frame[headerEnd - 1]) throw new Lz4FormatError('corrupt LZ4 frame: header checksum mismatch');
  const blockChecksum = (flg & 0x10) !== 0;
  // Upper bound of the output: every block at its maximum (or stored) size.
  let bound = 0;
  for (let p = headerEnd; ;) {
    const size = frame.readUInt32LE(p);
    if (size === 0) break;
    bound += size & 0x80000000 ? size & 0x7fffffff : blockMax;
    p += 4 + (size & 0x7fffffff) + (blockChecksum ? 4 : 0);
  }
  const out = Buffer.allocUnsafe(bound);
  let o = 0;
  let p = headerEnd;
  for (;;) {
    const size = frame.readUInt32LE(p);
    p += 4;
    if (size === 0) break;
    const n = size & 0x7fffffff;
    const block = frame.subarray(p, p + n);
    p += n;
    if (blockChecksum) {
      if (xxh32(block) !== frame.readUInt32LE(p)) throw new Lz4FormatError('corrupt LZ4 frame: block checksum mismatch');
      p += 4;
    }
    if (size & 0x80000000) { block.copy(out, o); o += n; } else o = decodeBlock(block, out, o, o + blockMax);
  }
  const data = out.subarray(0, o);
  if ((flg & 0x08) && frame.readBigUInt64LE(6) !== BigInt(o)) throw new Lz4FormatError('corrupt LZ4 frame: content size mismatch');
  if ((flg & 0x04) && xxh32(data) !== frame.readUInt32LE(p)) throw new Lz4FormatError('corrupt LZ4 frame: content checksum mismatch');
  return data;
}

/** One LZ4 block into `out` at `o` (matches may reach back into earlier blocks of the frame); returns the new end. */
function decodeBlock(src: Buffer, out: Buffer, o: number, limit: number): number {
  let s = 0;
  const end = src.length;
  for (;;) {
    const token = src[s++] as number;
    let lit = token >>> 4;
    if (lit === 15) { let b; do { b = src[s++] as number; lit += b; } while (b === 255 && s < end); }
    if (s + lit > end || o + lit > limit) throw new Lz4FormatError('corrupt LZ4 block: literals overrun');
    if (lit > 16) src.copy(out, o, s, s + lit);
    else for (let i = 0; i < lit; i++) out[o + i] = src[s + i] as number;
    o += lit;
    s += lit;
    if (s >= end) return o; // the last sequence has literals only
    const offset = (src[s] as number) | ((src[s + 1] as number) << 8);
    s += 2;
    let len = token & 15;
    if (len === 15) { let b; do { b = src[s++] as number; len += b; } while (b === 255 && s < end); }
    len += 4;
    if (offset === 0 || offset > o || o + len > limit) throw new Lz4FormatError('corrupt LZ4 block: bad match');
    const from = o - offset;
    if (offset >= len && len > 32) out.copyWithin(o, from, from + len);
    else for (let i = 0; i < len; i++) out[o + i] = out[from + i] as number;
    o += len;
  }
}

function completeFrames(buf: Buffer): { frames: Buffer[]; used: number } {
  const frames: Buffer[] = [];
  let off = 0;
  for (;;) {
    const n = lz4FrameLength(buf, off);
    if (n === undefined) return { frames, used: off };
    const frame = buf.subarray(off, off + n);
    if (frame.readUInt32LE(0) === FRAME_MAGIC) frames.push(frame);
    off += n;
  }
}

function decode(frame: Buffer): Buffer {
  try {
    return decodeLz4Frame(frame);
  } catch (err) {
    if (err instanceof Lz4FormatError) throw err;
    throw new Lz4FormatError(`corrupt LZ4 frame: ${(err as Error).message}`);
  }
}

export function lz4Decompress(data: Buffer): Buffer {
  const { frames, used } = completeFrames(data);
  if (used !== data.length) throw new Lz4FormatError('truncated LZ4 stream');
  return frames.length === 1 ? decode(frames[0] as Buffer) : Buffer.concat(frames.map(decode));
}

/** Whole buffer: frames of 4 MiB compressed on the thread pool. */
export async function lz4Compress(lz4: Lz4Binding, data: Buffer): Promise<Buffer> {
  if (data.length <= CHUNK) return lz4.compressFrame(data);
  const frames: Promise<Buffer>[] = [];
  for (let off = 0; off < data.length; off += CHUNK) frames.push(lz4.compressFrame(data.subarray(off, off + CHUNK)));
  return Buffer.concat(await Promise.all(frames));
}

export class Lz4CompressStream extends Transform {
  private parts: Buffer[] = [];
  private size = 0;
  private emitted = false;
  constructor(private readonly lz4: Lz4Binding) { super(); }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.parts.push(chunk);
    this.size += chunk.length;
    if (this.size < CHUNK) { cb(); return; }
    this.emitFrame().then(() => cb(), (err: unknown) => cb(err as Error));
  }
  override _flush(cb: TransformCallback): void {
    if (this.size === 0 && this.emitted) { cb(); return; }
    this.emitFrame().then(() => cb(), (err: unknown) => cb(err as Error));
  }
  private async emitFrame(): Promise<void> {
    const data = Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    this.emitted = true;
    this.push(await this.lz4.compressFrame(data));
  }
}

export class Lz4DecompressStream extends Transform {
  // Input waits in a list and is joined only when it may hold a whole frame: re-joining the pending bytes on
  // every 64 KiB chunk copied each frame over and over (~300 ms of CPU for one 16 MiB WAL segment).
  private parts: Buffer[] = [];
  private size = 0;
  /** Scan again once this many bytes are pending (doubling: each byte is copied a bounded number of times). */
  private scanAt = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.parts.push(chunk);
    this.size += chunk.length;
    if (this.size < this.scanAt) { cb(); return; }
    try { this.decodePending(); cb(); } catch (err) { cb(err as Error); }
  }
  override _flush(cb: TransformCallback): void {
    try {
      if (this.size > 0) this.decodePending();
      cb(this.size > 0 ? new Lz4FormatError('truncated LZ4 stream') : null);
    } catch (err) { cb(err as Error); }
  }
  private decodePending(): void {
    const buf = this.parts.length === 1 ? this.parts[0] as Buffer : Buffer.concat(this.parts, this.size);
    const { frames, used } = completeFrames(buf);
    const rest = used === 0 ? buf : Buffer.from(buf.subarray(used));
    this.parts = rest.length ? [rest] : [];
    this.size = rest.length;
    this.scanAt = rest.length * 2;
    for (const f of frames) this.push(decode(f));
  }
}
