/**
 * What the sidecar's Archive does per segment on the lean stores, against real s3rver (ignores create-only writes:
 * every archive is read back) and Azurite (enforces them), through the engine's archiveWal:
 *  - the segment file writes itself into the request from reused buffers (its read stream is never read), and the
 *    store holds it byte for byte;
 *  - another archiver's object that lands between the listing and the put is refused and not overwritten;
 *  - on s3rver, no stat after the put: the read-back after the settle wait (read through lent pieces) is the check,
 *    and another writer's object landing during that wait is still refused (this WAL is not acknowledged).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ReadStream } from 'node:fs';
import { archiveWal } from '../../src/services/archive-wal.js';
import { BarmanLayout } from '../../src/repository/barman-layout.js';
import { OperationError } from '../../src/errors.js';
import { WAL_MD5_METADATA } from '../../src/services/wal-verification.js';
import type { ObjectStore, PutBody, PutOptions } from '../../src/storage/object-store.js';
import { openStoreFromEnv } from '../harness/store-options.js';
import { requireServer } from '../harness/test-env.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';
import { syntheticSegment } from '../harness/wal-segments.js';

const work = makeTempDir('archive-lean-bodies');
after(() => removeDir(work));

const SEGMENT_SIZE = 4 * 1024 * 1024;
let serial = 0;

/** A fresh segment file (a new WAL name each time) and its bytes. */
function segment(seed: number): { file: string; name: string; data: Buffer } {
  const name = `000000010000000A${(++serial).toString(16).toUpperCase().padStart(8, '0')}`;
  const data = syntheticSegment(name, { segmentSize: SEGMENT_SIZE, seed });
  const dir = path.join(work, `${serial}`);
  fs.mkdirSync(dir);
  const file = path.join(dir, name);
  fs.writeFileSync(file, data);
  return { file, name, data };
}

async function openLean(kind: 's3rver' | 'azurite'): Promise<ObjectStore | undefined> {
  const prefix = uniquePrefix(`lean-bodies-${kind}`);
  if (kind === 's3rver') {
    const s3 = requireServer(undefined, 's3rver');
    if (!s3) return undefined;
    return (await openStoreFromEnv({ provider: 'aws-s3', destinationUrl: `s3://${TEST_BUCKET}/${prefix}`, endpointUrl: s3.endpoint,
      env: { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_DEFAULT_REGION: s3.region } })).store;
  }
  const az = requireServer(undefined, 'azurite');
  if (!az) return undefined;
  return (await openStoreFromEnv({ provider: 'azure-blob-storage', destinationUrl: `${az.accountUrl}/${TEST_BUCKET}/${prefix}`,
    env: { AZURE_STORAGE_ACCOUNT: az.account, AZURE_STORAGE_KEY: az.accountKey } })).store;
}

interface Spy {
  store: ObjectStore;
  calls: Record<string, number>;
  /** The body streams the puts of a file made, as the store got them. */
  bodies: ReadStream[];
}

/** The store as it is, its calls counted and the body streams of its puts kept; `hooks` replace some calls. */
function spy(inner: ObjectStore, hooks: { list?: ObjectStore['list']; afterPut?: (key: string) => Promise<void> } = {}): Spy {
  const calls: Record<string, number> = {};
  const bodies: ReadStream[] = [];
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      const name = String(prop);
      return (...args: unknown[]) => {
        calls[name] = (calls[name] ?? 0) + 1;
        if (name === 'list' && hooks.list) return hooks.list(...(args as Parameters<ObjectStore['list']>));
        if (name === 'put') {
          const [key, body, options] = args as [string, PutBody, PutOptions];
          const kept = typeof body === 'function' ? (): ReturnType<typeof body> => { const s = body(); bodies.push(s as ReadStream); return s; } : body;
          return target.put(key, kept, options).then(async (r) => { await hooks.afterPut?.(key); return r; });
        }
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, calls, bodies };
}

