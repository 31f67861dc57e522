import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BarmanLayout } from '../../../src/repository/barman-layout.js';
import {
  AmbiguousBackupNameError, UnknownBackupError, listWals, loadCatalog, parseWalObjectName, resolveBackupId,
} from '../../../src/repository/backup-catalog.js';
import { openStoreFromEnv } from '../../harness/store-options.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

const FIX = fileURLToPath(new URL('../../../../test/fixtures/barman/3.4/', import.meta.url));
const info = (id: string): string => readFileSync(`${FIX}${id}.backup.info`, 'utf8');

test('WAL object names: suffixes Barman knows, and nothing else', () => {
  assert.deepEqual(parseWalObjectName('000000010000000000000003'), { name: '000000010000000000000003', suffix: '' });
  assert.deepEqual(parseWalObjectName('000000010000000000000003.gz'), { name: '000000010000000000000003', suffix: '.gz' });
  assert.deepEqual(parseWalObjectName('000000010000000000000003.00000028.backup.zst'), { name: '000000010000000000000003.00000028.backup', suffix: '.zst' });
  assert.deepEqual(parseWalObjectName('00000002.history.bz2'), { name: '00000002.history', suffix: '.bz2' });
  assert.equal(parseWalObjectName('000000010000000000000003.tmp'), null);
  assert.equal(parseWalObjectName('README'), null);
});

test('catalog from a real (filesystem) store: readable, unreadable, in progress, keep, names', async (t) => {
  const dir = makeTempDir('catalog-unit');
  t.after(() => removeDir(dir));
  const { store, destination } = await openStoreFromEnv({ provider: 'file', destinationUrl: `file://${dir}/p`, env: {} });
  t.after(() => store.close());
  const l = new BarmanLayout(destination.prefix, 'srv');
  const put = (k: string, v: string): Promise<unknown> => store.put(k, Buffer.from(v));
  await put(l.backupInfoKey('20261125T120208'), info('20261125T120208'));
  await put(l.backupTarKey('20261125T120208', 'data'), 'x');
  await put(l.keepAnnotationKey('20261125T120208'), 'full\n');
  await put(l.backupInfoKey('20261125T120215'), info('20261125T120215') + 'brand_new_key=1\n');
  await put(l.backupInfoKey('20261125T120216'), info('20261125T120215').replace('timeline=1', 'timeline=x'));
  await put(l.backupTarKey('20261125T130000', 'data'), 'running');
  await put(l.backupInfoKey('20261125T140000'), 'status=FAILED\nbackup_name=my named backup\n');
  await put(`${l.basePrefix}stray-object`, 'x');
  await put(l.walKey('000000010000000000000001', '.gz'), 'w');
  await put(l.walKey('00000002.history'), 'h');
  await put(`${l.walsPrefix}0000000100000000/notes.txt`, 'n');

  const cat = await loadCatalog(store, l, { concurrency: 2 });
  assert.deepEqual(cat.backups.map((b) => b.id), ['20261125T120208', '20261125T120215', '20261125T140000']);
  assert.equal(cat.backups[0]!.keep, 'full\n', 'first line, not stripped (Barman: anything but "standalone" is a full keep)');
  assert.deepEqual(cat.backups[0]!.dataObjects.map((o) => o.key), [l.backupTarKey('20261125T120208', 'data')]);
  assert.match(cat.backups[1]!.warnings[0]!, /brand_new_key/);
  assert.deepEqual(cat.unreadable.map((u) => u.id), ['20261125T120216']);
  assert.match(cat.unreadable[0]!.error, /timeline/);
  assert.deepEqual(cat.incomplete.map((u) => u.id), ['20261125T130000']);

  assert.equal(resolveBackupId(cat, 'latest'), '20261125T140000');
  assert.equal(resolveBackupId(cat, 'oldest'), '20261125T120208');
  assert.equal(resolveBackupId(cat, 'last-failed'), '20261125T140000');
  assert.equal(resolveBackupId(cat, '20991231T000000'), '20991231T000000');
  assert.throws(() => resolveBackupId(cat, 'my named backup'), AmbiguousBackupNameError);
  assert.throws(() => resolveBackupId(cat, 'nope'), UnknownBackupError);

  const wals = [];
  for await (const w of listWals(store, l)) wals.push([w.name, w.suffix]);
  assert.deepEqual(wals, [['00000002.history', ''], ['000000010000000000000001', '.gz']].sort());
});
