/**
 * The CRC-32C the WAL download check runs with (native for long spans, TypeScript for short ones) gives exactly
 * the TypeScript values, continued across calls, and the segment check with it still finds every damaged record.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { crc32c } from '../../../src/domain/wal/crc32c.js';
import { WalSegmentChecker } from '../../../src/domain/wal/wal-segment-check.js';
import { walCrc32c } from '../../../src/services/wal-crc32c.js';
import { syntheticSegment } from '../../harness/wal-segments.js';

function problem(name: string, bytes: Buffer, withNative: boolean): string | undefined {
  const c = new WalSegmentChecker(name, withNative ? { crc32c: walCrc32c() } : {});
  for (let i = 0; i < bytes.length; i += 16384) c.update(bytes.subarray(i, i + 16384));
  return c.finish();
}

describe('CRC-32C of the WAL download check', () => {
  it('equals the TypeScript CRC for spans below, at and above the native threshold, continued across calls', () => {
    const fast = walCrc32c();
    const b = randomBytes(70_000);
    for (const len of [0, 1, 7, 30, 255, 256, 257, 4096, 8168, 65_536]) {
      for (const start of [0, 3, 1000]) {
        const seed = crc32c(b, 0, 0, 11);
        assert.equal(fast(b, seed, start, start + len), crc32c(b, seed, start, start + len), `len ${len} at ${start}`);
      }
    }
    let a = 0;
    let c = 0;
    for (let i = 0; i < b.length;) {
      const n = [5, 300, 8000, 29][i % 4] as number;
      a = fast(b, a, i, Math.min(b.length, i + n));
      c = crc32c(b, c, i, Math.min(b.length, i + n));
      i += n;
    }
    assert.equal(a, c);
    assert.equal(a, crc32c(b));
  });

  it('the segment check with it accepts a good segment and finds the same damage as with the TypeScript CRC', () => {
    const name = '000000010000000000000003';
    const seg = syntheticSegment(name, { seed: 9, randomPayloadUntil: 1 << 20 });
    assert.equal(problem(name, seg, true), undefined);
    for (let i = 0; i < 60; i++) {
      const bad = Buffer.from(seg);
      const at = Math.floor(Math.random() * bad.length);
      bad[at] = (bad[at] as number) ^ (1 << (i % 8));
      assert.equal(problem(name, bad, true), problem(name, bad, false), `flip at ${at}`);
    }
  });
});