async function stored(store: ObjectStore, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await store.get(key) as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

for (const kind of ['s3rver', 'azurite'] as const) {
  describe(`archiving a WAL segment on ${kind} through its lean store`, () => {
    it('the file writes itself into the request from reused buffers (its read stream is never read) and is stored byte for byte', async (t) => {
      const inner = await openLean(kind);
      if (!inner) return t.skip(`${kind} not running`);
      try {
        const s = spy(inner);
        const layout = new BarmanLayout('w', 'srv');
        const seg = segment(1);
        const done = await archiveWal({ store: s.store, layout }, { walPath: seg.file });
        assert.equal(done.status, 'uploaded');
        assert.ok(s.bodies.length >= 1, 'the put had a body stream');
        for (const b of s.bodies) {
          assert.equal(typeof (b as unknown as { writeInto?: unknown }).writeInto, 'function', 'the body can write itself');
          assert.equal(b.bytesRead, 0, 'the body stream itself was never read (fresh Buffers)');
        }
        assert.ok((await stored(inner, done.key)).equals(seg.data), 'the store holds the file byte for byte');
      } finally { await inner.close(); }
    });

    it('another archiver\'s object that lands between the listing and the put is refused and not overwritten', async (t) => {
      const inner = await openLean(kind);
      if (!inner) return t.skip(`${kind} not running`);
      try {
        // The listing sees nothing (the other archiver's object comes just after it): the put itself meets the object.
        const s = spy(inner, { list: async function* none() { /* nothing yet */ } });
        const layout = new BarmanLayout('w', 'srv');
        const seg = segment(2);
        const theirs = syntheticSegment(seg.name, { segmentSize: SEGMENT_SIZE, seed: 99 });
        const key = layout.walKey(seg.name, '');
        const md5 = createHash('md5').update(theirs).digest();
        await inner.put(key, theirs, { contentLength: theirs.length, md5, metadata: { [WAL_MD5_METADATA]: md5.toString('hex') } });
        await assert.rejects(archiveWal({ store: s.store, layout }, { walPath: seg.file }),
          (err: unknown) => err instanceof OperationError && err.code === 'ERR_WAL_CONFLICT');
        assert.ok((await stored(inner, key)).equals(theirs), 'their object is untouched');
      } finally { await inner.close(); }
    });
  });
}

describe('archiving on s3rver (create-only writes ignored): the read-back is the check', () => {
  it('no stat after the put; the object is read back through lent pieces, and the archive succeeds', async (t) => {
    const inner = await openLean('s3rver');
    if (!inner) return t.skip('s3rver not running');
    try {
      const s = spy(inner);
      const seg = segment(3);
      const done = await archiveWal({ store: s.store, layout: new BarmanLayout('w', 'srv') }, { walPath: seg.file });
      assert.equal(done.status, 'uploaded');
      assert.equal(inner.capabilities.conditionalCreate, false, 's3rver ignores create-only writes (the probe found it)');
      assert.equal(s.calls.stat ?? 0, 0, 'no stat: the read-back checks what it would');
      assert.equal(s.calls.getPieces ?? 0, 1, 'one read-back, through lent pieces');
      assert.equal(s.calls.get ?? 0, 0, 'no read-back through get()');
    } finally { await inner.close(); }
  });

  it('another writer\'s object landing after our put (during the settle wait) is refused: this WAL is not acknowledged', async (t) => {
    const inner = await openLean('s3rver');
    if (!inner) return t.skip('s3rver not running');
    try {
      const seg = segment(4);
      const theirs = syntheticSegment(seg.name, { segmentSize: SEGMENT_SIZE, seed: 77 });
      const md5 = createHash('md5').update(theirs).digest();
      // s3rver ignores If-None-Match: a second writer simply replaces the object after our put was answered.
      const s = spy(inner, { afterPut: async (key) => { await inner.put(key, theirs, { contentLength: theirs.length, md5, metadata: { [WAL_MD5_METADATA]: md5.toString('hex') } }); } });
      const layout = new BarmanLayout('w', 'srv');
      await assert.rejects(archiveWal({ store: s.store, layout }, { walPath: seg.file }),
        (err: unknown) => err instanceof OperationError && err.code === 'ERR_WAL_CONFLICT' && /not acknowledged/.test(err.message));
      assert.ok((await stored(inner, layout.walKey(seg.name, ''))).equals(theirs), 'the store holds their object, and this WAL was not acknowledged');
    } finally { await inner.close(); }
  });
});
