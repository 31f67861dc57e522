/**
 * A base backup of a real PostgreSQL through the engine onto the memory store with injected faults: a tar
 * volume whose upload body breaks off half-way fails the backup cleanly (backup.info FAILED with the phase, no
 * partial object, PostgreSQL left out of backup mode so the next backup works), and a restore whose download
 * breaks off empties its destination again. The host process sees no unhandled error.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openEngine, PgstowError, type Engine } from '../../src/engine/index.js';
import { FaultInjector } from '../../src/storage/decorators/faulty-store.js';
import { dropMemoryBucket, MemoryObjectStore } from '../../src/storage/drivers/memory/memory-store.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';
import { startArchivingPostgres, type BackupFixture } from './backup-fixtures.js';

let fx: BackupFixture;
const unhandled: unknown[] = [];
const onUnhandled = (err: unknown): void => { unhandled.push(err); };
before(async () => {
  process.on('uncaughtException', onUnhandled);
  process.on('unhandledRejection', onUnhandled);
  fx = await startArchivingPostgres(15, { rows: 20000, tablespace: false });
});
after(async () => {
  process.off('uncaughtException', onUnhandled);
  process.off('unhandledRejection', onUnhandled);
  await fx?.cleanup();
  dropMemoryBucket('engine-backup-faults');
});

test('an upload breaking off mid-volume fails the backup cleanly; a download breaking off empties the restore; both work without the fault', async () => {
  // One injector for the engine's WAL and data stores (the data store opens only when the backup starts).
  const faulty = new FaultInjector();
  const engine: Engine = await openEngine({
    destination: 'memory://engine-backup-faults', serverName: 'pg',
    data: { jobs: 2, immediateCheckpoint: true, maxArchiveSize: 2 * 1024 * 1024 },
    postgres: { host: fx.pg.libpqEnv.PGHOST, port: fx.pg.libpqEnv.PGPORT, user: 'postgres' },
  }, { wrapStore: faulty.wrap });
  after(() => engine.close());
  const memory = new MemoryObjectStore('engine-backup-faults');

  // The second data volume's body breaks off after 100 kB.
  faulty.add({ operations: ['put'], key: /\/data_0001\.tar$/, times: 1, action: { type: 'cut', bytes: 100_000 } });
  const err = await engine.takeBackup().then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof PgstowError && err.code === 'ERR_BACKUP_FAILED' && err.exitCode === 1, String(err));
  assert.match(err.message, /failed uploading data: .*failed after 100000 bytes/);
  const failed = (await engine.listBackups()).backups;
  assert.equal(failed.length, 1);
  assert.equal(failed[0]?.info.status, 'FAILED');
  assert.match(failed[0]?.info.error ?? '', /^failure uploading data \(/);
  const keys: string[] = [];
  for await (const e of memory.list('pg/base/')) if ('key' in e) keys.push(e.key);
  assert.ok(!keys.some((k) => k.endsWith('data_0001.tar')), `no partial volume in the store: ${keys.join(', ')}`);

  // PostgreSQL is out of backup mode: the next backup works.
  const done = await engine.takeBackup();
  assert.equal(done.info.status, 'DONE');
  assert.ok(done.stats.objects >= 2, 'several volumes');

  // A restore whose first volume download breaks off leaves nothing behind.
  const dest = path.join(makeTempDir('backup-faults-restore'), 'data');
  after(() => removeDir(path.dirname(dest)));
  faulty.add({ operations: ['get'], key: /\/data\.tar$/, times: 1, action: { type: 'cut', bytes: 50_000 } });
  const rerr = await engine.restoreBackup({ backupId: done.backupId, destination: dest }).then(() => undefined, (e: unknown) => e);
  assert.ok(rerr instanceof PgstowError, String(rerr));
  assert.match(rerr.message, new RegExp(`pg/base/${done.backupId}/data\\.tar`));
  assert.deepEqual(fs.readdirSync(dest), []);
  const restored = await engine.restoreBackup({ backupId: done.backupId, destination: dest });
  assert.equal(restored.backupId, done.backupId);
  assert.equal(fs.readFileSync(path.join(dest, 'PG_VERSION'), 'utf8').trim(), '15');
  assert.match(fs.readFileSync(path.join(dest, 'backup_label'), 'utf8'), /START WAL LOCATION/);
  assert.deepEqual(unhandled, [], 'no error escaped to the process');
});
