/**
 * WAL archive and restore on the memory store with injected faults: every download path (restore of each
 * codec and of an unsuffixed object, prefetch, reading an existing copy to compare) and every upload path
 * (the segment, archive-ahead extras, verification) failing half-way, throttled or hanging. A failure rejects
 * the call with one line naming the object, leaves nothing at the destination or in the store, and never
 * reaches the process as an unhandled error.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { archiveWal } from '../../../src/services/archive-wal.js';
import { restoreWal } from '../../../src/services/restore-wal.js';
import { BarmanLayout } from '../../../src/repository/barman-layout.js';
import { MemoryObjectStore, dropMemoryBucket } from '../../../src/storage/drivers/memory/memory-store.js';
import { withFaults, type FaultyObjectStore } from '../../../src/storage/decorators/faulty-store.js';
import { withRetry } from '../../../src/storage/decorators/retrying-store.js';
import { CODECS, getCodec } from '../../../src/pipeline/codecs.js';
import { ExitCode, PgstowError } from '../../../src/errors.js';
import { StorageUnavailableError } from '../../../src/storage/errors.js';
import type { Logger, WarningCode } from '../../../src/logger.js';
import type { ObjectStore } from '../../../src/storage/object-store.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';
import { syntheticSegment } from '../../harness/wal-segments.js';

const SEGMENT = 1024 * 1024;
const layout = new BarmanLayout('', 'srv');
let dir: string;
let bucket = 0;
let unhandled: unknown[] = [];
const onUnhandled = (err: unknown): void => { unhandled.push(err); };

before(() => {
  dir = makeTempDir('wal-faults');
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

function fresh(): { memory: MemoryObjectStore; store: FaultyObjectStore; name: string } {
  const name = `wal-faults-${++bucket}`;
  const memory = new MemoryObjectStore(name);
  after(() => dropMemoryBucket(name));
  return { memory, store: withFaults(memory), name };
}

/** A 1 MiB WAL segment with a compressible half, so every codec's output spans several chunks. */
function segment(name: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, syntheticSegment(name, { segmentSize: SEGMENT, randomPayloadUntil: SEGMENT / 2 }));
  return file;
}

function recordingLog(): Logger & { warnings: Array<[WarningCode, string]> } {
  const warnings: Array<[WarningCode, string]> = [];
  return { warnings, debug() {}, info() {}, error() {}, warning(code, m) { warnings.push([code, m]); } };
}

/** Files in a directory (a temp file left behind would show here). */
function entries(d: string): string[] {
  return fs.existsSync(d) ? fs.readdirSync(d).sort() : [];
}

describe('restore-wal: a download that fails half-way', () => {
  const codecs = [undefined, ...Object.values(CODECS).map((c) => c.name)];
  for (const codecName of codecs) {
    it(`${codecName ?? 'uncompressed'}: rejects naming the object, exit 4 for the CLI, nothing at the destination`, async () => {
      const { store } = fresh();
      const wal = '000000010000000000000001';
      const codec = codecName ? getCodec(codecName) : undefined;
      const archived = await archiveWal({ store, layout }, { walPath: segment(wal), ...(codec ? { codec } : {}) });
      const dest = path.join(makeTempDir('wal-dest'), 'RECOVERYXLOG');
      store.add({ operations: ['get'], key: archived.key, action: { type: 'cut', bytes: 40_000 } });
      const err = await restoreWal({ store, layout }, { walName: wal, destPath: dest }).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof PgstowError, String(err));
      assert.equal(err.exitCode, ExitCode.GENERAL);
      assert.match(err.message, new RegExp(`^downloading ${archived.key} failed after \\d+ bytes: injected: connection reset`));
      assert.ok(!err.message.includes('\n'), 'one line');
      assert.deepEqual(entries(path.dirname(dest)), [], 'no file, not even a temporary one, at the destination');
      // The object itself is fine: the same call without the fault restores it byte-identical.
      store.clear();
      await restoreWal({ store, layout }, { walName: wal, destPath: dest });
      assert.deepEqual(fs.readFileSync(dest), fs.readFileSync(path.join(dir, wal)));
    });
  }

  it('a download that stalls is cancelled by the call\'s signal; nothing at the destination', async () => {
    const { store } = fresh();
    const wal = '000000010000000000000002';
    const archived = await archiveWal({ store, layout }, { walPath: segment(wal), codec: getCodec('gzip') });
    store.add({ operations: ['get'], key: archived.key, action: { type: 'stall', bytes: 10_000 } });
    const dest = path.join(makeTempDir('wal-dest'), 'RECOVERYXLOG');
    const signal = AbortSignal.timeout(300);
    await assert.rejects(restoreWal({ store, layout }, { walName: wal, destPath: dest, signal }), (e: unknown) => e instanceof Error && e.name === 'TimeoutError');
    assert.deepEqual(entries(path.dirname(dest)), []);
  });

  it('a prefetch cut half-way is a warning; the requested segment is restored; the spool holds no partial file', async () => {
    const { store } = fresh();
    for (const n of ['03', '04', '05']) await archiveWal({ store, layout }, { walPath: segment(`0000000100000000000000${n}`), codec: getCodec('zstd') });
    store.add({ operations: ['get'], key: /05\.zst$/, action: { type: 'cut', bytes: 1000 } });
    const spool = makeTempDir('wal-spool');
    const dest = path.join(makeTempDir('wal-dest'), 'RECOVERYXLOG');
    const log = recordingLog();
    const r = await restoreWal({ store, layout, log }, { walName: '000000010000000000000003', destPath: dest, maxParallel: 3, spoolDir: spool, segmentSize: SEGMENT });
    assert.deepEqual(fs.readFileSync(dest), fs.readFileSync(path.join(dir, '000000010000000000000003')));
    assert.deepEqual(r.prefetched, ['000000010000000000000004']);
    assert.ok(log.warnings.some(([code, m]) => code === 'WARN_PREFETCH_FAILED' && m.includes('000000010000000000000005')), JSON.stringify(log.warnings));
    assert.deepEqual(entries(spool), ['000000010000000000000004'], 'only the complete prefetch is in the spool');
  });

  it('throttling (503) on the listing is retried by the retry decorator; without it the call fails with exit 2', async () => {
    const { store } = fresh();
    const wal = '000000010000000000000006';
    await archiveWal({ store, layout }, { walPath: segment(wal) });
    store.add({ operations: ['list'], times: 1, action: { type: 'unavailable' } });
    const dest = path.join(makeTempDir('wal-dest'), 'RECOVERYXLOG');
    await assert.rejects(restoreWal({ store, layout }, { walName: wal, destPath: dest }), (e: unknown) => e instanceof StorageUnavailableError && e.exitCode === ExitCode.NETWORK);
    store.add({ operations: ['list'], times: 1, action: { type: 'unavailable' } });
    await restoreWal({ store: withRetry(store, { baseDelayMs: 1 }), layout }, { walName: wal, destPath: dest });
    assert.equal(fs.statSync(dest).size, SEGMENT);
  });
});

