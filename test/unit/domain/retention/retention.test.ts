import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../../../src/errors.js';
import { applyRetention, type RetentionInput } from '../../../../src/domain/retention/apply-retention.js';
import { formatRetentionPolicy, parseRetentionPolicy } from '../../../../src/domain/retention/retention-policy.js';

const DAY = 86_400_000;
const NOW = new Date('2026-11-25T12:00:00Z');
const daysAgo = (n: number): Date => new Date(NOW.getTime() - n * DAY);
const b = (id: string, ageDays: number, extra: Partial<RetentionInput> = {}): RetentionInput => ({ id, status: 'DONE', endTime: daysAgo(ageDays), keep: null, ...extra });
const statuses = (r: ReturnType<typeof applyRetention>): Record<string, string> => Object.fromEntries(r.decisions.map((d) => [d.id, d.status]));

test('policy syntax: Barman and CloudNativePG forms', () => {
  assert.deepEqual(parseRetentionPolicy('REDUNDANCY 3'), { kind: 'redundancy', count: 3 });
  assert.deepEqual(parseRetentionPolicy('  redundancy   0 '), { kind: 'redundancy', count: 0 });
  assert.equal(formatRetentionPolicy(parseRetentionPolicy('recovery window of 1 day')), 'RECOVERY WINDOW OF 1 DAYS');
  assert.equal(formatRetentionPolicy(parseRetentionPolicy('RECOVERY WINDOW OF 4 WEEKS')), 'RECOVERY WINDOW OF 4 WEEKS');
  assert.equal(formatRetentionPolicy(parseRetentionPolicy('30d')), 'RECOVERY WINDOW OF 30 DAYS');
  assert.equal(formatRetentionPolicy(parseRetentionPolicy('4w')), 'RECOVERY WINDOW OF 4 WEEKS');
  assert.equal(formatRetentionPolicy(parseRetentionPolicy('1m')), 'RECOVERY WINDOW OF 1 MONTHS');
  for (const bad of ['', 'REDUNDANCY', 'REDUNDANCY -1', '0d', '30x', 'RECOVERY WINDOW OF 3 YEARS', '30d extra']) {
    assert.throws(() => parseRetentionPolicy(bad), UsageError, bad);
  }
});

test('REDUNDANCY: newest n DONE backups valid; kept backups use slots; non-DONE ignored', () => {
  const backups = [b('A', 5), b('B', 4, { keep: 'standalone' }), b('C', 3, { status: 'FAILED' }), b('D', 2), b('E', 1, { keep: 'full' }), b('F', 0)];
  const r = applyRetention(backups, parseRetentionPolicy('REDUNDANCY 2'), NOW);
  assert.deepEqual(statuses(r), { F: 'VALID', E: 'KEEP:FULL', D: 'OBSOLETE', C: '-', B: 'KEEP:STANDALONE', A: 'OBSOLETE' });
  assert.deepEqual(r.decisions.filter((d) => d.delete).map((d) => d.id), ['D', 'A']);
  assert.match(r.decisions.find((d) => d.id === 'D')!.reason, /3rd newest DONE backup, beyond REDUNDANCY 2/);
});

test('REDUNDANCY is raised to the minimum redundancy with a warning', () => {
  const r = applyRetention([b('A', 3), b('B', 2), b('C', 1)], parseRetentionPolicy('REDUNDANCY 1'), NOW, 2);
  assert.deepEqual(statuses(r), { C: 'VALID', B: 'VALID', A: 'OBSOLETE' });
  assert.equal(r.warnings.length, 1);
});

test('RECOVERY WINDOW keeps the first backup before the point of recoverability', () => {
  const backups = [b('A', 20), b('B', 10), b('C', 8), b('D', 3), b('E', 1)];
  const r = applyRetention(backups, parseRetentionPolicy('7d'), NOW);
  assert.deepEqual(statuses(r), { E: 'VALID', D: 'VALID', C: 'VALID', B: 'OBSOLETE', A: 'OBSOLETE' });
  assert.match(r.decisions.find((d) => d.id === 'C')!.reason, /needed to recover to the start of the window/);
  assert.equal(r.pointOfRecoverability?.toISOString(), daysAgo(7).toISOString());
});

test('RECOVERY WINDOW with minimum redundancy marks OBSOLETE* (never deleted) and honours keeps', () => {
  const backups = [b('A', 40), b('B', 30, { keep: 'full' }), b('C', 20), b('D', 10)];
  const r = applyRetention(backups, parseRetentionPolicy('RECOVERY WINDOW OF 1 WEEK'), NOW, 2);
  // D is before the window and is the needed one (valid=1); C is kept by minimum redundancy (OBSOLETE*, valid=2).
  assert.deepEqual(statuses(r), { D: 'VALID', C: 'OBSOLETE*', B: 'KEEP:FULL', A: 'OBSOLETE' });
  assert.deepEqual(r.decisions.filter((d) => d.delete).map((d) => d.id), ['A']);
});

test('a window with every backup inside keeps all; months are 31 days', () => {
  assert.deepEqual(statuses(applyRetention([b('A', 30), b('B', 1)], parseRetentionPolicy('1m'), NOW)), { B: 'VALID', A: 'VALID' });
  assert.deepEqual(statuses(applyRetention([b('A', 32), b('B', 31.5), b('C', 1)], parseRetentionPolicy('1m'), NOW)), { C: 'VALID', B: 'VALID', A: 'OBSOLETE' });
});
