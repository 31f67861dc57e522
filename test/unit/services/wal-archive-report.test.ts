import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyBackupInfo, formatBackupId, serializeBackupInfo } from '../../../src/domain/backup/backup-info.js';
import { PyDateTime } from '../../../src/domain/backup/py-datetime.js';
import { formatSegmentName } from '../../../src/domain/wal/wal-file-name.js';
import { BarmanLayout } from '../../../src/repository/barman-layout.js';
import { loadCatalog } from '../../../src/repository/backup-catalog.js';
import { walArchiveReport } from '../../../src/services/wal-archive-report.js';
import { FsObjectStore } from '../../../src/storage/drivers/fs/fs-store.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

// The filesystem store is a real store (no mock): the report reads what the listing returns.
const root = makeTempDir('wal-report');
after(() => removeDir(root));
let n = 0;
function fresh(): { store: FsObjectStore; layout: BarmanLayout } {
  return { store: new FsObjectStore(`${root}/${n++}`), layout: new BarmanLayout('', 'srv') };
}

const seg = (log: number, s: number, tli = 1): string => formatSegmentName(tli, log, s);

async function putBackup(store: FsObjectStore, layout: BarmanLayout, minute: number, begin: string, end: string, segmentSize = 16 << 20): Promise<string> {
  const when = new Date(Date.UTC(2026, 10, 25, 12, minute));
  const id = formatBackupId(when, 0);
  const info = emptyBackupInfo();
  // backup.info must hold together: the LSNs lie in the named segments.
  const lsn = (wal: string, offset: number): string => `${parseInt(wal.slice(8, 16), 16).toString(16).toUpperCase()}/${(parseInt(wal.slice(16), 16) * segmentSize + offset).toString(16).toUpperCase()}`;
  Object.assign(info, {
    status: 'DONE', timeline: 1, beginWal: begin, endWal: end, xlogSegmentSize: segmentSize, version: 150018,
    beginXlog: lsn(begin, 40), endXlog: lsn(end, 256), beginOffset: 40, endOffset: 256,
    beginTime: PyDateTime.fromDate(when, 0), endTime: PyDateTime.fromDate(new Date(when.getTime() + 30_000), 0),
  });
  await store.put(layout.backupInfoKey(id), Buffer.from(serializeBackupInfo(info)));
  await store.put(layout.backupTarKey(id, 'data'), Buffer.from('tar'));
  return id;
}

test('a gap inside a backup\'s range: that backup is not recoverable, the window starts at the next complete one', async () => {
  const { store, layout } = fresh();
  const a = await putBackup(store, layout, 0, seg(0, 2), seg(0, 4));
  const b = await putBackup(store, layout, 10, seg(0, 8), seg(0, 8));
  // Segment 3 is missing: A (2..4) cannot be restored; B (8) can.
  for (const s of [1, 2, 4, 5, 6, 7, 8, 9]) await store.put(layout.walKey(seg(0, s)), Buffer.from('x'));
  const r = await walArchiveReport(store, layout, await loadCatalog(store, layout));
  assert.equal(r.segmentSize, 16 << 20);
  assert.equal(r.segmentSizeSource, 'backup');
  assert.equal(r.walObjects, 8);
  assert.deepEqual(r.backups, [{ id: a, walComplete: false }, { id: b, walComplete: true }]);
  const [t1] = r.timelines;
  assert.equal(t1!.gapCount, 1);
  assert.deepEqual(t1!.gaps, [{ from: seg(0, 3), to: seg(0, 3), missing: 1 }]);
  assert.equal(r.firstRecoverable?.backupId, b);
  assert.deepEqual(r.lastArchived && [r.lastArchived.timeline, r.lastArchived.wal], [1, seg(0, 9)]);
});

test('the backup\'s own segment size decides log switches (1 MiB: 4096 segments a log)', async () => {
  const { store, layout } = fresh();
  await putBackup(store, layout, 0, seg(0, 0xffe), seg(1, 0), 1 << 20);
  for (const [l, s] of [[0, 0xffe], [0, 0xfff], [1, 0]] as const) await store.put(layout.walKey(seg(l, s)), Buffer.from('x'));
  const r = await walArchiveReport(store, layout, await loadCatalog(store, layout));
  assert.equal(r.timelines[0]!.gapCount, 0);
  assert.equal(r.backups[0]!.walComplete, true);
});

test('no backup: the segment size comes from an uncompressed segment object, not a 16 MiB guess', async () => {
  const { store, layout } = fresh();
  const mib = Buffer.alloc(1 << 20);
  // With 1 MiB segments log 0 ends at FFF, so 0/FFF → 1/0 is continuous; a 16 MiB guess would report a gap.
  for (const [l, s] of [[0, 0xffe], [0, 0xfff], [1, 0]] as const) await store.put(layout.walKey(seg(l, s)), mib);
  const r = await walArchiveReport(store, layout, await loadCatalog(store, layout));
  assert.equal(r.segmentSize, 1 << 20);
  assert.equal(r.segmentSizeSource, 'wal object');
  assert.equal(r.timelines[0]!.gapCount, 0);
  assert.equal(r.timelines[0]!.segments, 3);
  assert.equal(r.firstRecoverable, null);
});

test('no backup and only compressed segments: size unknown, gaps within a log still found, log switches unchecked', async () => {
  const { store, layout } = fresh();
  for (const [l, s] of [[0, 0xfe], [0, 0xff], [1, 0], [1, 1], [1, 4], [2, 2]] as const) await store.put(`${layout.walKey(seg(l, s))}.gz`, Buffer.from('gz'));
  const r = await walArchiveReport(store, layout, await loadCatalog(store, layout));
  assert.equal(r.segmentSize, null);
  assert.equal(r.segmentSizeSource, 'unknown');
  const [t1] = r.timelines;
  assert.equal(t1!.segments, 6);
  // 1/2..1/3 missing inside log 1; 2/0..2/1 missing at the start of log 2; the tails of logs 0 and 1 unknown.
  assert.deepEqual(t1!.gaps, [{ from: seg(1, 2), to: seg(1, 3), missing: 2 }, { from: seg(2, 0), to: seg(2, 1), missing: 2 }]);
  assert.equal(t1!.uncheckedLogSwitches, 2);
});
