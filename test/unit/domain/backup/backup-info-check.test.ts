import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseBackupInfo } from '../../../../src/domain/backup/backup-info.js';
import { backupInfoProblem } from '../../../../src/domain/backup/backup-info-check.js';

const FIXTURES = fileURLToPath(new URL('../../../../../test/fixtures/barman/', import.meta.url));
const files = ['3.4/20261125T120208', '3.4/20261125T120215', '3.4/20261125T120220', '3.17/20261125T102749'];
const read = (f: string): string => readFileSync(`${FIXTURES}${f}.backup.info`, 'utf8');
const check = (text: string): string | undefined => backupInfoProblem(parseBackupInfo(text).info);

describe('backup.info consistency', () => {
  it('accepts what barman-cloud 3.4 and 3.17 wrote', () => {
    for (const f of files) assert.equal(check(read(f)), undefined, f);
  });

  it('names a changed begin_wal, end_wal, offset, label, status, missing field or reversed end', () => {
    const text = read('3.17/20261125T102749');
    const set = (key: string, value: string): string => text.replace(new RegExp(`^${key}=.*$`, 'm'), `${key}=${value}`);
    assert.match(check(set('begin_wal', '00000001000000000000000A')) ?? '', /begin_wal 00000001000000000000000A is not the segment of begin_xlog 0\/B000028/);
    assert.match(check(set('end_wal', '00000001000000000000000C')) ?? '', /end_wal 00000001000000000000000C is not the segment of end_xlog/);
    assert.match(check(set('begin_offset', '41')) ?? '', /begin_offset 41/);
    assert.match(check(set('status', 'DOME')) ?? '', /status 'DOME' is not one Barman writes/);
    assert.match(check(set('end_xlog', 'None')) ?? '', /a DONE backup without end_xlog/);
    assert.match(check(set('begin_xlog', '0/B000030').replace(/^begin_offset=.*$/m, 'begin_offset=48')) ?? '', /backup_label starts at 0\/B000028/);
    assert.match(check(set('end_time', '2020-01-01 00:00:00+00:00')) ?? '', /end_time .* is before begin_time/);
    // A FAILED backup need not have its end.
    assert.equal(check(set('status', 'FAILED').replace(/^end_xlog=.*$/m, 'end_xlog=None')), undefined);
  });
});