describe('archive-wal: uploads that fail', () => {
  it('the upload body fails half-way: rejects, nothing stored, a later call archives it', async () => {
    const { store, memory } = fresh();
    const wal = '000000010000000000000010';
    store.add({ operations: ['put'], times: 1, action: { type: 'cut', bytes: 100_000 } });
    await assert.rejects(archiveWal({ store, layout }, { walPath: segment(wal), codec: getCodec('lz4') }), /upload body of .* failed after 100000 bytes/);
    assert.deepEqual(await keys(memory), [], 'nothing in the store');
    const r = await archiveWal({ store, layout }, { walPath: path.join(dir, wal), codec: getCodec('lz4') });
    assert.equal(r.status, 'uploaded');
  });

  it('reading the existing copy to compare fails half-way: rejects naming the object; nothing is overwritten', async () => {
    const { store, memory } = fresh();
    const wal = '000000010000000000000011';
    const first = await archiveWal({ store, layout }, { walPath: segment(wal), codec: getCodec('gzip') });
    const before = (await memory.stat(first.key)).md5;
    store.add({ operations: ['get'], key: first.key, action: { type: 'cut', bytes: 5000 } });
    const err = await archiveWal({ store, layout }, { walPath: path.join(dir, wal), codec: getCodec('gzip') }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof PgstowError, String(err));
    assert.match(err.message, new RegExp(`^reading ${first.key} failed after \\d+ bytes`));
    assert.equal((await memory.stat(first.key)).md5, before);
  });

  it('verification after the upload hangs: the call is cancelled by its signal, and fails (never acknowledged)', async () => {
    const { store } = fresh();
    // The memory store reports the MD5 in its put result; a store that does not is verified with stat.
    const noMd5: ObjectStore = {
      provider: store.provider, description: store.description, capabilities: store.capabilities,
      put: async (k, b, o) => { const r = await store.put(k, b, o); return { key: r.key, size: r.size }; },
      get: (k, o) => store.get(k, o), stat: (k, o) => store.stat(k, o), exists: (k, o) => store.exists(k, o), list: (p, o) => store.list(p, o),
      delete: (k, o) => store.delete(k, o), close: () => store.close(),
    };
    store.add({ operations: ['stat'], action: { type: 'hang' } });
    await assert.rejects(archiveWal({ store: noMd5, layout }, { walPath: segment('000000010000000000000012'), signal: AbortSignal.timeout(300) }),
      (e: unknown) => e instanceof Error && e.name === 'TimeoutError');
    assert.equal(store.count('stat'), 1, 'the upload was being verified when the call was cancelled');
  });

  it('archive-ahead: an extra that fails half-way is a warning with no spool marker; the requested WAL is archived', async () => {
    const { store } = fresh();
    const walDir = makeTempDir('pg_wal');
    const status = path.join(walDir, 'archive_status');
    fs.mkdirSync(status);
    for (const n of ['20', '21', '22']) {
      fs.copyFileSync(segment(`0000000100000000000000${n}`), path.join(walDir, `0000000100000000000000${n}`));
      fs.writeFileSync(path.join(status, `0000000100000000000000${n}.ready`), '');
    }
    store.add({ operations: ['put'], key: /22$/, action: { type: 'cut', bytes: 1 } });
    const spool = makeTempDir('archive-spool');
    const log = recordingLog();
    const r = await archiveWal({ store, layout, log }, { walPath: path.join(walDir, '000000010000000000000020'), maxParallel: 3, spoolDir: spool });
    assert.equal(r.status, 'uploaded');
    assert.deepEqual(r.extras.map((e) => ('error' in e ? `${e.walName}: failed` : `${e.walName}: ${e.status}`)).sort(),
      ['000000010000000000000021: uploaded', '000000010000000000000022: failed']);
    assert.ok(log.warnings.some(([code]) => code === 'WARN_ARCHIVE_AHEAD_FAILED'));
    assert.deepEqual(entries(spool), ['000000010000000000000021'], 'a marker only for the extra that was stored and verified');
  });
});

async function keys(store: MemoryObjectStore): Promise<string[]> {
  const out: string[] = [];
  for await (const e of store.list('')) if ('key' in e) out.push(e.key);
  return out;
}
