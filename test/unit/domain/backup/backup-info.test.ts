import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  BackupInfoError, BackupStatus, emptyBackupInfo, formatBackupId, isBackupId, parseBackupInfo, serializeBackupInfo,
} from '../../../../src/domain/backup/backup-info.js';
import { PyDateTime } from '../../../../src/domain/backup/py-datetime.js';
import { PyDict, pyNumber } from '../../../../src/domain/backup/python-literal.js';

// Tests run from dist/test/...; fixtures stay in the source tree.
const FIXTURES = fileURLToPath(new URL('../../../../../test/fixtures/barman/', import.meta.url));

function fixture(rel: string): string {
  return readFileSync(FIXTURES + rel, 'utf8');
}

test('barman-cloud 3.4 backup.info files round-trip byte for byte', () => {
  const files = readdirSync(FIXTURES + '3.4').filter((f) => f.endsWith('.backup.info'));
  assert.ok(files.length >= 3);
  for (const f of files) {
    const text = fixture(`3.4/${f}`);
    const { info, warnings } = parseBackupInfo(text);
    assert.deepEqual(warnings, []);
    assert.equal(serializeBackupInfo(info), text, f);
  }
});

test('fields are typed: ints, datetimes, literals, tablespaces, names with quotes', () => {
  const { info } = parseBackupInfo(fixture('3.4/20261125T120220.backup.info'));
  assert.equal(info.status, BackupStatus.DONE);
  assert.equal(info.backupName, `it's "quoted" é`);
  assert.equal(info.version, 150018);
  assert.equal(info.timeline, 1);
  assert.equal(info.beginWal, '000000010000000000000006');
  assert.equal(info.endTime?.toDate().toISOString(), '2026-11-25T12:02:20.799Z');
  assert.deepEqual(info.tablespaces, [{ name: 'ts1', oid: 16384, location: '/tmp/catfx/pg/ts1' }]);
  assert.ok(info.backupLabel?.startsWith('START WAL LOCATION: 0/6000028 (file 000000010000000000000006)\nCHECKPOINT'));
  assert.ok(info.copyStats instanceof PyDict);
  assert.equal(pyNumber(info.copyStats.get('copy_time')), 2.244371);
  assert.equal(info.compression, null);
  assert.equal(info.serverName, 'cloud');
});

test('a 3.17 file is read; writing it back drops the keys 3.4 cannot read unless asked', () => {
  const text = fixture('3.17/20261125T102749.backup.info');
  const { info, warnings } = parseBackupInfo(text);
  assert.deepEqual(warnings, []);
  assert.equal(info.clusterSize, 24006345);
  assert.equal(info.dataChecksums, 'on');
  assert.equal(serializeBackupInfo(info, { includeNewerKeys: true }), text);
  const v34 = serializeBackupInfo(info);
  for (const k of ['children_backup_ids', 'cluster_size', 'data_checksums', 'encryption', 'parent_backup_id', 'summarize_wal']) {
    assert.ok(!v34.includes(`\n${k}=`), k);
  }
  assert.equal(v34.split('\n').length, text.split('\n').length - 6);
});

test('tolerant reading: whitespace, comments, blank lines, unknown keys, naive datetimes, defaults', () => {
  const { info, warnings } = parseBackupInfo('# comment\n\n  status = FAILED  \nerror=failure uploading data (boom)\nfuture_key=42\nend_time=2026-11-25 10:00:00\nbegin_time = None\n');
  assert.equal(info.status, 'FAILED');
  assert.equal(info.error, 'failure uploading data (boom)');
  assert.equal(info.beginTime, null);
  assert.equal(info.xlogSegmentSize, 16777216);
  assert.equal(info.extra.future_key, '42');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /future_key/);
  assert.equal(info.endTime?.toString(), '2026-11-25 10:00:00');
  assert.equal(parseBackupInfo('').info.status, 'EMPTY');
  // Unknown keys are never written back (3.4 and 3.15+ would refuse the file).
  assert.ok(!serializeBackupInfo(info).includes('future_key'));
});

test('unreadable files throw BackupInfoError naming the field', () => {
  assert.throws(() => parseBackupInfo('timeline=one\n'), (e: unknown) => e instanceof BackupInfoError && /timeline/.test(e.message));
  assert.throws(() => parseBackupInfo('end_time=yesterday\n'), BackupInfoError);
  assert.throws(() => parseBackupInfo("copy_stats={'a': \n"), BackupInfoError);
  assert.throws(() => parseBackupInfo('just text\n'), BackupInfoError);
});

test('writer: None literals, hidden backup_name, empty containers as None, sorted keys', () => {
  const info = emptyBackupInfo();
  info.status = BackupStatus.DONE;
  info.beginTime = PyDateTime.parse('2026-11-25 10:00:00.5+00:00');
  info.tablespaces = [];
  info.includedFiles = [];
  const text = serializeBackupInfo(info);
  assert.ok(!text.includes('backup_name'));
  assert.ok(text.includes('\ntablespaces=None\n'));
  assert.ok(text.includes('\nincluded_files=None\n'));
  assert.ok(text.includes('\nbegin_time=2026-11-25 10:00:00.500000+00:00\n'));
  const keys = text.trimEnd().split('\n').map((l) => l.split('=')[0]!);
  assert.deepEqual(keys, [...keys].sort());
  assert.equal(keys.length, 27);
  info.backupName = 'bad\nname';
  assert.throws(() => serializeBackupInfo(info), BackupInfoError);
});

test('backup ids', () => {
  assert.equal(formatBackupId(new Date('2026-11-25T10:26:14.900Z'), 0), '20261125T102614');
  assert.equal(formatBackupId(new Date('2026-11-25T23:26:14Z'), 60), '20261126T002614');
  assert.ok(isBackupId('20261125T102614'));
  assert.ok(!isBackupId('my named backup'));
});
