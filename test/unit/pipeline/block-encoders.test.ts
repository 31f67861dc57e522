import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as zlib from 'node:zlib';
import { createBlockEncoder, zstdWindowLog } from '../../../src/pipeline/block-encoders.js';

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
