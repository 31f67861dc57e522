/**
 * LZ4 frames (the lz4 frame format, as the lz4 CLI, python-lz4 and pgstow write it), in JavaScript both ways
 * (compression in lz4-compress.ts). lz4-napi 2.10 was dropped: the memory behind the buffers it returns is
 * not given back (decompressing 240 MB grew RSS by 175 MB; compressing 1 GB in 1 MiB frames by ~190 MB,
 * measured for issue 15), which a long-lived sidecar with a memory budget cannot afford.
 *   Compression: one independent frame per 4 MiB (a concatenation of frames is a valid .lz4 file); backups
 *   use block-encoders.ts, one frame per block.
 *   Decompression: linked and independent blocks, block and content checksums (xxHash32); dictionaries are
 *   not supported (no lz4 writer we know uses them).
 */
import { Transform, type TransformCallback } from 'node:stream';
import { xxh32, xxh32Stream } from './xxhash32.js';
import { lz4CompressFrame } from './lz4-compress.js';

export class Lz4FormatError extends Error {}

const FRAME_MAGIC = 0x184d2204;
const CHUNK = 4 << 20;
const BLOCK_MAX = [0, 0, 0, 0, 64 << 10, 256 << 10, 1 << 20, 4 << 20];
const WINDOW = 64 << 10;

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

/**
 * Decodes one complete data frame (as delimited by lz4FrameLength) into one Buffer per block. Blocks decode
 * into a scratch buffer that keeps the previous 64 KiB (linked blocks refer back into them) and are copied
 * out at their exact size: frame headers announce up to 4 MiB per block, and sizing the output from that
 * bound kept ~60 MiB alive in an lz4 restore.
 */
export function decodeLz4Frame(frame: Buffer, scratchPool: { buf?: Buffer } = {}): Buffer[] {
  const flg = frame[4] as number;
  const bd = frame[5] as number;
  if ((flg & 0x02) || (bd & 0x8f)) throw new Lz4FormatError('corrupt LZ4 frame: reserved header bits set');
  if (flg & 0x01) throw new Lz4FormatError('LZ4 frames with a dictionary are not supported');
  const blockMax = BLOCK_MAX[(bd >> 4) & 7] as number;
  if (!blockMax) throw new Lz4FormatError('corrupt LZ4 frame: bad block size');
  const headerEnd = 6 + ((flg & 0x08) ? 8 : 0) + 1;
  if ((xxh32(frame.subarray(4, headerEnd - 1)) >>> 8 & 0xff) !== frame[headerEnd - 1]) throw new Lz4FormatError('corrupt LZ4 frame: header checksum mismatch');
  const blockChecksum = (flg & 0x10) !== 0;
  // One scratch buffer per stream, reused frame after frame (a 4 MiB allocation per 1 MiB frame was garbage).
  if (!scratchPool.buf || scratchPool.buf.length < WINDOW + blockMax) scratchPool.buf = Buffer.allocUnsafe(WINDOW + blockMax);
  const scratch = scratchPool.buf;
  let kept = 0; // bytes of earlier output at the start of scratch
  const out: Buffer[] = [];
  let total = 0;
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
    if (n > blockMax) throw new Lz4FormatError('corrupt LZ4 frame: block larger than announced');
    const end = size & 0x80000000 ? kept + block.copy(scratch, kept) : decodeBlock(block, scratch, kept, kept + blockMax);
    out.push(Buffer.from(scratch.subarray(kept, end)));
    total += end - kept;
    // Keep the last 64 KiB in front for the next (linked) block.
    const keep = Math.min(WINDOW, end);
    scratch.copyWithin(0, end - keep, end);
    kept = keep;
  }
  if ((flg & 0x08) && frame.readBigUInt64LE(6) !== BigInt(total)) throw new Lz4FormatError('corrupt LZ4 frame: content size mismatch');
  if (flg & 0x04) {
    let h = xxh32Stream();
    for (const b of out) h = h.update(b);
    if (h.digest() !== frame.readUInt32LE(p)) throw new Lz4FormatError('corrupt LZ4 frame: content checksum mismatch');
  }
  return out;
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
    if (lit > 8) src.copy(out, o, s, s + lit);
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
    if (len <= 16) {
      for (let i = 0; i < len; i++) out[o + i] = out[from + i] as number;
    } else if (offset >= len) {
      out.copyWithin(o, from, from + len);
    } else {
      // Overlapping (a repeated pattern): copy what exists, which doubles each time.
      let done = 0;
      while (done < len) {
        const n = Math.min(len - done, offset + done);
        out.copyWithin(o + done, from, from + n);
        done += n;
      }
    }
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

function decode(frame: Buffer, scratch?: { buf?: Buffer }): Buffer[] {
  try {
    return decodeLz4Frame(frame, scratch);
  } catch (err) {
    if (err instanceof Lz4FormatError) throw err;
    throw new Lz4FormatError(`corrupt LZ4 frame: ${(err as Error).message}`);
  }
}

export function lz4Decompress(data: Buffer): Buffer {
  const { frames, used } = completeFrames(data);
  if (used !== data.length) throw new Lz4FormatError('truncated LZ4 stream');
  const scratch = {};
  return Buffer.concat(frames.flatMap((f) => decode(f, scratch)));
}

/** Whole buffer: one frame of 4 MiB blocks. */
export function lz4Compress(data: Buffer): Buffer {
  return lz4CompressFrame(data);
}

export class Lz4CompressStream extends Transform {
  private parts: Buffer[] = [];
  private size = 0;
  private emitted = false;
  private readonly table = new Int32Array(1 << 16);
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.parts.push(chunk);
    this.size += chunk.length;
    try { if (this.size >= CHUNK) this.emitFrame(); cb(); } catch (err) { cb(err as Error); }
  }
  override _flush(cb: TransformCallback): void {
    try { if (this.size > 0 || !this.emitted) this.emitFrame(); cb(); } catch (err) { cb(err as Error); }
  }
  private emitFrame(): void {
    const data = Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    this.emitted = true;
    this.push(lz4CompressFrame(data, this.table));
  }
}

export class Lz4DecompressStream extends Transform {
  // Input waits in a list and is joined only when it may hold a whole frame: re-joining the pending bytes on
  // every 64 KiB chunk copied each frame over and over (~300 ms of CPU for one 16 MiB WAL segment).
  private parts: Buffer[] = [];
  private size = 0;
  /** Scan again once this many bytes are pending (doubling: each byte is copied a bounded number of times). */
  private scanAt = 0;
  private readonly scratch: { buf?: Buffer } = {};
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
    for (const f of frames) for (const b of decode(f, this.scratch)) this.push(b);
  }
}
