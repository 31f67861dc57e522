import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BarmanLayout } from '../../../src/repository/barman-layout.js';

test('keys are byte-identical to barman-cloud (os.path.join semantics)', () => {
  const l = new BarmanLayout('pfx', 'pg34');
  assert.equal(l.walKey('000000010000000000000003'), 'pfx/pg34/wals/0000000100000000/000000010000000000000003');
  assert.equal(l.walKey('000000010000000100000002', '.gz'), 'pfx/pg34/wals/0000000100000001/000000010000000100000002.gz');
  assert.equal(l.walKey('00000002.history', '.gz'), 'pfx/pg34/wals/00000002.history.gz');
  assert.equal(l.backupInfoKey('20261125T102614'), 'pfx/pg34/base/20261125T102614/backup.info');
  assert.equal(l.backupTarKey('20261125T102614', 'data'), 'pfx/pg34/base/20261125T102614/data.tar');
  assert.equal(l.backupTarKey('20261125T102614', 'data', 2, '.gz'), 'pfx/pg34/base/20261125T102614/data_0002.tar.gz');
  assert.equal(l.backupTarKey('20261125T102614', '16384'), 'pfx/pg34/base/20261125T102614/16384.tar');
  assert.equal(l.keepAnnotationKey('20261125T102614'), 'pfx/pg34/base/20261125T102614/annotations/keep');
  assert.equal(new BarmanLayout('', 'srv').walKey('000000010000000000000001'), 'srv/wals/0000000100000000/000000010000000000000001');
  assert.equal(new BarmanLayout('a/b/', 'srv').serverPrefix, 'a/b/srv/');
});
