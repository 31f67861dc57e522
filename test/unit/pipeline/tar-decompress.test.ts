import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as zlib from 'node:zlib';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createTarDecompressor } from '../../../src/pipeline/tar-decompress.js';
import { CodecError } from '../../../src/pipeline/codecs.js';
import { lz4Compress } from '../../../src/pipeline/lz4-frames.js';

/** Rows of text with random runs: compressible, several 4 MiB LZ4 blocks. */
function sample(size: number): Buffer {
  const out = Buffer.alloc(size);
  const rnd = crypto.randomBytes(8192);
  for (let o = 0; o < size; o += 500) {
    Buffer.from(`row ${o} status shipped ${'lorem ipsum '.repeat(o % 7)}`).copy(out, o, 0, Math.min(200, size - o));
    if (o % 1500 === 0) rnd.copy(out, o + 200, o % 4096, o % 4096 + Math.max(0, Math.min(250, size - o - 200)));
  }
  return out;
}

/** The object's bytes in 64 KiB pieces (as a download hands them over) through the tar decompressor. */
async function decode(data: Buffer, codec: 'lz4' | 'gzip' = 'lz4', chunks: Buffer[] = []): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let o = 0; o < data.length; o += 65536) pieces.push(data.subarray(o, o + 65536));
  await pipeline(Readable.from(pieces), createTarDecompressor(codec), new Writable({ write(c: Buffer, _e, cb) { chunks.push(c); cb(); } }));
  return Buffer.concat(chunks);
}

describe('tar decompression of gzip volumes', () => {
  it('hands over most bytes in chunks of at least a quarter of their buffer (smaller ones the file writer copies)', async () => {
    // Half random, half text: ~2× compression as in a database's tables (a 64 KiB piece inflates to ~130 KiB).
    const original = Buffer.concat(Array.from({ length: 64 }, (_, i) => Buffer.concat([crypto.randomBytes(64 << 10), Buffer.from(`row ${i} lorem ipsum dolor `.repeat(2700)).subarray(0, 64 << 10)])));
    const chunks: Buffer[] = [];
    assert.ok((await decode(zlib.gzipSync(original), 'gzip', chunks)).equals(original));
    const copied = chunks.filter((c) => c.length < c.buffer.byteLength / 4).reduce((n, c) => n + c.length, 0);
    // With 1 MiB output buffers 60-70 % of the bytes came in such slices (measured on a restore: 312 of 461 MB).
    assert.ok(copied < original.length * 0.3, `${copied} of ${original.length} bytes in slices under a quarter of their buffer`);
  });

  it('a truncated volume fails as damaged gzip data', async () => {
    const gz = zlib.gzipSync(sample(1 << 20));
    await assert.rejects(decode(gz.subarray(0, gz.length - 100), 'gzip'), (err: unknown) => err instanceof CodecError && /gzip/.test(err.message));
  });
});

describe('tar decompression of lz4 volumes (in-process, WebAssembly)', () => {
  const original = sample(9 << 20);
  const frame = lz4Compress(original);

  it('decodes a frame of several blocks to the original bytes', async () => {
    assert.ok((await decode(frame)).equals(original));
  });

  it('a truncated volume fails as damaged lz4 data', async () => {
    await assert.rejects(decode(frame.subarray(0, frame.length >> 1)), (err: unknown) => err instanceof CodecError && /lz4/.test(err.message));
  });

  it('a changed content checksum fails', async () => {
    const bad = Buffer.from(frame);
    bad[bad.length - 2] = (bad[bad.length - 2] as number) ^ 0x5a;
    await assert.rejects(decode(bad), (err: unknown) => err instanceof CodecError && /lz4/.test(err.message));
  });

  it('a changed byte in the blocks fails or decodes to the original bytes, never to other bytes', async () => {
    // A changed match offset can point at equal bytes in repetitive data: then the output is still the original.
    for (const at of [frame.length >> 2, frame.length >> 1, (frame.length >> 2) * 3]) {
      const bad = Buffer.from(frame);
      bad[at] = (bad[at] as number) ^ 0x5a;
      const out = await decode(bad).catch((err: unknown) => {
        assert.ok(err instanceof CodecError && /lz4/.test(err.message), String(err));
        return undefined;
      });
      if (out) assert.ok(out.equals(original), `byte ${at} changed gave other bytes, not an error`);
    }
  });

  it('bytes after the last frame fail', async () => {
    await assert.rejects(decode(Buffer.concat([frame, Buffer.from('not an lz4 frame')])), (err: unknown) => err instanceof CodecError);
  });
});
