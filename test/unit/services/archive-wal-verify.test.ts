/**
 * archiveWal exits 0 only for an upload it verified: a store whose put result or stat disagrees with what
 * was sent makes the archive fail (IntegrityError, exit 4 through the WAL commands), nothing is acknowledged.
 * A real filesystem store, wrapped so that it misreports what it stored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Readable } from 'node:stream';
import { archiveWal } from '../../../src/services/archive-wal.js';
import { BarmanLayout } from '../../../src/repository/barman-layout.js';
import { openStoreFromEnv } from '../../harness/store-options.js';
import { IntegrityError } from '../../../src/storage/errors.js';
import { OperationError } from '../../../src/errors.js';
import { getCodec } from '../../../src/pipeline/codecs.js';
import type { ObjectInfo, ObjectStore, PutBody, PutOptions, PutResult } from '../../../src/storage/object-store.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';
import { syntheticSegment } from '../../harness/wal-segments.js';

const WAL = '000000010000000000000007';

async function setup(): Promise<{ dir: string; store: ObjectStore; wal: string }> {
  const dir = makeTempDir('archive-verify');
  const wal = path.join(dir, WAL);
  fs.writeFileSync(wal, syntheticSegment(WAL));
  const { store } = await openStoreFromEnv({ provider: 'file', destinationUrl: pathToFileURL(path.join(dir, 'store')).href, env: {} });
  return { dir, store, wal };
}

/** The store as it is, except for what `lie` changes in put results and stats. */
function lying(inner: ObjectStore, lie: { put?: (r: PutResult) => PutResult; stat?: (i: ObjectInfo) => ObjectInfo }): ObjectStore {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'put' && lie.put) return async (k: string, b: PutBody, o?: PutOptions) => lie.put!(await target.put(k, b, o));
      if (prop === 'stat' && lie.stat) return async (k: string) => lie.stat!(await target.stat(k));
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

test('an MD5 in the put result that differs from what was sent fails the archive', async () => {
  const { dir, store, wal } = await setup();
  try {
    const bad = lying(store, { put: (r) => ({ ...r, md5: '0'.repeat(32) }) });
    await assert.rejects(archiveWal({ store: bad, layout: new BarmanLayout('', 'srv') }, { walPath: wal }),
      (err: unknown) => err instanceof IntegrityError && /could not be verified: stored MD5 0{32} differs/.test(err.message));
  } finally { await store.close(); removeDir(dir); }
});

test('without an MD5 in the put result, a stat with the wrong size or MD5 fails the archive', async () => {
  const { dir, store, wal } = await setup();
  try {
    const short = lying(store, { stat: (i) => ({ ...i, size: i.size - 1 }) });
    await assert.rejects(archiveWal({ store: short, layout: new BarmanLayout('a', 'srv') }, { walPath: wal }),
      (err: unknown) => err instanceof IntegrityError && /bytes stored, 1048576 sent/.test(err.message));
    const wrongMd5 = lying(store, { stat: (i) => ({ ...i, md5: 'f'.repeat(32) }) });
    await assert.rejects(archiveWal({ store: wrongMd5, layout: new BarmanLayout('b', 'srv') }, { walPath: wal }),
      (err: unknown) => err instanceof IntegrityError && /stored MD5 f{32} differs/.test(err.message));
    // The honest store: archived and acknowledged.
    const ok = await archiveWal({ store, layout: new BarmanLayout('c', 'srv') }, { walPath: wal });
    assert.equal(ok.status, 'uploaded');
  } finally { await store.close(); removeDir(dir); }
});

test('an uncompressed WAL is streamed from its file (no copy of the segment in memory) and stored byte for byte', async () => {
  const { dir, store, wal } = await setup();
  try {
    const bodies: string[] = [];
    const watched = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'put') return (k: string, b: PutBody, o?: PutOptions) => { bodies.push(b instanceof Uint8Array ? 'bytes' : typeof b); return target.put(k, b, o); };
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const ok = await archiveWal({ store: watched, layout: new BarmanLayout('s', 'srv') }, { walPath: wal });
    assert.equal(ok.status, 'uploaded');
    assert.deepEqual(bodies, ['function']);
    const stored = fs.readFileSync(path.join(dir, 'store', ok.key));
    assert.ok(stored.equals(fs.readFileSync(wal)));
  } finally { await store.close(); removeDir(dir); }
});

test('a WAL file that changes while it is uploaded is not acknowledged', async () => {
  const { dir, store, wal } = await setup();
  try {
    const rewriting = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'put') {
          return (k: string, b: PutBody, o?: PutOptions) => {
            fs.writeFileSync(wal, syntheticSegment(WAL, { seed: 5 }));
            return target.put(k, b, o);
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    await assert.rejects(archiveWal({ store: rewriting, layout: new BarmanLayout('t', 'srv') }, { walPath: wal }),
      (err: unknown) => err instanceof Error && /changed while it was being archived; this WAL is not acknowledged/.test(err.message));
  } finally { await store.close(); removeDir(dir); }
});

/**
 * The store as it is, except that it says it may ignore create-only writes (as s3rver does), so every archive reads
 * its object back; `flipAt` changes one byte of what that read returns (another writer's bytes interleaved).
 */
function ignoringCreateOnly(inner: ObjectStore, flipAt?: number): ObjectStore {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'capabilities') return { ...target.capabilities, conditionalCreate: false };
      if (prop === 'get' && flipAt !== undefined) {
        return async (k: string, o?: Parameters<ObjectStore['get']>[1]) => {
          const source = await target.get(k, o);
          return Readable.from((async function* flipped() {
            let at = 0;
            for await (const chunk of source as AsyncIterable<Buffer>) {
              const c = Buffer.from(chunk);
              if (flipAt >= at && flipAt < at + c.length) c[flipAt - at] = (c[flipAt - at] as number) ^ 0xff;
              at += c.length;
              yield c;
            }
          })());
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

test('on a store that may ignore create-only writes, a read-back differing in one byte is refused, naming the offset; an identical one is acknowledged', async () => {
  const { dir, store, wal } = await setup();
  try {
    for (const [prefix, codec] of [['plain', undefined], ['gzip', getCodec('gzip')]] as const) {
      const offset = codec ? 5 : 700_001; // a compressed object is shorter than a segment
      await assert.rejects(archiveWal({ store: ignoringCreateOnly(store, offset), layout: new BarmanLayout(`${prefix}-bad`, 'srv') }, { walPath: wal, ...(codec ? { codec } : {}) }),
        (err: unknown) => err instanceof OperationError && err.code === 'ERR_WAL_CONFLICT' && err.message.includes(`its bytes differ from ours at offset ${offset}`) && /not acknowledged/.test(err.message));
      const ok = await archiveWal({ store: ignoringCreateOnly(store), layout: new BarmanLayout(`${prefix}-ok`, 'srv') }, { walPath: wal, ...(codec ? { codec } : {}) });
      assert.equal(ok.status, 'uploaded');
    }
  } finally { await store.close(); removeDir(dir); }
});
