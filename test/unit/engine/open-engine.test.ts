/**
 * The engine as a library: the smallest use, a failure that rejects one call only (the host process and the
 * engine's other calls carry on), cancellation by signal, close() waiting for calls in flight, settings that
 * cannot change under reconfigure(), and the host's GC pacer told of the WAL bytes moved.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { getEventListeners } from 'node:events';
import { memoryBudget, openEngine, StorageUnavailableError, type Engine } from '../../../src/engine/index.js';
import { withFaults, type FaultyObjectStore } from '../../../src/storage/decorators/faulty-store.js';
import { dropMemoryBucket } from '../../../src/storage/drivers/memory/memory-store.js';
import { ConfigError, PgstowError } from '../../../src/errors.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';
import { syntheticSegment } from '../../harness/wal-segments.js';

const SEGMENT = 1024 * 1024;
let dir: string;
let unhandled: unknown[] = [];
const onUnhandled = (err: unknown): void => { unhandled.push(err); };

before(() => {
  dir = makeTempDir('open-engine');
  process.on('uncaughtException', onUnhandled);
  process.on('unhandledRejection', onUnhandled);
});
after(() => {
  process.off('uncaughtException', onUnhandled);
  process.off('unhandledRejection', onUnhandled);
  removeDir(dir);
});
afterEach(() => {
  assert.deepEqual(unhandled, [], 'no error escaped to the process');
  unhandled = [];
});

function walFile(name: string): string {
  const file = path.join(dir, 'pg_wal', name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, syntheticSegment(name, { segmentSize: SEGMENT, randomPayloadUntil: SEGMENT }));
  return file;
}

describe('openEngine', () => {
  it('the smallest use: destination and server name only, CLI defaults for the rest', async () => {
    const store = makeTempDir('engine-store');
    const wal = walFile('000000010000000000000001');
    const dest = path.join(makeTempDir('engine-dest'), 'RECOVERYXLOG');
    const e = await openEngine({ destination: pathToFileURL(store).href, serverName: 'srv' });
    await e.archiveWal(wal);
    await e.restoreWal('000000010000000000000001', dest);
    await e.close();
    assert.deepEqual(fs.readFileSync(dest), fs.readFileSync(wal));
    assert.ok(fs.existsSync(path.join(store, 'srv', 'wals', '0000000100000000', '000000010000000000000001')), 'Barman layout, no compression by default');
  });

  it('a download failing half-way rejects that call only; concurrent calls succeed; the engine keeps working', async () => {
    let faulty: FaultyObjectStore | undefined;
    const e = await openEngine({ destination: 'memory://engine-midstream', serverName: 'srv', wal: { compression: 'gzip' } },
      { wrapStore: (s) => (faulty = withFaults(s)) });
    after(() => dropMemoryBucket('engine-midstream'));
    try {
      const a = walFile('000000010000000000000002');
      const b = walFile('000000010000000000000003');
      const archivedA = await e.archiveWal(a);
      await e.archiveWal(b);
      faulty?.add({ operations: ['get'], key: archivedA.key, times: 1, action: { type: 'cut', bytes: 50_000 } });
      const destDir = makeTempDir('engine-dest');
      const [failed, ok] = await Promise.allSettled([
        e.restoreWal('000000010000000000000002', path.join(destDir, 'a')),
        e.restoreWal('000000010000000000000003', path.join(destDir, 'b')),
      ]);
      assert.equal(failed?.status, 'rejected');
      const err = (failed as PromiseRejectedResult).reason as unknown;
      assert.ok(err instanceof PgstowError && err.code === 'ERR_STORAGE_REQUEST', String(err));
      assert.match(err.message, /^downloading srv\/wals\/0000000100000000\/000000010000000000000002\.gz failed after \d+ bytes/);
      assert.equal(ok?.status, 'fulfilled');
      assert.deepEqual(fs.readdirSync(destDir), ['b'], 'nothing written for the failed call');
      assert.deepEqual(fs.readFileSync(path.join(destDir, 'b')), fs.readFileSync(b));
      // The same engine serves the next call.
      await e.restoreWal('000000010000000000000002', path.join(destDir, 'a'));
      assert.deepEqual(fs.readFileSync(path.join(destDir, 'a')), fs.readFileSync(a));
    } finally {
      await e.close();
    }
  });

  it('the host\'s GC pacer hears of every WAL byte archived and restored (with prefetch too)', async () => {
    const noted: number[] = [];
    const memory = { ...memoryBudget(), pacer: { note: (n: number) => { noted.push(n); } } };
    const e = await openEngine({ destination: 'memory://engine-pacer', serverName: 'srv', wal: { compression: 'zstd' } }, { memory });
    after(() => dropMemoryBucket('engine-pacer'));
    try {
      const names = ['000000010000000000000005', '000000010000000000000006'];
      let sent = 0;
      for (const n of names) sent += (await e.archiveWal(walFile(n))).bytes;
      const archived = noted.reduce((a, b) => a + b, 0);
      assert.ok(sent > 0);
      assert.equal(archived, 2 * SEGMENT + sent, 'archiving: each segment read and its compressed bytes sent');
      const destDir = makeTempDir('engine-dest');
      await e.restoreWal(names[0] as string, path.join(destDir, 'a'), { maxParallel: 2, spoolDir: path.join(destDir, 'spool') });
      assert.equal(noted.reduce((a, b) => a + b, 0) - archived, 2 * SEGMENT, 'restoring: the segment and the one prefetched, decoded');
    } finally {
      await e.close();
    }
  });

  it('a hanging store call is cancelled by the call\'s signal; close() then waits for nothing left', async () => {
    let faulty: FaultyObjectStore | undefined;
    const e = await openEngine({ destination: 'memory://engine-hang', serverName: 'srv' }, { wrapStore: (s) => (faulty = withFaults(s)) });
    after(() => dropMemoryBucket('engine-hang'));
    faulty?.add({ operations: ['list'], action: { type: 'hang' } });
    const t0 = Date.now();
    await assert.rejects(e.listBackups({ signal: AbortSignal.timeout(200) }), (err: unknown) => err instanceof Error && err.name === 'TimeoutError');
    assert.ok(Date.now() - t0 < 5000);
    await e.close();
  });

  it('reconfigure() moves the bound on a store call with --read-timeout: a hanging call fails after twice the new one', async () => {
    let faulty: FaultyObjectStore | undefined;
    const settings = { destination: 'memory://engine-deadline', serverName: 'srv' };
    const e = await openEngine({ ...settings, readTimeoutSeconds: 600 }, { wrapStore: (s) => (faulty = withFaults(s)) });
    after(() => dropMemoryBucket('engine-deadline'));
    await e.reconfigure({ ...settings, readTimeoutSeconds: 0.1 });
    faulty?.add({ operations: ['list'], action: { type: 'hang' } });
    const t0 = Date.now();
    // Bounded by 2 × 0.1 s, not by 2 × 600 s (the signal only keeps a regression from hanging the test).
    await assert.rejects(e.listBackups({ signal: AbortSignal.timeout(5000) }),
      (err: unknown) => err instanceof StorageUnavailableError && /twice --read-timeout 0\.1/.test(err.message));
    assert.ok(Date.now() - t0 < 4000);
    await e.close();
  });

  it('close() waits for calls in flight, then refuses new ones', async () => {
    let faulty: FaultyObjectStore | undefined;
    const e: Engine = await openEngine({ destination: 'memory://engine-close', serverName: 'srv' }, { wrapStore: (s) => (faulty = withFaults(s)) });
    after(() => dropMemoryBucket('engine-close'));
    faulty?.add({ operations: ['put'], action: { type: 'delay', ms: 300 } });
    const archiving = e.archiveWal(walFile('000000010000000000000004'));
    await new Promise((r) => setTimeout(r, 50));
    const closed = e.close();
    const archived = await archiving;
    assert.equal(archived.status, 'uploaded', 'the call in flight finished');
    await closed;
    await assert.rejects(e.listBackups(), (err: unknown) => err instanceof PgstowError && err.code === 'ERR_ENGINE_CLOSED');
  });

  it('a call leaves no listener on the signal it was given (a million calls on one engine must not leak)', async () => {
    const e = await openEngine({ destination: 'memory://engine-listeners', serverName: 'srv' });
    after(() => dropMemoryBucket('engine-listeners'));
    try {
      const signal = new AbortController().signal;
      for (let i = 0; i < 50; i++) {
        await e.listBackups({ signal });
        await e.restoreWal('000000010000000000000001', path.join(dir, 'none'), { signal }).catch(() => undefined);
      }
      assert.equal(getEventListeners(signal, 'abort').length, 0);
    } finally {
      await e.close();
    }
  });

  it('reconfigure() takes new credentials, never another destination or server name', async () => {
    const e = await openEngine({ destination: 'memory://engine-reconf', serverName: 'srv' });
    after(() => dropMemoryBucket('engine-reconf'));
    try {
      await assert.rejects(e.reconfigure({ destination: 'memory://other', serverName: 'srv' }), ConfigError);
      await assert.rejects(e.reconfigure({ destination: 'memory://engine-reconf', serverName: 'other' }), ConfigError);
      await e.reconfigure({ destination: 'memory://engine-reconf', serverName: 'srv', tags: { rotated: 'yes' } });
      assert.deepEqual(e.settings.tags, { rotated: 'yes' });
    } finally {
      await e.close();
    }
  });

  it('bad settings fail at open with exit 3, naming the problem', async () => {
    await assert.rejects(openEngine({ destination: 'ftp://x', serverName: 'srv' }), (err: unknown) => err instanceof PgstowError && err.exitCode === 3 && /ftp/.test(err.message));
    await assert.rejects(openEngine({ destination: 'memory://x', serverName: 'a/b' }), /invalid server name/);
    await assert.rejects(openEngine({ destination: 's3://b', serverName: 'srv', credentials: { kind: 'gcs-anonymous' } }), ConfigError);
  });
});
