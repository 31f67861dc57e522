import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
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
async function decode(data: Buffer): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let o = 0; o < data.length; o += 65536) pieces.push(data.subarray(o, o + 65536));
  const out: Buffer[] = [];
  await pipeline(Readable.from(pieces), createTarDecompressor('lz4'), new Writable({ write(c: Buffer, _e, cb) { out.push(c); cb(); } }));
  return Buffer.concat(out);
}

describe('tar decompression of lz4 volumes (the lz4 program when installed, else JavaScript)', () => {
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
