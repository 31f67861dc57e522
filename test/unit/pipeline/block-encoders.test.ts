import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as zlib from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { createBlockEncoder, deflateOutputSize, zstdBlockParams, zstdWindowLog } from '../../../src/pipeline/block-encoders.js';

/** The window size a zstd frame header announces (RFC 8878 §3.1.1.1.2), or its content size for a single-segment frame. */
function frameWindow(frame: Buffer): number {
  assert.equal(frame.readUInt32LE(0), 0xfd2fb528, 'a zstd frame');
  const fhd = frame[4] as number;
  if (fhd & 0x20) return Infinity; // single segment: the window is the content size, not announced
  const wd = frame[5] as number;
  const log = 10 + (wd >> 3);
  return 2 ** log + (2 ** log / 8) * (wd & 7);
}

describe('block encoders: zstd', () => {
  it('each block is a frame whose window is no larger than the block (a smaller context, same stream)', async () => {
    const blockSize = 256 * 1024;
    const enc = createBlockEncoder('zstd', undefined, blockSize);
    const input = Buffer.alloc(3 * blockSize);
    for (let i = 0; i < input.length; i += 4) input.writeUInt32LE((i * 2654435761) % 1000, i);
    const blocks = [0, 1, 2].map((i) => input.subarray(i * blockSize, (i + 1) * blockSize));
    const frames = await Promise.all(blocks.map((b, i) => enc.compress(b, blocks[i - 1])));
    enc.close?.();
    for (const f of frames) assert.ok(frameWindow(f) <= blockSize, `window ${frameWindow(f)} > block ${blockSize}`);
    assert.deepEqual(zlib.zstdDecompressSync(Buffer.concat(frames)), input);
    assert.equal(zstdWindowLog(blockSize), 18);
    assert.equal(zstdWindowLog(1), 10);
    assert.equal(zstdWindowLog(1024 * 1024 + 1), 21);
  });
});

describe('block encoders: gzip', () => {
  it('independent blocks, each one piece of a long-lived stream\'s output buffer (no Buffer, context or dictionary per block)', async () => {
    const text = Buffer.from(Array.from({ length: 40_000 }, (_, i) => `row ${i} ${(i * 7919) % 1000} lorem ipsum\n`).join(''));
    for (const blockSize of [64 * 1024, 256 * 1024]) {
      const enc = createBlockEncoder('gzip', 6, blockSize);
      try {
        const blocks = [randomBytes(blockSize), text.subarray(0, blockSize), text.subarray(blockSize, 2 * blockSize)];
        const outs: Buffer[] = [];
        // One at a time: the same stream compresses them all.
        for (const b of blocks) outs.push(await enc.compress(b, outs.length ? blocks[outs.length - 1] : undefined));
        for (const [i, out] of outs.entries()) {
          assert.ok(out.length <= deflateOutputSize(blockSize), `${out.length} > ${deflateOutputSize(blockSize)}`);
          // Each block inflates on its own: no match reaches into the block before it.
          assert.ok(zlib.inflateRawSync(out, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).equals(blocks[i] as Buffer), `block ${i} of ${blockSize} alone`);
        }
        assert.ok((outs[0] as Buffer).length > blockSize, 'random bytes do not compress: stored blocks, a little larger than the input');
        // The text blocks went into the same output buffer, one after the other: no new Buffer, no concatenation.
        assert.equal((outs[2] as Buffer).buffer, (outs[1] as Buffer).buffer, `block of ${blockSize}`);
        assert.equal((outs[1] as Buffer).buffer.byteLength, 2 * deflateOutputSize(blockSize));
      } finally {
        enc.close?.();
      }
    }
  });
});

describe('block encoders: output chunk (the memory plan\'s compressionOutputChunk)', () => {
  it('gzip and zstd cut a block\'s output from buffers of the given size, joining the pieces of a larger one', async () => {
    const blockSize = 256 * 1024;
    const text = Buffer.alloc(2 * blockSize, 'pgstow block ');
    const chunk = 32 * 1024; // from Buffer's pool below Buffer.poolSize / 2 (32 KiB on Node 24)
    for (const codec of ['gzip', 'zstd'] as const) {
      const enc = createBlockEncoder(codec, undefined, blockSize, chunk);
      try {
        const blocks = [text.subarray(0, blockSize), randomBytes(blockSize), text.subarray(blockSize, 2 * blockSize)];
        const outs: Buffer[] = [];
        for (const b of blocks) outs.push(await enc.compress(b, undefined));
        // A small output is a piece of one chunk-sized buffer (not of a block-sized one that lives across blocks).
        assert.ok((outs[0] as Buffer).length < chunk, `${codec}: text compresses below one chunk`);
        // (zstd hands a frame out in two pieces, its start at the write and its end at the flush, joined by the pool.)
        if (codec === 'gzip') assert.equal((outs[0] as Buffer).buffer.byteLength, chunk, 'output buffer of the chunk\'s size');
        // Random bytes need many chunks: joined into one piece, still a valid block.
        assert.ok((outs[1] as Buffer).length > blockSize);
        for (const [i, out] of outs.entries()) {
          const back = codec === 'gzip' ? zlib.inflateRawSync(out, { finishFlush: zlib.constants.Z_SYNC_FLUSH }) : zlib.zstdDecompressSync(out);
          assert.ok(back.equals(blocks[i] as Buffer), `${codec}: block ${i} alone`);
        }
      } finally {
        enc.close?.();
      }
    }
  });
});

describe('block encoders: zstd tables', () => {
  it('levels 3-4 use tables the size of a block-sized frame, other levels keep zstd\'s own', async () => {
    const zc = zlib.constants as unknown as Record<string, number>;
    const p4 = zstdBlockParams(4, 256 * 1024);
    assert.equal(p4[zc.ZSTD_c_windowLog as number], 18);
    assert.equal(p4[zc.ZSTD_c_hashLog as number], 17);
    assert.equal(p4[zc.ZSTD_c_chainLog as number], 16);
    assert.equal(zstdBlockParams(9, 256 * 1024)[zc.ZSTD_c_hashLog as number], undefined);
    assert.equal(zstdBlockParams(1, 256 * 1024)[zc.ZSTD_c_chainLog as number], undefined);
    // One frame per block and nothing else (no empty frames between them).
    const enc = createBlockEncoder('zstd', 4, 64 * 1024);
    try {
      const blocks = [randomBytes(64 * 1024), Buffer.alloc(64 * 1024, 7), randomBytes(1000)];
      const frames: Buffer[] = [];
      for (const b of blocks) frames.push(await enc.compress(b, undefined));
      for (const [i, f] of frames.entries()) {
        assert.equal(f.readUInt32LE(0), 0xfd2fb528, `frame ${i} starts with zstd's magic`);
        assert.ok(zlib.zstdDecompressSync(f).equals(blocks[i] as Buffer), `frame ${i} alone is the block`);
      }
      assert.ok(zlib.zstdDecompressSync(Buffer.concat(frames)).equals(Buffer.concat(blocks)));
    } finally {
      enc.close?.();
    }
  });
});
