import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { crc32c as nativeCrc32c } from '@node-rs/crc32';
import { crc32c } from '../../../../src/domain/wal/crc32c.js';
import { WalSegmentChecker, walSegmentProblem } from '../../../../src/domain/wal/wal-segment-check.js';
import { syntheticSegment } from '../../../harness/wal-segments.js';

const NAME = '000000010000000000000003';

describe('crc32c', () => {
  it('matches a native CRC-32C and continues across calls', () => {
    const b = randomBytes(100_003);
    assert.equal(crc32c(b), nativeCrc32c(b));
    assert.equal(crc32c(b, crc32c(b, 0, 0, 777), 777), nativeCrc32c(b));
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  });
});

describe('WAL segment check', () => {
  const shapes: Array<[string, Parameters<typeof syntheticSegment>[1]]> = [
    ['records to the end', { seed: 1 }],
    ['a record continued from the previous segment', { seed: 2, continuedBytes: 20_000 }],
    ['a switch, then zeroes', { seed: 3, switchAfter: 300_000 }],
    ['16 MiB segments, 32 KiB pages', { seed: 4, segmentSize: 16 << 20, pageSize: 32768 }],
  ];
  for (const [label, opts] of shapes) {
    it(`accepts a good segment: ${label}, whole or in random chunks`, () => {
      const seg = syntheticSegment(NAME, opts);
      assert.equal(walSegmentProblem(NAME, seg), undefined);
      const c = new WalSegmentChecker(NAME);
      for (let i = 0; i < seg.length;) { const n = 1 + Math.floor(Math.random() * 70_000); c.update(seg.subarray(i, i + n)); i += n; }
      assert.equal(c.finish(), undefined);
    });
  }

  it('refuses what is not this segment: short, truncated, padded, another segment, not WAL at all', () => {
    const seg = syntheticSegment(NAME, { seed: 5 });
    assert.match(walSegmentProblem(NAME, Buffer.alloc(100, 1)) ?? '', /not a WAL segment/);
    assert.match(walSegmentProblem(NAME, seg.subarray(0, 30)) ?? '', /100|30 bytes is not a WAL segment/);
    assert.match(walSegmentProblem(NAME, seg.subarray(0, seg.length - 8192)) ?? '', /truncated/);
    assert.match(walSegmentProblem(NAME, Buffer.concat([seg, Buffer.alloc(8192)])) ?? '', /more than|padded/);
    assert.match(walSegmentProblem('000000010000000000000004', seg) ?? '', /WAL position 0\/300000, expected 0\/400000/);
    assert.match(walSegmentProblem(NAME, Buffer.alloc(1 << 20)) ?? '', /magic 0x0000/);
    assert.match(walSegmentProblem('000000010000000000000003', syntheticSegment('000000020000000000000003', { seed: 5 })) ?? '', /timeline 2/);
  });

  it('names the record: a wrong CRC, and a back-link to the wrong place under a valid CRC (LSNs above 4 GiB)', () => {
    // Log 5, segment 0xFE of 1 MiB: the segment starts at 5/FE00000, so the high half of every LSN is checked too.
    const name = '0000000100000005000000FE';
    const align8 = (n: number): number => (n + 7) & ~7;
    let seg: Buffer | undefined;
    let second = 0;
    for (let seed = 1; seed < 100 && !seg; seed++) {
      const s = syntheticSegment(name, { seed });
      const off = align8(40 + s.readUInt32LE(40));
      if (off + s.readUInt32LE(off) <= 8192 && s.readUInt32LE(off) > 24) { seg = s; second = off; }
    }
    assert.ok(seg, 'a segment whose second record has data and lies in the first page');
    assert.equal(walSegmentProblem(name, seg), undefined);
    const len = seg.readUInt32LE(second);
    const at = `5/FE${second.toString(16).toUpperCase().padStart(5, '0')}`;
    const flipped = Buffer.from(seg);
    flipped[second + 24] = (flipped[second + 24] as number) ^ 1;
    assert.match(walSegmentProblem(name, flipped) ?? '', new RegExp(`^record at ${at}: checksum mismatch`));
    const relinked = (prev: bigint): Buffer => {
      const b = Buffer.from(seg);
      b.writeBigUInt64LE(prev, second + 8);
      b.writeUInt32LE(crc32c(b, crc32c(b, 0, second + 24, second + len), second, second + 20), second + 20);
      return b;
    };
    assert.equal(walSegmentProblem(name, relinked((5n << 32n) + 0xfe00000n + 48n)),
      `record at ${at}: it points back to 5/FE00030, not to the previous record at 5/FE00028`);
    assert.equal(walSegmentProblem(name, relinked((6n << 32n) + 0xfe00028n)), // only the high half differs
      `record at ${at}: it points back to 6/FE00028, not to the previous record at 5/FE00028`);
  });

  it('finds a damaged record: a flipped byte anywhere in records or headers, a zeroed page', () => {
    const seg = syntheticSegment(NAME, { seed: 6 });
    let detected = 0;
    const tries = 400;
    for (let i = 0; i < tries; i++) {
      const bad = Buffer.from(seg);
      const at = Math.floor(Math.random() * bad.length);
      bad[at] = (bad[at] as number) ^ (1 << (i % 8));
      if (walSegmentProblem(NAME, bad) !== undefined) detected++;
    }
    // Only the zero padding between records (< 8 bytes per record) is not covered.
    assert.ok(detected >= tries * 0.9, `${detected} of ${tries} single-bit flips detected`);
    const zeroed = Buffer.from(seg);
    zeroed.fill(0, 8192 * 5, 8192 * 6);
    assert.match(walSegmentProblem(NAME, zeroed) ?? '', /page 5|record/);
  });

  it('.partial segments: first page and size only (their tail is whatever the recycled file held)', () => {
    const seg = syntheticSegment(NAME, { seed: 7 });
    const tail = Buffer.from(seg);
    randomBytes(4096).copy(tail, 600_000);
    assert.equal(walSegmentProblem(`${NAME}.partial`, tail), undefined);
    assert.notEqual(walSegmentProblem(NAME, tail), undefined);
    assert.match(walSegmentProblem(`${NAME}.partial`, tail.subarray(0, 4096)) ?? '', /truncated/);
  });
});
