/**
 * The Snappy framing format (google/snappy framing_format.txt) as python-snappy's StreamCompressor writes
 * it and barman-cloud reads it: a stream identifier chunk, then one chunk per ≤ 64 KiB of input, each
 * carrying the masked CRC32C of its uncompressed bytes. Raw block (de)compression comes from `snappy`,
 * CRC32C from `@node-rs/crc32` (both napi-rs, loaded lazily by the caller).
 */
import { Transform, type TransformCallback } from 'node:stream';

export interface SnappyBinding {
  compressSync(input: Uint8Array): Buffer;
  /** On the libuv thread pool; copyOutputData: a V8 Buffer instead of an external one, freed like any other. */
  compress(input: Uint8Array, options?: { copyOutputData?: boolean }): Promise<Buffer>;
  uncompressSync(input: Uint8Array, options?: { asBuffer?: boolean; copyOutputData?: boolean }): string | Buffer;
}
export type Crc32c = (data: Buffer) => number;

export const SNAPPY_STREAM_IDENTIFIER = Buffer.from([0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59]);
const MAX_BLOCK = 65536;
const CHUNK_COMPRESSED = 0x00;
const CHUNK_UNCOMPRESSED = 0x01;

export class SnappyFormatError extends Error {}

function maskedCrc(crc32c: Crc32c, data: Buffer): number {
  const crc = crc32c(data) >>> 0;
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** Frames `data` as chunks (no stream identifier). */
function encodeChunks(snappy: SnappyBinding, crc32c: Crc32c, data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < data.length; off += MAX_BLOCK) {
    const block = data.subarray(off, Math.min(off + MAX_BLOCK, data.length));
    out.push(...snappyChunk(crc32c, block, snappy.compressSync(block)));
  }
  return out;
}

/** Chunk header and body for one ≤ 64 KiB block and its raw snappy compression. */
export function snappyChunk(crc32c: Crc32c, block: Buffer, compressed: Buffer): [Buffer, Buffer] {
  // python-snappy keeps the compressed form only when it saves at least 12.5 %.
  const useCompressed = compressed.length <= block.length - (block.length >> 3);
  const body = useCompressed ? compressed : block;
  const header = Buffer.allocUnsafe(8);
  const len = body.length + 4;
  header[0] = useCompressed ? CHUNK_COMPRESSED : CHUNK_UNCOMPRESSED;
  header[1] = len & 0xff; header[2] = (len >> 8) & 0xff; header[3] = (len >> 16) & 0xff;
  header.writeUInt32LE(maskedCrc(crc32c, block), 4);
  return [header, body];
}

/** Largest input of one snappy framing chunk. */
export const SNAPPY_CHUNK = MAX_BLOCK;

export function snappyFrameCompress(snappy: SnappyBinding, crc32c: Crc32c, data: Buffer): Buffer {
  return Buffer.concat([SNAPPY_STREAM_IDENTIFIER, ...encodeChunks(snappy, crc32c, data)]);
}

export function snappyFrameDecompress(snappy: SnappyBinding, crc32c: Crc32c, data: Buffer): Buffer {
  const decoder = new SnappyFrameDecoder(snappy, crc32c);
  const out = decoder.push(data);
  decoder.end();
  return Buffer.concat(out);
}

/** Incremental decoder: push bytes, get whole decoded chunks back. */
export class SnappyFrameDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private sawIdentifier = false;

  constructor(private readonly snappy: SnappyBinding, private readonly crc32c: Crc32c) {}

  push(chunk: Buffer): Buffer[] {
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: Buffer[] = [];
    let off = 0;
    while (buf.length - off >= 4) {
      const type = buf[off] as number;
      const len = (buf[off + 1] as number) | ((buf[off + 2] as number) << 8) | ((buf[off + 3] as number) << 16);
      if (buf.length - off < 4 + len) break;
      const body = buf.subarray(off + 4, off + 4 + len);
      off += 4 + len;
      if (type === 0xff) {
        if (!body.equals(SNAPPY_STREAM_IDENTIFIER.subarray(4))) throw new SnappyFormatError('invalid snappy stream identifier');
        this.sawIdentifier = true;
        continue;
      }
      if (!this.sawIdentifier) throw new SnappyFormatError('not a snappy framed stream (missing stream identifier)');
      if (type === CHUNK_COMPRESSED || type === CHUNK_UNCOMPRESSED) {
        if (body.length < 4) throw new SnappyFormatError('truncated snappy chunk');
        const expected = body.readUInt32LE(0);
        const payload = body.subarray(4);
        const data = type === CHUNK_COMPRESSED ? this.uncompress(payload) : Buffer.from(payload);
        if (data.length > MAX_BLOCK) throw new SnappyFormatError('snappy chunk larger than 64 KiB');
        if (maskedCrc(this.crc32c, data) !== expected) throw new SnappyFormatError('snappy chunk checksum mismatch (corrupt data)');
        out.push(data);
      } else if (type >= 0x02 && type <= 0x7f) {
        throw new SnappyFormatError(`reserved unskippable snappy chunk type 0x${type.toString(16)}`);
      }
      // 0x80–0xfe: skippable (padding and reserved) chunks.
    }
    this.pending = off < buf.length ? Buffer.from(buf.subarray(off)) : Buffer.alloc(0);
    return out;
  }

  end(): void {
    if (this.pending.length) throw new SnappyFormatError('truncated snappy stream');
    if (!this.sawIdentifier) throw new SnappyFormatError('empty or invalid snappy stream');
  }

  private uncompress(payload: Buffer): Buffer {
    try {
      return this.snappy.uncompressSync(payload, { asBuffer: true, copyOutputData: true }) as Buffer;
    } catch (err) {
      throw new SnappyFormatError(`corrupt snappy chunk: ${(err as Error).message}`);
    }
  }
}

export class SnappyFrameCompressStream extends Transform {
  private pending: Buffer = Buffer.alloc(0);
  private started = false;

  constructor(private readonly snappy: SnappyBinding, private readonly crc32c: Crc32c) { super(); }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      if (!this.started) { this.push(SNAPPY_STREAM_IDENTIFIER); this.started = true; }
      const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
      const whole = buf.length - (buf.length % MAX_BLOCK);
      if (whole > 0) for (const part of encodeChunks(this.snappy, this.crc32c, buf.subarray(0, whole))) this.push(part);
      this.pending = Buffer.from(buf.subarray(whole));
      cb();
    } catch (err) { cb(err as Error); }
  }

  override _flush(cb: TransformCallback): void {
    try {
      if (!this.started) this.push(SNAPPY_STREAM_IDENTIFIER);
      for (const part of encodeChunks(this.snappy, this.crc32c, this.pending)) this.push(part);
      cb();
    } catch (err) { cb(err as Error); }
  }
}

export class SnappyFrameDecompressStream extends Transform {
  private readonly decoder: SnappyFrameDecoder;
  constructor(snappy: SnappyBinding, crc32c: Crc32c) { super(); this.decoder = new SnappyFrameDecoder(snappy, crc32c); }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try { for (const b of this.decoder.push(chunk)) this.push(b); cb(); } catch (err) { cb(err as Error); }
  }
  override _flush(cb: TransformCallback): void {
    try { this.decoder.end(); cb(); } catch (err) { cb(err as Error); }
  }
}
