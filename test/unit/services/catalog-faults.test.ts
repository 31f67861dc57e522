/**
 * The catalog services and restore on the memory store with injected faults: a backup.info read cut half-way,
 * throttled and hanging listings, a delete interrupted between its steps (and finished by a re-run), a keep
 * annotation that cannot be written, a restore whose tar download breaks off (the destination is emptied
 * again). A synthetic Barman backup (backup.info + data.tar.gz) is built in the store.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { BarmanLayout } from '../../../src/repository/barman-layout.js';
import { MemoryObjectStore, dropMemoryBucket } from '../../../src/storage/drivers/memory/memory-store.js';
import { withFaults, type FaultyObjectStore } from '../../../src/storage/decorators/faulty-store.js';
import { BackupStatus, PyDateTime, emptyBackupInfo, serializeBackupInfo } from '../../../src/domain/backup/backup-info.js';
import { encodeHeader, endOfArchive, padding } from '../../../src/pipeline/tar-header.js';
import { listBackups } from '../../../src/services/list-backups.js';
import { showBackup } from '../../../src/services/show-backup.js';
import { keepBackup } from '../../../src/services/keep-backup.js';
import { deleteBackups, planDeletion } from '../../../src/services/delete-backups.js';
import { checkWalArchive } from '../../../src/services/check-wal-archive.js';
import { checkStore } from '../../../src/services/check-store.js';
import { restoreBackup } from '../../../src/services/restore-backup.js';
import { isDeletionInProgress } from '../../../src/repository/backup-catalog.js';
import { BucketNotFoundError, StorageUnavailableError } from '../../../src/storage/errors.js';
import { PgstowError } from '../../../src/errors.js';
import { silentLogger, type Logger, type WarningCode } from '../../../src/logger.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

const layout = new BarmanLayout('', 'srv');
let n = 0;
let dir: string;
before(() => { dir = makeTempDir('catalog-faults'); });
after(() => removeDir(dir));

function fresh(): { memory: MemoryObjectStore; store: FaultyObjectStore } {
  const name = `catalog-faults-${++n}`;
  const memory = new MemoryObjectStore(name);
  after(() => dropMemoryBucket(name));
  return { memory, store: withFaults(memory) };
}

/** A tar of `files` (name → content) as Barman's data.tar, gzip-compressed. */
function dataTarGz(files: Record<string, Buffer>): Buffer {
  const parts: Buffer[] = [];
  let size = 0;
  for (const [name, body] of Object.entries(files)) {
    const h = encodeHeader({ name, type: 'file', size: body.length, mode: 0o600, uid: 0, gid: 0, uname: '', gname: '', mtime: 1_700_000_000 });
    parts.push(h, body, Buffer.alloc(padding(body.length)));
    size += h.length + body.length + padding(body.length);
  }
  parts.push(endOfArchive(size));
  return zlib.gzipSync(Buffer.concat(parts));
}

/** A DONE (or FAILED) backup with a data.tar.gz, as barman-cloud writes it (no pgstow manifest). */
async function putBackup(store: MemoryObjectStore, id: string, options: { status?: string; name?: string; files?: Record<string, Buffer> } = {}): Promise<string> {
  const info = emptyBackupInfo();
  Object.assign(info, {
    status: options.status ?? BackupStatus.DONE, version: 150018, timeline: 1, systemid: '7000000000000000001', serverName: 'cloud',
    beginWal: '000000010000000000000002', endWal: '000000010000000000000002', beginXlog: '0/2000028', endXlog: '0/2000100',
    beginOffset: 40, endOffset: 256, pgdata: '/var/lib/postgresql/data', xlogSegmentSize: 16 * 1024 * 1024,
    beginTime: PyDateTime.parse(`${id.slice(0, 4)}-${id.slice(4, 6)}-${id.slice(6, 8)} ${id.slice(9, 11)}:${id.slice(11, 13)}:${id.slice(13, 15)}.000000+00:00`),
    endTime: PyDateTime.parse(`${id.slice(0, 4)}-${id.slice(4, 6)}-${id.slice(6, 8)} ${id.slice(9, 11)}:${id.slice(11, 13)}:${id.slice(13, 15)}.500000+00:00`),
    ...(options.name ? { backupName: options.name } : {}),
  });
  const tar = dataTarGz(options.files ?? { PG_VERSION: Buffer.from('15\n'), 'global/pg_control': Buffer.alloc(8192, 1) });
  await store.put(layout.backupTarKey(id, 'data', 0, '.gz'), tar);
  await store.put(layout.backupInfoKey(id), Buffer.from(serializeBackupInfo(info)));
  return layout.backupTarKey(id, 'data', 0, '.gz');
}

