import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRestoreBackupInfo, type RestoreBackupInfo } from '../../../../src/domain/recovery/restore-backup-info.js';
import { assertBackupReachesTarget, chooseBackupAuto } from '../../../../src/domain/recovery/backup-selection.js';
import { resolveBackupRef } from '../../../../src/repository/backup-catalog.js';

/** Restore's resolution: the one resolver, with latest preferring a DONE backup. */
const resolveBackupIdentifier = (id: string, cat: readonly RestoreBackupInfo[], server: string): string =>
  resolveBackupRef(server, cat.map((b) => ({ id: b.backupId, status: b.status, name: b.backupName })), id, { latest: 'prefer-done' });
import { parseRecoveryTime } from '../../../../src/domain/recovery/recovery-time.js';
import { parseLsn } from '../../../../src/domain/wal/lsn.js';
import { PgstowError } from '../../../../src/errors.js';

const SAMPLE = `backup_label='START WAL LOCATION: 0/B000028 (file 00000001000000000000000B)\\nLABEL: Barman backup cloud 20261125T102749\\n'
backup_name=my named backup
begin_time=2026-11-25 10:27:49.658618+00:00
begin_wal=00000001000000000000000B
end_time=2026-11-25 10:27:51.485547+00:00
end_wal=00000001000000000000000B
end_xlog=0/B000100
status=DONE
tablespaces=[('ts1', 16384, '/srv/pg/ts1'), ("it's", 16385, '/srv/\\'q\\'')]
timeline=1
version=150018
`;

function info(id: string, end: string, lsn: string, extra: Partial<RestoreBackupInfo> = {}): RestoreBackupInfo {
  return { ...parseRestoreBackupInfo(id, `status=DONE\nend_time=${end}\nend_xlog=${lsn}\ntimeline=1\nversion=150018\n`), ...extra };
}

test('reads what restore needs from a barman backup.info', () => {
  const b = parseRestoreBackupInfo('20261125T102749', SAMPLE);
  assert.equal(b.version, 150018);
  assert.equal(b.backupName, 'my named backup');
  assert.equal(b.status, 'DONE');
  assert.equal(b.endTime?.text, '2026-11-25 10:27:51.485547+00:00');
  assert.equal(b.endLsn, parseLsn('0/B000100'));
  assert.deepEqual(b.tablespaces, [{ name: 'ts1', oid: 16384, location: '/srv/pg/ts1' }, { name: "it's", oid: 16385, location: "/srv/'q'" }]);
  assert.throws(() => parseRestoreBackupInfo('x', "tablespaces=[('a', 'x', '/b')]\n"));
});

test('identifiers: latest, name, id; ambiguous and unknown names fail', () => {
  const cat = [
    info('20260101T000000', '2026-01-01 00:00:05+00:00', '0/3000100', { backupName: 'a' }),
    info('20260102T000000', '2026-01-02 00:00:05+00:00', '0/5000100', { backupName: 'b' }),
    info('20260103T000000', '2026-01-03 00:00:05+00:00', '0/7000100', { status: 'FAILED', backupName: 'b' }),
  ];
  assert.equal(resolveBackupIdentifier('latest', cat, 's'), '20260102T000000');
  assert.equal(resolveBackupIdentifier('oldest', cat, 's'), '20260101T000000');
  assert.equal(resolveBackupIdentifier('last-failed', cat, 's'), '20260103T000000');
  assert.equal(resolveBackupIdentifier('a', cat, 's'), '20260101T000000');
  assert.equal(resolveBackupIdentifier('20990101T000000', cat, 's'), '20990101T000000');
  assert.throws(() => resolveBackupIdentifier('b', cat, 's'), /multiple backups/i);
  assert.throws(() => resolveBackupIdentifier('zzz', cat, 's'), (e: unknown) => e instanceof PgstowError && e.exitCode === 4);
});

test('auto picks the newest done backup ending before the target; a late backup is refused for PITR', () => {
  const cat = [
    info('20260101T000000', '2026-01-01 00:00:05+00:00', '0/3000100'),
    info('20260102T000000', '2026-01-02 00:00:05+00:00', '0/5000100'),
    info('20260103T000000', '2026-01-03 00:00:05+00:00', '0/7000100', { status: 'FAILED' }),
  ];
  assert.equal(chooseBackupAuto(cat, {}).backupId, '20260102T000000');
  assert.equal(chooseBackupAuto(cat, { targetTime: parseRecoveryTime('2026-01-01 12:00:00+00') }).backupId, '20260101T000000');
  assert.equal(chooseBackupAuto(cat, { targetTime: parseRecoveryTime('2026-01-02 01:00:05+01:00') }).backupId, '20260102T000000');
  assert.equal(chooseBackupAuto(cat, { targetLsn: parseLsn('0/4000000') }).backupId, '20260101T000000');
  assert.throws(() => chooseBackupAuto(cat, { targetTime: parseRecoveryTime('2025-12-31 00:00:00') }), /cannot find any candidate backup/);
  assert.throws(() => chooseBackupAuto(cat, { targetTli: 2 }), /on timeline 2/);
  const late = cat[1] as RestoreBackupInfo;
  assert.throws(() => assertBackupReachesTarget(late, { kind: 'time', time: parseRecoveryTime('2026-01-02 00:00:04Z') }), /ended at 2026-01-02 00:00:05\.000000\+00:00, after/);
  assertBackupReachesTarget(late, { kind: 'time', time: parseRecoveryTime('2026-01-02 00:00:05Z') });
  assert.throws(() => assertBackupReachesTarget(late, { kind: 'lsn', lsn: parseLsn('0/5000000') }), /after the recovery target LSN/);
});
