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
import { createHash } from 'node:crypto';
import { archiveWal } from '../../../src/services/archive-wal.js';
import { BarmanLayout } from '../../../src/repository/barman-layout.js';
import { openStoreFromEnv } from '../../harness/store-options.js';
import { IntegrityError } from '../../../src/storage/errors.js';
import { OperationError } from '../../../src/errors.js';
import { getCodec } from '../../../src/pipeline/codecs.js';
import type { ObjectInfo, ObjectStore, PutBody, PutOptions, PutResult } from '../../../src/storage/object-store.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';
import { MemoryObjectStore, dropMemoryBucket } from '../../../src/storage/drivers/memory/memory-store.js';
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

/** The memory store (it computes the MD5 of what it stores and answers with it, as Azure's Put Blob), its puts recorded. */
function computingStore(lie?: { firstPutMd5?: string; upTo?: number }): { store: ObjectStore; memory: MemoryObjectStore; puts: PutOptions[] } {
  const name = `archive-verify-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const memory = new MemoryObjectStore(name);
  const puts: PutOptions[] = [];
  const store = new Proxy(memory, {
    get(target, prop, receiver) {
      if (prop === 'capabilities' && lie?.upTo !== undefined) return { ...target.capabilities, computedMd5UpTo: lie.upTo };
      if (prop === 'put') {
        return async (k: string, b: PutBody, o: PutOptions = {}) => {
          puts.push(o);
          const r = await target.put(k, b, o);
          return puts.length === 1 && lie?.firstPutMd5 ? { ...r, md5: lie.firstPutMd5 } : r;
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { store, memory, puts };
}

test('on a store that computes the MD5 of what it stores, a segment is hashed as it is sent (no pass before the upload) and verified by that MD5', async () => {
  const { dir, wal } = await setup();
  const { store, memory, puts } = computingStore();
  try {
    const ok = await archiveWal({ store, layout: new BarmanLayout('h', 'srv') }, { walPath: wal });
    assert.equal(ok.status, 'uploaded');
    assert.equal(puts.length, 1);
    assert.equal(puts[0]?.md5, undefined, 'no MD5 known before the upload');
    assert.equal(puts[0]?.metadata, undefined, 'no record: the store keeps its own MD5');
    assert.equal(puts[0]?.ifAbsent, true);
    const info = await memory.stat(ok.key);
    assert.equal(info.md5, createHash('md5').update(fs.readFileSync(wal)).digest('hex'));
    // Archiving it again finds the identical copy by that MD5 and the bytes.
    assert.equal((await archiveWal({ store, layout: new BarmanLayout('h', 'srv') }, { walPath: wal })).status, 'already-archived');
  } finally { dropMemoryBucket(memory.name); removeDir(dir); }
});

test('hashed as sent: a file beyond what the store hashes gets the pass; a file that is not the segment is refused before anything is sent', async () => {
  const { dir, wal } = await setup();
  const small = computingStore({ upTo: 1024 });
  const bad = computingStore();
  try {
    assert.equal((await archiveWal({ store: small.store, layout: new BarmanLayout('p', 'srv') }, { walPath: wal })).status, 'uploaded');
    assert.equal(small.puts[0]?.md5?.length, 16, 'a segment larger than computedMd5UpTo is hashed first and its MD5 sent');
    const other = path.join(dir, '000000010000000000000008');
    fs.writeFileSync(other, syntheticSegment(WAL)); // the bytes of another segment under this name
    await assert.rejects(archiveWal({ store: bad.store, layout: new BarmanLayout('n', 'srv') }, { walPath: other }), /it is not WAL segment 000000010000000000000008/);
    fs.writeFileSync(other, syntheticSegment('000000010000000000000008').subarray(0, 700_000));
    await assert.rejects(archiveWal({ store: bad.store, layout: new BarmanLayout('n', 'srv') }, { walPath: other }), /truncated or padded/);
    assert.equal(bad.puts.length, 0, 'nothing was sent');
  } finally { dropMemoryBucket(small.memory.name); dropMemoryBucket(bad.memory.name); removeDir(dir); }
});

test('hashed as sent: bytes stored damaged (the store\'s MD5 is not ours) are replaced at once by an upload that carries the MD5 and its record', async () => {
  const { dir, wal } = await setup();
  const { store, memory, puts } = computingStore({ firstPutMd5: '0'.repeat(32) });
  try {
    const ok = await archiveWal({ store, layout: new BarmanLayout('d', 'srv') }, { walPath: wal });
    assert.equal(ok.status, 'uploaded');
    assert.equal(puts.length, 2);
    const md5 = createHash('md5').update(fs.readFileSync(wal)).digest('hex');
    assert.equal(puts[1]?.ifAbsent, false, 'the object this call created is replaced');
    assert.equal(Buffer.from(puts[1]?.md5 ?? []).toString('hex'), md5);
    assert.equal((await memory.stat(ok.key)).metadata?.pgstowmd5, md5);
  } finally { dropMemoryBucket(memory.name); removeDir(dir); }
});

test('hashed as sent: a WAL file that changes while it is uploaded is not acknowledged', async () => {
  const { dir, wal } = await setup();
  const { store, memory } = computingStore();
  try {
    const rewriting = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'put') return (k: string, b: PutBody, o?: PutOptions) => { fs.writeFileSync(wal, syntheticSegment(WAL, { seed: 5 })); return target.put(k, b, o); };
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    await assert.rejects(archiveWal({ store: rewriting, layout: new BarmanLayout('c', 'srv') }, { walPath: wal }),
      (err: unknown) => err instanceof Error && /changed while it was being archived; this WAL is not acknowledged/.test(err.message));
  } finally { dropMemoryBucket(memory.name); removeDir(dir); }
});

/** The memory store whose listings answer `delayMs` late (or fail), with the order of events recorded. */
function slowListing(delayMs: number, fail = false): { store: ObjectStore; memory: MemoryObjectStore; events: string[] } {
  const memory = new MemoryObjectStore(`archive-verify-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const events: string[] = [];
  const store = new Proxy(memory, {
    get(target, prop, receiver) {
      if (prop === 'list') {
        return async function* slow(prefix: string, o?: Parameters<ObjectStore['list']>[1]) {
          await new Promise((r) => setTimeout(r, delayMs));
          events.push('listed');
          if (fail) throw new Error('listing refused');
          yield* target.list(prefix, o);
        };
      }
      if (prop === 'put') return async (k: string, b: PutBody, o?: PutOptions) => { events.push('put'); const r = await target.put(k, b, o); events.push('stored'); return r; };
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { store, memory, events };
}

test('a segment streamed from its file is uploaded while the listing runs, and stored only once the listing found no copy', async () => {
  const { dir, wal } = await setup();
  const { store, memory, events } = slowListing(300);
  try {
    assert.equal((await archiveWal({ store, layout: new BarmanLayout('o', 'srv') }, { walPath: wal })).status, 'uploaded');
    assert.deepEqual(events, ['put', 'listed', 'stored'], 'the upload starts before the listing answers and completes after it');
  } finally { dropMemoryBucket(memory.name); removeDir(dir); }
});

test('an upload under way when the listing finds a copy under another suffix is stopped before its end: nothing written; identical is archived, different refused', async () => {
  const { dir, wal } = await setup();
  const { store, memory, events } = slowListing(300);
  const gz = getCodec('gzip');
  try {
    const layout = new BarmanLayout('g', 'srv');
    await memory.put(layout.walKey(WAL, gz.suffix), await gz.compress(fs.readFileSync(wal)));
    const r = await archiveWal({ store, layout }, { walPath: wal });
    assert.equal(r.status, 'already-archived');
    assert.equal(r.key, layout.walKey(WAL, gz.suffix));
    assert.equal(await memory.exists(layout.walKey(WAL)), false, 'no second copy was written');
    assert.deepEqual(events, ['put', 'listed']);
    const other = new BarmanLayout('g2', 'srv');
    await memory.put(other.walKey(WAL, gz.suffix), await gz.compress(syntheticSegment(WAL, { seed: 9 })));
    await assert.rejects(archiveWal({ store, layout: other }, { walPath: wal }), (err: unknown) => err instanceof OperationError && err.code === 'ERR_WAL_CONFLICT');
    assert.equal(await memory.exists(other.walKey(WAL)), false, 'nothing written beside the different copy');
  } finally { dropMemoryBucket(memory.name); removeDir(dir); }
});

test('a listing that fails stops the upload under way: the call fails with the listing\'s error and nothing is stored', async () => {
  const { dir, wal } = await setup();
  const { store, memory } = slowListing(200, true);
  try {
    await assert.rejects(archiveWal({ store, layout: new BarmanLayout('f', 'srv') }, { walPath: wal }), /listing refused/);
    assert.deepEqual([...await (async () => { const k: string[] = []; for await (const e of memory.list('')) k.push('key' in e ? e.key : e.prefix); return k; })()], []);
  } finally { dropMemoryBucket(memory.name); removeDir(dir); }
});
