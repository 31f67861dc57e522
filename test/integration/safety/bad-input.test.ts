/**
 * Defect 12: bad input accepted or unclear. Each case: one line on stderr naming the cause and the object,
 * Barman's exit code (3 for bad input), nothing stored or printed that should not be.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli, type CliResult } from '../../harness/cli.js';
import { storeTarget } from '../../harness/stores.js';
import { makeTempDir } from '../../harness/tmp.js';
import { syntheticSegment } from '../../harness/wal-segments.js';
import { openTarget } from '../catalog/catalog-fixture.js';

const SEG = '000000010000000000000005';

/** The one line pgstow printed (Node's own deprecation warnings aside). */
function oneLine(r: CliResult): string {
  const lines = r.stderr.trim().split('\n').filter((l) => !/^\(node:\d+\) \[DEP|^\(Use `node --trace/.test(l));
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${r.stderr}`);
  return lines[0] as string;
}

describe('bad input: one line naming the cause and the object, Barman exit code', () => {
  it('a file that is not a WAL segment is not archived as one (100 bytes, a wrong segment, zeroes): exit 3', async (t) => {
    const target = storeTarget(t, 's3rver', 'bad-wal');
    if (!target) return;
    const dir = makeTempDir('bad-wal');
    const cases: Array<[string, Buffer, RegExp]> = [
      ['100 bytes', Buffer.alloc(100, 7), /magic 0x0707/],
      ['another segment', syntheticSegment('000000010000000000000009'), /WAL position 0\/900000, expected 0\/500000/],
      ['zeroes', Buffer.alloc(1 << 20), /magic 0x0000/],
      ['a truncated segment', syntheticSegment(SEG).subarray(0, 300_000), /truncated/],
    ];
    for (const [label, bytes, why] of cases) {
      const file = path.join(dir, SEG);
      fs.writeFileSync(file, bytes);
      const r = await runCli('barman-cloud-wal-archive', [...target.args, target.url, 'srv', file], { env: target.env });
      assert.equal(r.code, 3, `${label}: ${r.stderr}`);
      const line = oneLine(r);
      assert.ok(line.includes(file), `${label}: names the file: ${line}`);
      assert.match(line, /is not WAL segment 000000010000000000000005/);
      assert.match(line, why, label);
    }
    const s = await openTarget(target, 'srv');
    t.after(() => s.store.close());
    assert.equal(await s.store.exists(s.layout.walKey(SEG)), false, 'nothing was stored');
    const good = path.join(dir, SEG);
    fs.writeFileSync(good, syntheticSegment(SEG));
    assert.equal((await runCli('barman-cloud-wal-archive', [...target.args, target.url, 'srv', good], { env: target.env })).code, 0);
  });
});
