import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRecoveryTime } from '../../../../src/domain/recovery/recovery-time.js';
import { parseRecoveryPlan, recoverySettings } from '../../../../src/domain/recovery/recovery-target.js';
import { UsageError } from '../../../../src/errors.js';

test('target times are normalised to an explicit offset', () => {
  assert.equal(parseRecoveryTime('2026-11-25T10:27:49Z').text, '2026-11-25 10:27:49.000000+00:00');
  assert.equal(parseRecoveryTime('2026-11-25 10:27:49').text, '2026-11-25 10:27:49.000000+00:00');
  assert.equal(parseRecoveryTime('2026-11-25 10:27:49.5+01').text, '2026-11-25 10:27:49.500000+01:00');
  assert.equal(parseRecoveryTime('2026-11-25T10:27:49.123456789-0530').text, '2026-11-25 10:27:49.123456-05:30');
  assert.equal(parseRecoveryTime('2026-11-25 10:27:49 UTC').text, '2026-11-25 10:27:49.000000+00:00');
  // Same instant written two ways.
  assert.equal(parseRecoveryTime('2026-11-25 11:27:49+01:00').epochMicros, parseRecoveryTime('2026-11-25T10:27:49Z').epochMicros);
  assert.equal(parseRecoveryTime('2026-11-25 10:27:49.000001Z').epochMicros - parseRecoveryTime('2026-11-25 10:27:49Z').epochMicros, 1n);
});

test('invalid target times are usage errors', () => {
  for (const bad of ['yesterday', '2026-02-30 10:00:00', '2026-11-25 25:00:00', '2026-11-25 10:00:00 Europe/Paris', '2026-11-25 10:00:00+16:00']) {
    assert.throws(() => parseRecoveryTime(bad), UsageError, bad);
  }
});

test('one target at most; settings rendered for postgresql.auto.conf', () => {
  assert.equal(parseRecoveryPlan({}), undefined);
  assert.throws(() => parseRecoveryPlan({ time: '2026-11-25 10:00:00', name: 'x' }), /only one recovery target/);
  const plan = parseRecoveryPlan({ time: '2026-11-25T10:00:00Z', timeline: 'latest' });
  assert.ok(plan);
  assert.deepEqual(recoverySettings(plan, "pgstow wal-restore 'file:///x y' srv %f %p"), [
    ['restore_command', "'pgstow wal-restore ''file:///x y'' srv %f %p'"],
    ['recovery_target_time', "'2026-11-25 10:00:00.000000+00:00'"],
    ['recovery_target_inclusive', 'on'],
    ['recovery_target_timeline', "'latest'"],
    ['recovery_target_action', "'promote'"],
  ]);
  const imm = parseRecoveryPlan({ immediate: true, action: 'pause' });
  assert.deepEqual(recoverySettings(imm!, 'c').slice(1), [['recovery_target', "'immediate'"], ['recovery_target_action', "'pause'"]]);
  const latest = parseRecoveryPlan({ latest: true });
  assert.deepEqual(recoverySettings(latest!, 'c'), [['restore_command', "'c'"]]);
  const lsn = parseRecoveryPlan({ lsn: '0/3000028', exclusive: true });
  assert.deepEqual(recoverySettings(lsn!, 'c').slice(1, 3), [['recovery_target_lsn', "'0/3000028'"], ['recovery_target_inclusive', 'off']]);
  assert.throws(() => parseRecoveryPlan({ name: 'x'.repeat(64) }), UsageError);
  assert.throws(() => parseRecoveryPlan({ xid: 'abc' }), UsageError);
  assert.throws(() => parseRecoveryPlan({ name: 'rp', exclusive: true }), UsageError);
  assert.throws(() => parseRecoveryPlan({ immediate: true, action: 'explode' }), UsageError);
});
