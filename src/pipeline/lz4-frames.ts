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
import { Duplex, Transform, type TransformCallback } from 'node:stream';
import { xxh32, xxh32Stream } from './xxhash32.js';
import { lz4BlocksBound, lz4CompressBlocksInto, lz4CompressFrame, lz4FrameEnd, lz4FrameHeader } from './lz4-compress.js';
import { LZ4_WINDOW, Lz4BlockCorrupt, WasmBlockArea } from './lz4-wasm.js';

export class Lz4FormatError extends Error {}

const FRAME_MAGIC = 0x184d2204;
/**
 * The stream compressor's input per batch of blocks: 1 MiB. With 4 MiB a `wal-archive --lz4` process held the
 * chunk's parts, their concatenation, the output and its copy: peak 103.6 (101.9-105.4) MB against 98.9
 * (96.5-99.5) with 1 MiB, output 0.16 % larger, CPU the same (the "budget" engineer's 6 interleaved runs).
 */
const CHUNK = 1 << 20;
const BLOCK_MAX = [0, 0, 0, 0, 64 << 10, 256 << 10, 1 << 20, 4 << 20];
const PIECE = 64 << 10;
/**
 * Output room for linked blocks after the 64 KiB window: small blocks (python-lz4's are 64 KiB) decode one after
 * the other, and the window moves to the front only when the next block would not fit, not after every block
 * (a 64 KiB move per 64 KiB block doubled the bytes the decoder writes).
 */
const LINKED_SPAN = 1 << 20;

/** The frame being decoded: its descriptor and where its output stands. */
interface FrameState {
  readonly blockMax: number;
  readonly linked: boolean;
  readonly blockChecksum: boolean;
  readonly contentChecksum: boolean;
  readonly contentSize: bigint | undefined;
  /** Output room after the window (blocks decode within [0, LZ4_WINDOW + span)). */
  readonly span: number;
  total: number;
  /** Bytes of earlier output kept at the start of the block area (linked blocks refer back into the last 64 KiB). */
  kept: number;
}

/**
 * A push decoder: input in any pieces, each block's output handed on as soon as the block is complete, so
 * memory holds one block (≤ 4 MiB) and a 64 KiB window, whatever the frame's size. Blocks decode in
 * WebAssembly (lz4-wasm.ts), into one area per stream, and are copied out at their exact size (sizing output
 * from the announced block maximum kept ~60 MiB alive in an lz4 restore).
 */
export class Lz4Decoder {
  private parts: Buffer[] = [];
  private size = 0;
  private frame: FrameState | undefined;
  /** Bytes of a skippable frame still to drop. */
  private skip = 0;
  private area: WasmBlockArea | undefined;
  /** The decoded block's output not handed on yet: [at, stop) of the area. */
  private at = 0;
  private stop = 0;
  /** The block's last piece went out as a view: blockDone() waits for the next call. */
  private viewed = false;
  /** The block being gathered: its compressed bytes so far in the decoder's memory. */
  private block: { input: Uint8Array; filled: number; stored: boolean } | undefined;

  /** Adds input (any piece of the stream). */
  input(chunk: Buffer): void {
    if (chunk.length > 0) { this.parts.push(chunk); this.size += chunk.length; }
  }

  /**
   * The next piece of output (≤ `max` bytes), decoding the next block when the last one is handed on; undefined
   * when more input is needed. Pieces are copied out one at a time, as a reader asks for them: a 4 MiB block
   * pushed as one Buffer, or as 64 pieces at once, outlived young collections in a restore (GC time 2.5 s per
   * 1.2 GB, RSS 108-115 MiB against the pipe's 86; measured).
   */
  read(max = PIECE): Buffer | undefined {
    return this.next(max, true);
  }

  /**
   * Like read(), but the piece is a view of the decoder's memory, not a copy: valid only until the decoder is
   * called again (the next block overwrites it; growing the memory detaches it). For a reader that copies or uses
   * each piece before it asks for the next (a restore's tar extraction): no allocation and one copy less per piece.
   */
  view(max = PIECE): Buffer | undefined {
    return this.next(max, false);
  }

