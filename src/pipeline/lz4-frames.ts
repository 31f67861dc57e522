/**
 * LZ4 frames (the lz4 frame format, as the lz4 CLI, python-lz4 and pgstow write it), in JavaScript both ways
 * (compression in lz4-compress.ts). lz4-napi 2.10 was dropped: the memory behind the buffers it returns is
 * not given back (decompressing 240 MB grew RSS by 175 MB; compressing 1 GB in 1 MiB frames by ~190 MB,
 * measured for issue 15), which a long-lived sidecar with a memory budget cannot afford.
 *   Compression: one frame per stream, of independent blocks of up to 4 MiB (Barman 3.19's python-lz4 reads
 *   only a file's first frame); backups use block-encoders.ts, which compresses the blocks concurrently.
 *   Decompression: streaming, block by block (a Barman backup is one frame of up to GBs), over any number of
 *   frames (pgstow before 2026-12 wrote one frame per 4 MiB) and skippable frames; linked and independent
 *   blocks, block and content checksums (xxHash32), content size; dictionaries are not supported (no lz4
 *   writer we know uses them).
 */
import { Transform, type TransformCallback } from 'node:stream';
import { xxh32, xxh32Stream, type Xxh32State } from './xxhash32.js';
import { lz4CompressBlocks, lz4CompressFrame, lz4FrameEnd, lz4FrameHeader } from './lz4-compress.js';

export class Lz4FormatError extends Error {}

const FRAME_MAGIC = 0x184d2204;
const CHUNK = 4 << 20;
const BLOCK_MAX = [0, 0, 0, 0, 64 << 10, 256 << 10, 1 << 20, 4 << 20];
const WINDOW = 64 << 10;

/** The frame being decoded: its descriptor, and the scratch buffer blocks decode into. */
interface FrameState {
  readonly blockMax: number;
  readonly linked: boolean;
  readonly blockChecksum: boolean;
  readonly contentHash: Xxh32State | undefined;
  readonly contentSize: bigint | undefined;
  total: number;
  /** Bytes of earlier output kept at the start of scratch (linked blocks refer back into the last 64 KiB). */
  kept: number;
}

/**
 * A push decoder: input in any pieces, each block's output handed on as soon as the block is complete, so
 * memory holds one block (≤ 4 MiB) and a 64 KiB window, whatever the frame's size. Blocks decode into one
 * scratch buffer and are copied out at their exact size (sizing output from the announced block maximum kept
 * ~60 MiB alive in an lz4 restore).
 */
export class Lz4Decoder {
  private parts: Buffer[] = [];
  private size = 0;
  private frame: FrameState | undefined;
  /** Bytes of a skippable frame still to drop. */
  private skip = 0;
  private scratch: Buffer | undefined;