function recordingLog(): Logger & { warnings: WarningCode[] } {
  const warnings: WarningCode[] = [];
  return { ...silentLogger, warnings, warning(code) { warnings.push(code); } };
}

describe('catalog reads', () => {
  it('a backup.info read that breaks off half-way: list and show reject naming the object', async () => {
    const { memory, store } = fresh();
    await putBackup(memory, '20260101T000000');
    store.add({ operations: ['get'], key: layout.backupInfoKey('20260101T000000'), action: { type: 'cut', bytes: 20 } });
    for (const call of [() => listBackups({ store, layout }, { withWal: false }), () => showBackup({ store, layout }, { identifier: '20260101T000000' })]) {
      const err = await call().then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof PgstowError, String(err));
      assert.match(err.message, /^reading srv\/base\/20260101T000000\/backup\.info failed after 20 bytes/);
    }
  });

  it('a throttled listing fails with exit 2; a hanging one is cancelled by the signal', async () => {
    const { memory, store } = fresh();
    await putBackup(memory, '20260101T000000');
    store.add({ operations: ['list'], times: 1, action: { type: 'unavailable' } });
    await assert.rejects(listBackups({ store, layout }, { withWal: true }), (e: unknown) => e instanceof StorageUnavailableError && e.exitCode === 2);
    store.add({ operations: ['list'], times: 1, action: { type: 'hang' } });
    await assert.rejects(checkWalArchive({ store, layout }, { signal: AbortSignal.timeout(200) }), (e: unknown) => e instanceof Error && e.name === 'TimeoutError');
  });

  it('check-wal-archive: a missing bucket passes; check-store reports a refused put as a failed step, in words', async () => {
    const { store } = fresh();
    store.add({ operations: ['list'], times: 1, action: { type: 'error', error: () => new BucketNotFoundError({ provider: 'memory', bucket: 'b' }) } });
    assert.equal((await checkWalArchive({ store, layout }, {})).bucketMissing, true);
    store.add({ operations: ['put'], times: 1, action: { type: 'unavailable' } });
    const r = await checkStore({ store, layout });
    assert.equal(r.usable, false);
    assert.equal(r.exitCode, 2);
    assert.deepEqual(r.steps.map((s) => `${s.step}:${s.status}`), ['list:ok', 'put:failed', 'get:skipped', 'delete:skipped']);
    assert.match(r.steps[1]?.detail ?? '', /^network problem: injected: 503 SlowDown/);
  });

  it('keep: the annotation cannot be written: rejects, and the backup stays without keep', async () => {
    const { memory, store } = fresh();
    await putBackup(memory, '20260101T000000', { name: 'nightly' });
    store.add({ operations: ['put'], times: 1, action: { type: 'unavailable' } });
    await assert.rejects(keepBackup({ store, layout }, { identifier: 'nightly', action: { kind: 'add', target: 'full' } }), StorageUnavailableError);
    assert.equal((await keepBackup({ store, layout }, { identifier: 'nightly', action: { kind: 'status' } })).keep, null);
  });
});