  private next(max: number, copy: boolean): Buffer | undefined {
    if (this.viewed) { this.viewed = false; this.blockDone(); }
    for (;;) {
      if (this.at < this.stop) {
        const next = Math.min(this.stop, this.at + max);
        const area = this.area as WasmBlockArea;
        const piece = copy ? area.copyOut(this.at, next) : area.view(this.at, next);
        this.at = next;
        // A linked block's window moves to the front of the area when the block is done: after a view, only
        // on the next call (the move can overwrite the view's bytes).
        if (next === this.stop) { if (copy) this.blockDone(); else this.viewed = true; }
        return piece;
      }
      if (this.skip > 0) {
        const n = Math.min(this.skip, this.size);
        this.take(n);
        this.skip -= n;
        if (this.skip > 0) return undefined;
      }
      if (!this.frame) { if (!this.startFrame()) return undefined; continue; }
      if (!this.nextBlock()) return undefined;
    }
  }

  /** Push style: adds input and hands on all the output it completes, a block at a time. */
  write(chunk: Buffer, emit: (block: Buffer) => void): void {
    this.input(chunk);
    for (let block = this.read(Infinity); block; block = this.read(Infinity)) emit(block);
  }

  /** At the end of the input: throws unless it ended between frames. */
  end(): void {
    if (this.viewed) { this.viewed = false; this.blockDone(); }
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
    // One block area per stream, reused frame after frame.
    this.area ??= new WasmBlockArea();
    if (flg & 0x04) this.area.hashStart();
    const linked = (flg & 0x20) === 0;
    return {
      blockMax,
      linked,
      span: linked ? Math.max(blockMax, LINKED_SPAN) : blockMax,
      blockChecksum: (flg & 0x10) !== 0,
      contentChecksum: (flg & 0x04) !== 0,
      contentSize: (flg & 0x08) ? header.readBigUInt64LE(6) : undefined,
      total: 0,
      kept: 0,
    };
  }

  /**
   * Decodes the next block (or the frame's end); false when more input is needed. A block's bytes go from the input
   * pieces straight into the decoder's memory as they come (no joined copy in between), so no input piece is held
   * while a block is gathered (see own()).
   */
  private nextBlock(): boolean {
    const frame = this.frame as FrameState;
    if (!this.block) {
      if (this.size < 4) return false;
      const word = this.first(4).readUInt32LE(0);
      if (word === 0) return this.endFrame(frame);
      const n = word & 0x7fffffff;
      if (n > frame.blockMax) throw new Lz4FormatError('corrupt LZ4 frame: block larger than announced');
      this.take(4);
      this.block = { input: (this.area as WasmBlockArea).input(n, frame.span), filled: 0, stored: (word & 0x80000000) !== 0 };
    }
    const block = this.block;
    const k = Math.min(this.size, block.input.length - block.filled);
    if (k > 0) { this.takeInto(k, block.input, block.filled); block.filled += k; }
    if (block.filled < block.input.length) return false;
    if (frame.blockChecksum) {
      if (this.size < 4) return false;
      if (xxh32(block.input) !== this.take(4).readUInt32LE(0)) throw new Lz4FormatError('corrupt LZ4 frame: block checksum mismatch');
    }
    this.block = undefined;
    this.decodeInto(frame, block.input.length, block.stored);
    return true;
  }

  /**
   * Copies the input still held (fewer than 20 bytes: a frame or block header, a block checksum; a block's bytes are
   * in the decoder's memory already) into memory of its own: for a caller whose input pieces are valid only until it
   * asks for the next (lent by a download), called before it does.
   */
  own(): void {
    if (this.size === 0) return;
    const held = Buffer.from(this.take(this.size));
    this.parts = [held];
    this.size = held.length;
  }

  private decodeInto(frame: FrameState, size: number, stored: boolean): void {
    const area = this.area as WasmBlockArea;
    const start = frame.kept;
    let end: number;
    try {
      end = area.decode(size, stored, start, frame.blockMax);
    } catch (err) {
      if (err instanceof Lz4BlockCorrupt) throw new Lz4FormatError(`corrupt LZ4 block: ${err.message}`);
      throw err;
    }
    if (frame.contentChecksum) area.hashUpdate(start, end);
    frame.total += end - start;
    this.at = start;
    this.stop = end;
    if (start === end) this.blockDone();
  }

