/**
 * A WAL restore with prefetch decodes as many downloads at once as the memory budget holds (issue 15: four lz4
 * segments decoded at once took a wal-restore process to 143-198 MB of RSS at the default 100 MiB budget).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { finished } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { archiveWal } from '../../../src/services/archive-wal.js';
import { restoreWal } from '../../../src/services/restore-wal.js';
import { BarmanLayout } from '../../../src/repository/barman-layout.js';
import { MemoryObjectStore, dropMemoryBucket } from '../../../src/storage/drivers/memory/memory-store.js';
import { getCodec } from '../../../src/pipeline/codecs.js';
import { memoryBudget, MiB } from '../../../src/memory-budget.js';
import type { ObjectStore } from '../../../src/storage/object-store.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';
import { syntheticSegment } from '../../harness/wal-segments.js';

const SEGMENT = 1024 * 1024;
const layout = new BarmanLayout('', 'srv');
const dir = makeTempDir('wal-restore-budget');
after(() => removeDir(dir));
let bucket = 0;

/** The store, and the most downloads it served at once (from get() until the body closes). */
function counting(): { store: ObjectStore; peak: () => number } {
  const name = `wal-restore-budget-${++bucket}`;
  const inner = new MemoryObjectStore(name);
  after(() => dropMemoryBucket(name));
  let open = 0;
  let peak = 0;
  const store = Object.create(inner) as ObjectStore;
  store.get = async (key, options) => {
    open++;
    peak = Math.max(peak, open);
    // As over a network, the answer takes a moment: downloads allowed at once overlap.
    await new Promise((r) => setTimeout(r, 30));
    const body: Readable = await inner.get(key, options).catch((err: unknown) => { open--; throw err; });
    finished(body).catch(() => undefined).finally(() => { open--; });
    return body;
  };
  return { store, peak: () => peak };
}

async function archived(store: ObjectStore, codec: 'lz4' | 'gzip' | undefined): Promise<string[]> {
  const names = ['03', '04', '05', '06'].map((n) => `0000000100000000000000${n}`);
  for (const n of names) {
    const file = path.join(dir, n);
    fs.writeFileSync(file, syntheticSegment(n, { segmentSize: SEGMENT, randomPayloadUntil: SEGMENT / 2 }));
    await archiveWal({ store, layout }, { walPath: file, ...(codec ? { codec: getCodec(codec) } : {}) });
  }
  return names;
}

describe('restore-wal: prefetch within the memory budget', () => {
  for (const [label, memory, most] of [['the default budget (100 MiB)', memoryBudget(), 1], ['a 256 MiB budget', memoryBudget(256 * MiB), 4]] as const) {
    it(`lz4, 4 segments at a time, ${label}: at most ${most} decoding at once; every segment restored or spooled intact`, async () => {
      const { store, peak } = counting();
      const names = await archived(store, 'lz4');
      const spool = makeTempDir('wal-spool');
      const dest = path.join(makeTempDir('wal-dest'), 'RECOVERYXLOG');
      const r = await restoreWal({ store, layout }, { walName: names[0] as string, destPath: dest, maxParallel: 4, spoolDir: spool, segmentSize: SEGMENT, memory });
      assert.deepEqual(fs.readFileSync(dest), fs.readFileSync(path.join(dir, names[0] as string)));
      assert.deepEqual(r.prefetched, names.slice(1));
      for (const n of names.slice(1)) assert.deepEqual(fs.readFileSync(path.join(spool, n)), fs.readFileSync(path.join(dir, n)), n);
      assert.ok(peak() <= most, `${peak()} lz4 downloads at once`);
      if (most > 1) assert.ok(peak() > 1, 'a larger budget decodes several at once');
    });
  }

  it('uncompressed and gzip segments stream through: prefetches run beside the requested one at the default budget', async () => {
    for (const codec of [undefined, 'gzip'] as const) {
      const { store, peak } = counting();
      const names = await archived(store, codec);
      const spool = makeTempDir('wal-spool');
      const dest = path.join(makeTempDir('wal-dest'), 'RECOVERYXLOG');
      const r = await restoreWal({ store, layout }, { walName: names[0] as string, destPath: dest, maxParallel: 4, spoolDir: spool, segmentSize: SEGMENT });
      assert.deepEqual(r.prefetched, names.slice(1));
      assert.ok(peak() > 1, `${codec ?? 'uncompressed'}: ${peak()} at once`);
    }
  });
});
