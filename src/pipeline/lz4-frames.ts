/**
 * Streaming over LZ4 frames (lz4 frame format, as the lz4 CLI and python-lz4 write). The binding
 * (lz4-napi) works on whole frames, so the compressor emits one independent frame per 4 MiB of input
 * (a concatenation of frames is a valid .lz4 file) and the decompressor finds frame boundaries by
 * walking block headers, then decodes each complete frame.
 */
import { Transform, type TransformCallback } from 'node:stream';

export interface Lz4Binding {
  compressFrameSync(data: Buffer): Buffer;
  decompressFrameSync(data: Buffer): Buffer;
  /** On the libuv thread pool. */
  compressFrame(data: Buffer): Promise<Buffer>;
  decompressFrame(data: Buffer): Promise<Buffer>;
}

export class Lz4FormatError extends Error {}

const FRAME_MAGIC = 0x184d2204;
const CHUNK = 4 << 20;

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

function decodeFrames(lz4: Lz4Binding, buf: Buffer, out: Buffer[]): number {
  let off = 0;
  for (;;) {
    const n = lz4FrameLength(buf, off);
    if (n === undefined) return off;
    const frame = buf.subarray(off, off + n);
    if (frame.readUInt32LE(0) === FRAME_MAGIC) {
      try { out.push(lz4.decompressFrameSync(frame)); } catch (err) { throw new Lz4FormatError(`corrupt LZ4 frame: ${(err as Error).message}`); }
    }
    off += n;
  }
}

export function lz4Decompress(lz4: Lz4Binding, data: Buffer): Buffer {
  const out: Buffer[] = [];
  const used = decodeFrames(lz4, data, out);
  if (used !== data.length) throw new Lz4FormatError('truncated LZ4 stream');
  return Buffer.concat(out);
}

export class Lz4CompressStream extends Transform {
  private parts: Buffer[] = [];
  private size = 0;
  constructor(private readonly lz4: Lz4Binding) { super(); }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.parts.push(chunk);
    this.size += chunk.length;
    try { if (this.size >= CHUNK) this.emitFrame(); cb(); } catch (err) { cb(err as Error); }
  }
  override _flush(cb: TransformCallback): void {
    try { if (this.size > 0 || !this.emitted) this.emitFrame(); cb(); } catch (err) { cb(err as Error); }
  }
  private emitted = false;
  private emitFrame(): void {
    const data = Buffer.concat(this.parts);
    this.parts = [];
    this.size = 0;
    this.emitted = true;
    this.push(this.lz4.compressFrameSync(data));
  }
}

export class Lz4DecompressStream extends Transform {
  // Input waits in a list and is joined only when it may hold a whole frame: re-joining the pending bytes on
  // every 64 KiB chunk copied each frame over and over (~300 ms of CPU for one 16 MiB WAL segment).
  private parts: Buffer[] = [];
  private size = 0;
  /** Scan again once this many bytes are pending (doubling: each byte is copied a bounded number of times). */
  private scanAt = 0;
  constructor(private readonly lz4: Lz4Binding) { super(); }
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
    const out: Buffer[] = [];
    const used = decodeFrames(this.lz4, buf, out);
    const rest = used === 0 ? buf : Buffer.from(buf.subarray(used));
    this.parts = rest.length ? [rest] : [];
    this.size = rest.length;
    this.scanAt = rest.length * 2;
    for (const b of out) this.push(b);
  }
}
