/**
 * Decoder for the Snappy framing format (what python-snappy's StreamCompressor writes for
 * `barman-cloud-backup --snappy`, spec §1.4): a stream identifier, then compressed (0x00) or uncompressed
 * (0x01) chunks of at most 64 KiB of data, each with a masked CRC-32C that is checked; padding and
 * skippable chunks are skipped. A stream that stops inside a chunk is an error, not a short file.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { maskedCrc32c } from './crc32c.js';

const STREAM_ID = Buffer.from([0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59]);
const MAX_CHUNK_DATA = 65536;

export class SnappyFramedDecoder extends Transform {
  private pending: Buffer = Buffer.alloc(0);
  private sawStreamId = false;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    try {
      let off = 0;
      while (this.pending.length - off >= 4) {
        const type = this.pending[off] as number;
        const len = (this.pending[off + 1] as number) | ((this.pending[off + 2] as number) << 8) | ((this.pending[off + 3] as number) << 16);
        if (this.pending.length - off < 4 + len) break;
        const body = this.pending.subarray(off + 4, off + 4 + len);
        off += 4 + len;
        this.handle(type, body);
      }
      this.pending = this.pending.subarray(off);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    if (this.pending.length > 0) cb(new Error(`snappy stream truncated (${this.pending.length} bytes of an incomplete chunk at the end)`));
    else if (!this.sawStreamId) cb(new Error('snappy stream is empty (no stream identifier)'));
    else cb();
  }

  private handle(type: number, body: Buffer): void {
    if (type === 0xff) {
      if (!STREAM_ID.subarray(4).equals(body)) throw new Error('not a snappy framed stream (bad stream identifier)');
      this.sawStreamId = true;
      return;
    }
    if (!this.sawStreamId) throw new Error('not a snappy framed stream (no stream identifier)');
    if (type === 0x00 || type === 0x01) {
      if (body.length < 4) throw new Error('snappy chunk too short');
      const expected = body.readUInt32LE(0);
      const data = type === 0x00 ? snappyUncompress(body.subarray(4)) : body.subarray(4);
      if (data.length > MAX_CHUNK_DATA) throw new Error('snappy chunk larger than 64 KiB');
      if (maskedCrc32c(data) !== expected) throw new Error('snappy chunk checksum mismatch (corrupt data)');
      this.push(data);
      return;
    }
    if (type >= 0x02 && type <= 0x7f) throw new Error(`unsupported unskippable snappy chunk type 0x${type.toString(16)}`);
    // 0x80–0xfe: skippable (0xfe = padding).
  }
}

/** Raw Snappy block decompression (format_description.txt). Throws on malformed input. */
export function snappyUncompress(src: Uint8Array): Buffer {
  let pos = 0;
  let length = 0;
  for (let shift = 0; ; shift += 7) {
    if (pos >= src.length || shift > 28) throw new Error('snappy: bad length preamble');
    const b = src[pos++] as number;
    length += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) break;
  }
  if (length > MAX_CHUNK_DATA * 4) throw new Error('snappy: block too large');
  const out = Buffer.allocUnsafe(length);
  let op = 0;
  while (pos < src.length) {
    const tag = src[pos++] as number;
    const kind = tag & 3;
    if (kind === 0) {
      let len = tag >>> 2;
      if (len >= 60) {
        const bytes = len - 59;
        if (pos + bytes > src.length) throw new Error('snappy: truncated literal length');
        len = 0;
        for (let i = 0; i < bytes; i++) len |= (src[pos + i] as number) << (8 * i);
        len >>>= 0;
        pos += bytes;
      }
      len += 1;
      if (pos + len > src.length || op + len > length) throw new Error('snappy: literal out of bounds');
      out.set(src.subarray(pos, pos + len), op);
      pos += len;
      op += len;
      continue;
    }
    let len: number;
    let offset: number;
    if (kind === 1) {
      if (pos >= src.length) throw new Error('snappy: truncated copy');
      len = ((tag >>> 2) & 7) + 4;
      offset = ((tag >>> 5) << 8) | (src[pos++] as number);
    } else if (kind === 2) {
      if (pos + 2 > src.length) throw new Error('snappy: truncated copy');
      len = (tag >>> 2) + 1;
      offset = (src[pos] as number) | ((src[pos + 1] as number) << 8);
      pos += 2;
    } else {
      if (pos + 4 > src.length) throw new Error('snappy: truncated copy');
      len = (tag >>> 2) + 1;
      offset = ((src[pos] as number) | ((src[pos + 1] as number) << 8) | ((src[pos + 2] as number) << 16) | ((src[pos + 3] as number) << 24)) >>> 0;
      pos += 4;
    }
    if (offset === 0 || offset > op || op + len > length) throw new Error('snappy: copy out of bounds');
    if (offset >= len) {
      out.copyWithin(op, op - offset, op - offset + len);
      op += len;
    } else {
      for (let i = 0; i < len; i++, op++) out[op] = out[op - offset] as number;
    }
  }
  if (op !== length) throw new Error('snappy: decompressed size does not match the preamble');
  return out;
}
