import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isWalFileName, nextSegmentName, parseWalFileName, segmentNameFromNumber, segmentNumber, segmentsPerLog, walHashDir,
} from '../../../../src/domain/wal/wal-file-name.js';
import { formatLsn, lsnSegmentOffset, lsnToSegmentName, parseLsn } from '../../../../src/domain/wal/lsn.js';
import { UsageError } from '../../../../src/errors.js';

const MiB = 1024 * 1024;

test('recognises the four kinds of WAL file names', () => {
  assert.equal(parseWalFileName('000000010000000000000003').kind, 'segment');
  assert.equal(parseWalFileName('000000010000000000000010.partial').kind, 'partial');
  const b = parseWalFileName('000000010000000000000003.00000028.backup');
  assert.equal(b.kind, 'backup');
  assert.equal(b.backupOffset, 0x28);
  const h = parseWalFileName('00000002.history');
  assert.equal(h.kind, 'history');
  assert.equal(h.timeline, 2);
  assert.equal(isWalFileName('00000001000000000000000g'), false);
  assert.throws(() => parseWalFileName('foo'), (e: unknown) => e instanceof UsageError && /invalid name for a WAL file/.test(e.message));
});

test('hash dir is timeline+log; history files have none', () => {
  assert.equal(walHashDir('00000001000000020000003A'), '0000000100000002');
  assert.equal(walHashDir('00000005.history'), '');
});

test('segment arithmetic depends on the segment size', () => {
  assert.equal(segmentsPerLog(16 * MiB), 256);
  assert.equal(segmentsPerLog(64 * MiB), 64);
  assert.equal(segmentsPerLog(MiB), 4096);
  assert.equal(nextSegmentName('0000000100000000000000FF', 16 * MiB), '000000010000000100000000');
  assert.equal(nextSegmentName('00000001000000000000003F', 64 * MiB), '000000010000000100000000');
  assert.equal(nextSegmentName('000000010000000000000FFF', MiB), '000000010000000100000000');
  const n = segmentNumber(parseWalFileName('000000020000000300000004'), 16 * MiB);
  assert.equal(n, 3n * 256n + 4n);
  assert.equal(segmentNameFromNumber(2, n, 16 * MiB), '000000020000000300000004');
  assert.throws(() => segmentsPerLog(3 * MiB), UsageError);
});

test('LSN parsing, formatting and mapping to a segment', () => {
  const lsn = parseLsn('0/B000028');
  assert.equal(formatLsn(lsn), '0/B000028');
  assert.equal(lsnToSegmentName(lsn, 1, 16 * MiB), '00000001000000000000000B');
  assert.equal(lsnSegmentOffset(lsn, 16 * MiB), 40);
  assert.equal(lsnToSegmentName(parseLsn('1/0'), 1, 16 * MiB), '000000010000000100000000');
  assert.equal(lsnToSegmentName(parseLsn('16/B374D848'), 3, 16 * MiB), '0000000300000016000000B3');
  assert.throws(() => parseLsn('nope'), UsageError);
});