  write(chunk: Buffer, emit: (block: Buffer) => void): void {
    if (chunk.length > 0) { this.parts.push(chunk); this.size += chunk.length; }
    for (;;) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, this.size);
        this.take(n);
        this.skip -= n;
        if (this.skip > 0) return;
      }
      if (!this.frame) { if (!this.startFrame()) return; continue; }
      const block = this.nextBlock();
      if (block === undefined) return;
      if (block.length > 0) emit(block);
    }
  }

  /** At the end of the input: throws unless it ended between frames. */
  end(): void {
    if (this.frame || this.size > 0 || this.skip > 0) throw new Lz4FormatError('truncated LZ4 stream');
  }

  /** Reads a frame header (or a skippable frame's); false when more input is needed. */
  private startFrame(): boolean {
    if (this.size < 4) return false;
    const magic = this.first(4).readUInt32LE(0);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      if (this.size < 8) return false;
      this.skip = this.take(8).readUInt32LE(4);
      return true;
    }
    if (magic !== FRAME_MAGIC) throw new Lz4FormatError('not an LZ4 frame (bad magic number)');
    if (this.size < 7) return false;
    const flg = this.first(7)[4] as number;
    const length = 7 + ((flg & 0x08) ? 8 : 0) + ((flg & 0x01) ? 4 : 0);
    if (this.size < length) return false;
    this.frame = this.parseHeader(this.take(length));
    return true;
  }

  private parseHeader(header: Buffer): FrameState {
    const flg = header[4] as number;
    const bd = header[5] as number;
    if ((flg >> 6) !== 1) throw new Lz4FormatError('unsupported LZ4 frame version');
    if ((flg & 0x02) || (bd & 0x8f)) throw new Lz4FormatError('corrupt LZ4 frame: reserved header bits set');
    if (flg & 0x01) throw new Lz4FormatError('LZ4 frames with a dictionary are not supported');
    const blockMax = BLOCK_MAX[(bd >> 4) & 7] as number;
    if (!blockMax) throw new Lz4FormatError('corrupt LZ4 frame: bad block size');
    if (((xxh32(header.subarray(4, header.length - 1)) >>> 8) & 0xff) !== header[header.length - 1]) {
      throw new Lz4FormatError('corrupt LZ4 frame: header checksum mismatch');
    }
    // One scratch buffer per stream, reused frame after frame.
    if (!this.scratch || this.scratch.length < WINDOW + blockMax) this.scratch = Buffer.allocUnsafe(WINDOW + blockMax);
    return {
      blockMax,
      linked: (flg & 0x20) === 0,
      blockChecksum: (flg & 0x10) !== 0,
      contentHash: (flg & 0x04) ? xxh32Stream() : undefined,
      contentSize: (flg & 0x08) ? header.readBigUInt64LE(6) : undefined,
      total: 0,
      kept: 0,
    };
  }

  /** The next block's output (empty at the frame's end), or undefined when more input is needed. */
  private nextBlock(): Buffer | undefined {
    const frame = this.frame as FrameState;
    if (this.size < 4) return undefined;
    const word = this.first(4).readUInt32LE(0);
    if (word === 0) return this.endFrame(frame);
    const n = word & 0x7fffffff;
    if (n > frame.blockMax) throw new Lz4FormatError('corrupt LZ4 frame: block larger than announced');
    const length = 4 + n + (frame.blockChecksum ? 4 : 0);
    if (this.size < length) return undefined;
    const record = this.take(length);
    const block = record.subarray(4, 4 + n);
    if (frame.blockChecksum && xxh32(block) !== record.readUInt32LE(4 + n)) {
      throw new Lz4FormatError('corrupt LZ4 frame: block checksum mismatch');
    }
    const out = this.decodeInto(frame, block, (word & 0x80000000) !== 0);
    frame.total += out.length;
    frame.contentHash?.update(out);
    return out;
  }

  private decodeInto(frame: FrameState, block: Buffer, stored: boolean): Buffer {
    const scratch = this.scratch as Buffer;
    const start = frame.kept;
    let end: number;
    try {
      end = stored ? start + block.copy(scratch, start) : decodeBlock(block, scratch, start, start + frame.blockMax);
    } catch (err) {
      if (err instanceof Lz4FormatError) throw err;
      throw new Lz4FormatError(`corrupt LZ4 frame: ${(err as Error).message}`);
    }
    const out = Buffer.from(scratch.subarray(start, end));
    if (frame.linked) { // keep the last 64 KiB in front for the next block
      const keep = Math.min(WINDOW, end);
      scratch.copyWithin(0, end - keep, end);
      frame.kept = keep;
    }
    return out;
  }

  private endFrame(frame: FrameState): Buffer | undefined {
    const length = 4 + (frame.contentHash ? 4 : 0);
    if (this.size < length) return undefined;
    const tail = this.take(length);
    if (frame.contentSize !== undefined && frame.contentSize !== BigInt(frame.total)) {
      throw new Lz4FormatError('corrupt LZ4 frame: content size mismatch');
    }
    if (frame.contentHash && frame.contentHash.digest() !== tail.readUInt32LE(4)) {
      throw new Lz4FormatError('corrupt LZ4 frame: content checksum mismatch');
    }
    this.frame = undefined;
    return EMPTY;
  }

  /** The first input part, joined with the following ones until it holds n bytes (n ≤ size). */
  private first(n: number): Buffer {
    let head = this.parts[0] as Buffer;
    if (head.length >= n) return head;
    let k = 0;
    let length = 0;
    while (length < n) length += (this.parts[k++] as Buffer).length;
    head = Buffer.concat(this.parts.slice(0, k), length);
    this.parts.splice(0, k, head);
    return head;
  }

  private take(n: number): Buffer {
    if (n === 0) return EMPTY;
    const head = this.first(n);
    if (head.length === n) this.parts.shift();
    else this.parts[0] = head.subarray(n);
    this.size -= n;
    return head.subarray(0, n);
  }
}