describe('delete interrupted between its steps', () => {
  it('fails after marking: the backup reads FAILED (never DONE half-deleted); a re-run with any selection finishes it', async () => {
    const { memory, store } = fresh();
    await putBackup(memory, '20260101T000000');
    await putBackup(memory, '20260102T000000');
    store.add({ operations: ['delete'], times: 1, action: { type: 'unavailable' } });
    await assert.rejects(deleteBackups({ store, layout }, { selection: { kind: 'ids', identifiers: ['20260101T000000'] } }), StorageUnavailableError);
    const mid = await listBackups({ store, layout }, { withWal: false });
    const half = mid.catalog.backups.find((b) => b.id === '20260101T000000');
    assert.ok(half && isDeletionInProgress(half.info), 'marked as being deleted');
    // The plan of any later delete includes finishing it.
    const plan = await planDeletion({ store, layout }, { selection: { kind: 'ids', identifiers: ['20260102T000000'] }, dryRun: true });
    assert.deepEqual(plan.targets, ['20260101T000000', '20260102T000000']);
    await deleteBackups({ store, layout }, { selection: { kind: 'ids', identifiers: ['20260102T000000'] } });
    assert.deepEqual((await listBackups({ store, layout }, { withWal: false })).catalog.backups, []);
  });
});

describe('restore of a backup whose download breaks off', () => {
  it('rejects naming the object; the destination is emptied again; without the fault the same backup restores', async () => {
    const { memory, store } = fresh();
    const key = await putBackup(memory, '20260101T000000', { files: { PG_VERSION: Buffer.from('15\n'), 'base/1/1259': Buffer.alloc(300_000, 3) } });
    store.add({ operations: ['get'], key, times: 1, action: { type: 'cut', bytes: 1000 } });
    const dest = path.join(dir, 'restore-a');
    const log = recordingLog();
    const err = await restoreBackup({ store, layout, log }, { backupId: 'latest', recoveryDir: dest }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof PgstowError, String(err));
    assert.ok(err.message.includes(key), err.message);
    assert.ok(log.warnings.includes('WARN_RESTORE_CLEANED'));
    assert.deepEqual(fs.readdirSync(dest), [], 'nothing of the half-restored backup is left');
    const r = await restoreBackup({ store, layout, log: silentLogger }, { backupId: 'latest', recoveryDir: dest });
    assert.equal(r.backup.backupId, '20260101T000000');
    assert.deepEqual(fs.readFileSync(path.join(dest, 'base', '1', '1259')), Buffer.alloc(300_000, 3));
  });

  it('a gzip object the store stops sending mid-way fails with the store\'s error (exit 2), not as a damaged object', async () => {
    const { memory, store } = fresh();
    const key = await putBackup(memory, '20260101T000000', { files: { PG_VERSION: Buffer.from('15\n'), 'base/1/1259': Buffer.alloc(300_000, 3) } });
    const cut = (): Error => new StorageUnavailableError({ provider: 'memory', operation: 'get', key }, `injected: ${key} broke off`);
    store.add({ operations: ['get'], key, times: 1, action: { type: 'cut', bytes: 1000, error: cut } });
    const err = await restoreBackup({ store, layout, log: silentLogger }, { backupId: 'latest', recoveryDir: path.join(dir, 'restore-cut') }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof StorageUnavailableError, String(err));
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /broke off/);
  });

  it('a name or shortcut goes through the one resolver: latest prefers DONE, unknown names exit 4', async () => {
    const { memory, store } = fresh();
    await putBackup(memory, '20260101T000000', { name: 'a' });
    await putBackup(memory, '20260102T000000', { status: BackupStatus.FAILED });
    const r = await restoreBackup({ store, layout, log: silentLogger }, { backupId: 'latest', recoveryDir: path.join(dir, 'restore-b') });
    assert.equal(r.backup.backupId, '20260101T000000');
    await assert.rejects(restoreBackup({ store, layout, log: silentLogger }, { backupId: 'nope', recoveryDir: path.join(dir, 'restore-c') }),
      (e: unknown) => e instanceof PgstowError && e.code === 'ERR_BACKUP_UNKNOWN' && e.exitCode === 4);
  });
});
