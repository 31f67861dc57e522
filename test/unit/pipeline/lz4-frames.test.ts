import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeLz4Frame, lz4Decompress, Lz4FormatError } from '../../../src/pipeline/lz4-frames.js';
import { xxh32, xxh32Stream } from '../../../src/pipeline/xxhash32.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';
import { requireInstalled } from '../../harness/test-env.js';

function sample(size: number): Buffer {
  const out = Buffer.alloc(size);
  const rnd = crypto.randomBytes(4096);
  for (let o = 0; o < size; o += 1000) {
    const row = Buffer.from(`row ${o % 7919} status shipped ${'abc'.repeat(o % 13)} `);
    row.copy(out, o, 0, Math.min(row.length, size - o));
    if (o % 3000 === 0) rnd.copy(out, o + 200, 0, Math.max(0, Math.min(300, size - o - 200)));
  }
  return out;
}

describe('LZ4 frames (JavaScript decoder)', () => {
  it('xxHash32 matches the reference values', () => {
    assert.equal(xxh32(Buffer.alloc(0)), 0x02cc5d05);
    assert.equal(xxh32(Buffer.from('a')), 0x550d7456);
    assert.equal(xxh32(Buffer.from('abc')), 0x32d153ff);
    assert.equal(xxh32(Buffer.from('Nobody inspects the spammish repetition')), 0xe2293b2f);
    const data = crypto.randomBytes(1000);
    for (const cuts of [[0], [1, 15, 16, 17], [3, 500, 999], [16, 32, 48]]) {
      const h = xxh32Stream();
      let at = 0;
      for (const c of [...cuts, data.length]) { h.update(data.subarray(at, c)); at = c; }
      assert.equal(h.digest(), xxh32(data), `cut at ${cuts.join(',')}`);
    }
  });

  it('decodes what the lz4 program writes: linked and independent blocks, every block size, block and content checksums, content size', (t) => {
    if (!requireInstalled(t, 'lz4', spawnSync('sh', ['-c', 'command -v lz4']).status === 0)) return;
    const dir = makeTempDir('lz4-cli');
    t.after(() => removeDir(dir));
    const data = sample(3 * 1024 * 1024 + 333);
    const plain = path.join(dir, 'plain');
    fs.writeFileSync(plain, data);
    for (const flags of [[], ['-BD'], ['-BI'], ['-B4'], ['-B5', '-BD'], ['-B6'], ['-B7'], ['-BX'], ['--content-size'], ['--no-frame-crc'], ['-9', '-BD'], ['-1']]) {
      const packed = execFileSync('lz4', ['-c', '-f', ...flags, plain], { maxBuffer: 64 << 20 });
      assert.ok(lz4Decompress(packed).equals(data), flags.join(' ') || 'defaults');
    }
  });

  it('refuses corrupt and truncated frames with Lz4FormatError', (t) => {
    if (!requireInstalled(t, 'lz4', spawnSync('sh', ['-c', 'command -v lz4']).status === 0)) return;
    const packed = execFileSync('lz4', ['-c', '-BX'], { input: sample(200_000) });
    assert.throws(() => lz4Decompress(packed.subarray(0, packed.length - 10)), Lz4FormatError);
    for (const at of [5, 6, 40, Math.floor(packed.length / 2), packed.length - 2]) {
      const bad = Buffer.from(packed);
      bad[at] = (bad[at] as number) ^ 0x55;
      assert.throws(() => lz4Decompress(bad), Lz4FormatError, `byte ${at}`);
    }
  });

  it('refuses a match that reaches before the start of the frame', () => {
    // Header: magic, FLG (version 1, independent blocks), BD (64 KiB), HC; one block: token 0x04 (no literal,
    // match length 8) with offset 1 at output position 0; end mark.
    const descriptor = Buffer.from([0x60, 0x40]);
    const hc = (xxh32(descriptor) >>> 8) & 0xff;
    const block = Buffer.from([0x04, 0x01, 0x00]);
    const frame = Buffer.concat([Buffer.from([0x04, 0x22, 0x4d, 0x18]), descriptor, Buffer.from([hc]), Buffer.from([block.length, 0, 0, 0]), block, Buffer.alloc(4)]);
    assert.throws(() => decodeLz4Frame(frame), /bad match/);
  });
});