const EMPTY = Buffer.alloc(0);

/** Below this many bytes a copy runs as a loop: a native copy costs more to call than it saves. */
const SHORT_COPY = 48;

/** One LZ4 block into `out` at `o` (matches may reach back into earlier blocks of the frame); returns the new end. */
function decodeBlock(src: Uint8Array, out: Uint8Array, o: number, limit: number): number {
  let s = 0;
  const end = src.length;
  for (;;) {
    const token = src[s++] as number;
    let lit = token >>> 4;
    if (lit === 15) { let b; do { b = src[s++] as number; lit += b; } while (b === 255 && s < end); }
    if (s + lit > end || o + lit > limit) throw new Lz4FormatError('corrupt LZ4 block: literals overrun');
    if (lit > SHORT_COPY) out.set(src.subarray(s, s + lit), o);
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
    let from = o - offset;
    if (len <= SHORT_COPY || offset < 8) {
      // Byte by byte also repeats an overlapping pattern (offset < len) correctly.
      const stop = o + len;
      while (o < stop) out[o++] = out[from++] as number;
    } else if (offset >= len) {
      out.copyWithin(o, from, from + len);
      o += len;
    } else {
      // Overlapping (a repeated pattern): copy what exists, which doubles each time.
      let done = 0;
      while (done < len) {
        const n = Math.min(len - done, offset + done);
        out.copyWithin(o + done, from, from + n);
        done += n;
      }
      o += len;
    }
  }
}

export function lz4Decompress(data: Buffer): Buffer {
  const out: Buffer[] = [];
  const decoder = new Lz4Decoder();
  decoder.write(data, (b) => out.push(b));
  decoder.end();
  return Buffer.concat(out);
}

/** Whole buffer: one frame of 4 MiB blocks. */
export function lz4Compress(data: Buffer): Buffer {
  return lz4CompressFrame(data);
}

/** One frame for the whole stream: the header first, 4 MiB blocks as input comes, the end mark at the end. */
export class Lz4CompressStream extends Transform {
  private parts: Buffer[] = [];
  private size = 0;
  private started = false;
  private readonly hash = xxh32Stream();
  private readonly table = new Int32Array(1 << 16);
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.parts.push(chunk);
    this.size += chunk.length;
    try { if (this.size >= CHUNK) this.emitBlocks(); cb(); } catch (err) { cb(err as Error); }
  }
  override _flush(cb: TransformCallback): void {
    try { this.emitBlocks(); this.push(lz4FrameEnd(this.hash.digest())); cb(); } catch (err) { cb(err as Error); }
  }
  private emitBlocks(): void {
    if (!this.started) { this.started = true; this.push(lz4FrameHeader()); }
    if (this.size === 0) return;
    const data = Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    this.hash.update(data);
    this.push(lz4CompressBlocks(data, this.table));
  }
}

export class Lz4DecompressStream extends Transform {
  private readonly decoder = new Lz4Decoder();
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try { this.decoder.write(chunk, (b) => this.push(b)); cb(); } catch (err) { cb(err as Error); }
  }
  override _flush(cb: TransformCallback): void {
    try { this.decoder.end(); cb(); } catch (err) { cb(err as Error); }
  }
}