  /**
   * The block is handed on: a linked block's successor decodes right after it while there is room, else after
   * its last 64 KiB moved to the front.
   */
  private blockDone(): void {
    const frame = this.frame as FrameState;
    if (frame.linked) {
      frame.kept = this.stop + frame.blockMax <= LZ4_WINDOW + frame.span ? this.stop : (this.area as WasmBlockArea).keepWindow(this.stop);
    }
    this.at = this.stop = 0;
  }

  private endFrame(frame: FrameState): boolean {
    const length = 4 + (frame.contentChecksum ? 4 : 0);
    if (this.size < length) return false;
    const tail = this.take(length);
    if (frame.contentSize !== undefined && frame.contentSize !== BigInt(frame.total)) {
      throw new Lz4FormatError('corrupt LZ4 frame: content size mismatch');
    }
    if (frame.contentChecksum && (this.area as WasmBlockArea).hashDigest() !== tail.readUInt32LE(4)) {
      throw new Lz4FormatError('corrupt LZ4 frame: content checksum mismatch');
    }
    this.frame = undefined;
    return true;
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

  /** Moves the next n input bytes (n ≤ size) into `into` from `offset` on. */
  private takeInto(n: number, into: Uint8Array, offset = 0): void {
    let at = 0;
    while (at < n) {
      const head = this.parts[0] as Buffer;
      const k = Math.min(head.length, n - at);
      if (k === head.length) { into.set(head, offset + at); this.parts.shift(); } else { into.set(head.subarray(0, k), offset + at); this.parts[0] = head.subarray(k); }
      at += k;
    }
    this.size -= n;
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
  /**
   * The input is gathered in one reused buffer of CHUNK bytes and compressed into one reused output buffer; only
   * the blocks are copied out, at their size. Concatenating the reads and compressing into a fresh bound-sized
   * buffer made ~2 MiB of garbage per MiB read (a `wal-archive --lz4` process peaked above its budget, issue 15.3).
   */
  private readonly input = Buffer.allocUnsafe(CHUNK);
  private held = 0;
  private out: Buffer | undefined;
  private started = false;
  private readonly hash = xxh32Stream();
  private readonly table = new Int32Array(1 << 16);
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      for (let off = 0; off < chunk.length;) {
        const n = Math.min(CHUNK - this.held, chunk.length - off);
        chunk.copy(this.input, this.held, off, off + n);
        this.held += n;
        off += n;
        if (this.held === CHUNK) this.emitBlocks();
      }
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }
  override _flush(cb: TransformCallback): void {
    try { this.emitBlocks(); this.push(lz4FrameEnd(this.hash.digest())); cb(); } catch (err) { cb(err as Error); }
  }
  private emitBlocks(): void {
    if (!this.started) { this.started = true; this.push(lz4FrameHeader()); }
    if (this.held === 0) return;
    const data = this.input.subarray(0, this.held);
    this.held = 0;
    this.hash.update(data);
    this.out ??= Buffer.allocUnsafe(lz4BlocksBound(CHUNK));
    const n = lz4CompressBlocksInto(data, this.out, this.table);
    this.push(Buffer.from(this.out.subarray(0, n)));
  }
}

/**
 * The decoder as a stream that decodes as its reader reads: output leaves in pieces of ≤ 64 KiB while the
 * reader keeps up, and the next input is asked for only when the decoded block is handed on.
 */
export class Lz4DecompressStream extends Duplex {
  private readonly decoder = new Lz4Decoder();
  private waitingWrite: ((err?: Error | null) => void) | undefined;
  private waitingFinal: ((err?: Error | null) => void) | undefined;

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.decoder.input(chunk);
    this.waitingWrite = cb;
    this.pump();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.waitingFinal = cb;
    this.pump();
  }

  override _read(): void {
    this.pump();
  }

  private pump(): void {
    let piece: Buffer | undefined;
    try {
      while ((piece = this.decoder.read()) !== undefined) if (!this.push(piece)) return;
      if (this.waitingWrite) {
        const cb = this.waitingWrite;
        this.waitingWrite = undefined;
        cb();
      } else if (this.waitingFinal) {
        const cb = this.waitingFinal;
        this.waitingFinal = undefined;
        this.decoder.end();
        this.push(null);
        cb();
      }
    } catch (err) {
      const cb = this.waitingWrite ?? this.waitingFinal;
      this.waitingWrite = this.waitingFinal = undefined;
      if (cb) cb(err as Error); else this.destroy(err as Error);
    }
  }
}
