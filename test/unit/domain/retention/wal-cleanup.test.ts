import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planWalCleanup, walCleanupRule, walMatchesRule, type CleanupBackup } from '../../../../src/domain/retention/wal-cleanup.js';

const w = (tli: number, seg: number): string => `${tli.toString(16).padStart(8, '0').toUpperCase()}00000000${seg.toString(16).padStart(8, '0').toUpperCase()}`;
const bk = (id: string, tli: number, begin: number, end: number, extra: Partial<CleanupBackup> = {}): CleanupBackup => ({ id, status: 'DONE', timeline: tli, beginWal: w(tli, begin), endWal: w(tli, end), keep: null, ...extra });

// The barman-cloud 3.4 run recorded in test/fixtures/barman/3.4: three backups (WAL 2, 4, 6), the first kept
// standalone; `-r "REDUNDANCY 1" --dry-run` deleted 20261125T120215 and WAL 1, 3, 4, 4.backup, 5.
test('matches the barman-cloud 3.4 dry run on the fixture catalog', () => {
  const backups = [bk('20261125T120208', 1, 2, 2, { keep: 'standalone' }), bk('20261125T120215', 1, 4, 4), bk('20261125T120220', 1, 6, 6)];
  const rule = walCleanupRule(backups, '20261125T120215', false);
  const names = [w(1, 1), w(1, 2), `${w(1, 2)}.00000028.backup`, w(1, 3), w(1, 4), `${w(1, 4)}.00000028.backup`, w(1, 5), w(1, 6), `${w(1, 6)}.00000028.backup`, w(1, 7)];
  assert.deepEqual(names.filter((n) => walMatchesRule(rule, n)), [w(1, 1), w(1, 3), w(1, 4), `${w(1, 4)}.00000028.backup`, w(1, 5)]);
  // Deleting by id keeps WAL when only standalone backups are older.
  assert.equal(walCleanupRule(backups, '20261125T120215', true).remove, false);
});

test('an older ordinary backup keeps every WAL (PITR from it)', () => {
  const r = walCleanupRule([bk('A', 1, 2, 2), bk('B', 1, 4, 4)], 'B', false);
  assert.equal(r.remove, false);
  assert.match(r.reason, /older backup A/);
});

test('oldest backup: WAL before the next backup go, history files and other timelines stay', () => {
  const backups = [bk('A', 1, 2, 2), bk('B', 1, 8, 8), bk('C', 2, 20, 20)];
  const r = walCleanupRule(backups, 'A', false);
  assert.equal(r.until, w(1, 8));
  assert.deepEqual(r.protectedTimelines, [2]);
  assert.ok(walMatchesRule(r, w(1, 7)));
  assert.ok(walMatchesRule(r, `${w(1, 3)}.partial`));
  assert.ok(!walMatchesRule(r, w(1, 8)));
  assert.ok(!walMatchesRule(r, '00000001.history'));
  assert.ok(!walMatchesRule(r, w(2, 1)));
});

test('last backup left: WAL before its own begin go; non-DONE backups are skipped as neighbours', () => {
  const r = walCleanupRule([bk('A', 1, 5, 6), bk('B', 1, 9, 9, { status: 'FAILED' })], 'A', false);
  assert.equal(r.until, w(1, 5));
  assert.equal(r.untilBackupId, 'A');
});

test('sequential plan: later deletions see the catalog without the earlier ones', () => {
  const backups = [bk('A', 1, 2, 2), bk('B', 1, 4, 4), bk('C', 1, 6, 6)];
  const rules = planWalCleanup(backups, ['B', 'A'], false);
  assert.deepEqual(rules.map((r) => [r.backupId, r.remove, r.until]), [['A', true, w(1, 4)], ['B', true, w(1, 6)]]);
});

// Barman: protected_timelines = timelines of every other backup (any status) minus until's. Names start with
// the timeline, so only a WAL of a LOWER timeline than until's can sort below `until`: these cases are the
// ones where the timeline check, not the `name < until` comparison, keeps the file.
test('a WAL of another backup\'s timeline that sorts below until is kept; other timelines below until go', () => {
  // A: older, keep:standalone on timeline 2 (its own range is protected); B deleted; C on timeline 3 is until.
  const backups = [bk('A', 2, 0x10, 0x10, { keep: 'standalone' }), bk('B', 3, 0x20, 0x20), bk('C', 3, 0x30, 0x30)];
  const r = walCleanupRule(backups, 'B', false);
  assert.equal(r.remove, true);
  assert.equal(r.until, w(3, 0x30));
  assert.deepEqual(r.protectedTimelines, [2]);
  // Outside A's [begin, end] and below until: only the timeline-2 protection keeps it.
  assert.ok(w(2, 0x11) < r.until!);
  assert.ok(!walMatchesRule(r, w(2, 0x11)));
  assert.ok(!walMatchesRule(r, `${w(2, 0x11)}.partial`));
  assert.ok(!walMatchesRule(r, w(2, 0x10)));
  // Timeline 1 has no backup left and timeline 3 is until's: both are cut at until.
  assert.ok(walMatchesRule(r, w(1, 0x05)));
  assert.ok(walMatchesRule(r, w(3, 0x25)));
  assert.ok(!walMatchesRule(r, w(3, 0x30)));
});

test('a FAILED backup on timeline 2 still protects its timeline (any status counts)', () => {
  const backups = [bk('A', 1, 2, 2), bk('B', 2, 0x10, 0x10, { status: 'FAILED' }), bk('C', 3, 0x20, 0x20)];
  const r = walCleanupRule(backups, 'A', false);
  assert.equal(r.untilBackupId, 'C');
  assert.deepEqual(r.protectedTimelines, [2]);
  const names = [w(1, 3), w(2, 0x0f), w(2, 0x11), `${w(2, 0x10)}.00000028.backup`, '00000002.history', w(3, 0x1f), w(3, 0x20)];
  assert.deepEqual(names.filter((n) => walMatchesRule(r, n)), [w(1, 3), w(3, 0x1f)]);
});
