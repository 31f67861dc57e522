import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WalContinuity, rangeCovered } from '../../../../src/domain/wal/wal-continuity.js';
import { formatSegmentName } from '../../../../src/domain/wal/wal-file-name.js';

const MiB16 = 16 * 1024 * 1024;

test('gaps per timeline, across log boundaries, duplicates counted once', () => {
  const c = new WalContinuity(MiB16);
  const seg = (tli: number, log: number, s: number): string => formatSegmentName(tli, log, s);
  for (const n of [seg(1, 0, 0xfe), seg(1, 0, 0xff), seg(1, 0, 0xff), seg(1, 1, 0), seg(1, 1, 1), seg(1, 1, 5), `${seg(1, 1, 5)}.00000028.backup`, `${seg(1, 1, 6)}.partial`]) c.add(n);
  c.add('00000002.history');
  c.add(seg(2, 1, 6));
  const [t1, t2] = c.result();
  assert.equal(t1!.segments, 5);
  assert.equal(t1!.gapCount, 1);
  assert.deepEqual(t1!.gaps, [{ from: seg(1, 1, 2), to: seg(1, 1, 4), missing: 3 }]);
  assert.equal(t1!.partials, 1);
  assert.equal(t1!.backupLabels, 1);
  assert.equal(t2!.hasHistory, true);
  assert.equal(t2!.firstSegment, seg(2, 1, 6));
  assert.ok(rangeCovered(t1, seg(1, 0, 0xff), seg(1, 1, 1)));
  assert.ok(!rangeCovered(t1, seg(1, 1, 1), seg(1, 1, 5)));
  assert.ok(!rangeCovered(t1, seg(1, 0, 0x10), seg(1, 0, 0xfe)));
});

test('1 MiB segments: 4096 per log', () => {
  const c = new WalContinuity(1 << 20);
  c.add(formatSegmentName(1, 0, 0xfff));
  c.add(formatSegmentName(1, 1, 0));
  assert.equal(c.result()[0]!.gapCount, 0);
});
