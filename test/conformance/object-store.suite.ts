/**
 * The one conformance suite every ObjectStore driver passes, against a real server. Each rule of the
 * interface's TSDoc (src/storage/object-store.ts) has a case here. A driver test calls
 * describeObjectStoreConformance() with a factory that opens a store on a fresh, empty key prefix.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { isCommonPrefix } from '../../src/storage/object-store.js';
import { readAll, streamToBuffer } from '../../src/storage/object-store-helpers.js';
import { ObjectExistsError, ObjectNotFoundError } from '../../src/storage/errors.js';

export interface ConformanceTarget {
  store: ObjectStore;
  /** All keys of this run live below this prefix ("" or ending with "/"). */
  prefix: string;
  cleanup?: () => Promise<void>;
}

export interface ConformanceOptions {
  /** Size of the "large" object that must go through multipart/chunked upload (default 12 MiB). */
  largeSize?: number;
  /** Skip the large-object cases (never in CI for cloud drivers). */
  skipLarge?: boolean;
  /** The store computes a content MD5 for objects put in one request and stat reports it (Azure, GCS). */
  contentMd5?: boolean;
}

/**
 * `open` returns a store whose prefix is empty at the start. `open` is called once per suite (before all).
 * The suite returns nothing: it registers describe/it blocks.
 */
export function describeObjectStoreConformance(name: string, open: () => Promise<ConformanceTarget | undefined>, options: ConformanceOptions = {}): void {
  describe(`ObjectStore conformance: ${name}`, () => {
    let target: ConformanceTarget | undefined;
    let store: ObjectStore;
    let p: string;
    before(async () => {
      target = await open();
      if (target) { store = target.store; p = target.prefix; }
    });
    after(async () => {
      if (!target) return;
      // Remove whatever the suite wrote, then release the store.
      const keys: string[] = [];
      for await (const e of store.list(p)) if (!isCommonPrefix(e)) keys.push(e.key);
      await store.delete(keys).catch(() => undefined);
      await target.cleanup?.();
      await store.close();
    });
    const live = (fn: (t: import('node:test').TestContext) => Promise<void>) => async (t: import('node:test').TestContext) => {
      if (!target) { t.skip('store not available'); return; }
      await fn(t);
    };

    it('put bytes then get returns the same bytes', live(async () => {
      const body = randomBytes(1000);
      const res = await store.put(`${p}small/a.bin`, body);
      assert.equal(res.size, 1000);
      assert.deepEqual(await readAll(store, `${p}small/a.bin`), body);
    }));

    it('put of an empty object', live(async () => {
      await store.put(`${p}small/empty`, new Uint8Array(0));
      assert.equal((await store.stat(`${p}small/empty`)).size, 0);
      assert.equal((await readAll(store, `${p}small/empty`)).length, 0);
    }));

    it('put replaces an existing object', live(async () => {
      await store.put(`${p}small/replace`, Buffer.from('first version'));
      await store.put(`${p}small/replace`, Buffer.from('second'));
      assert.equal((await readAll(store, `${p}small/replace`)).toString(), 'second');
    }));

    it('put from a re-openable stream factory', live(async () => {
      const body = randomBytes(300_000);
      await store.put(`${p}small/factory`, () => Readable.from([body.subarray(0, 100_000), body.subarray(100_000)]), { contentLength: body.length });
      assert.deepEqual(await readAll(store, `${p}small/factory`), body);
    }));

    it('get and stat of a missing key throw ObjectNotFoundError; exists is false', live(async () => {
      await assert.rejects(store.get(`${p}missing/nothing`), ObjectNotFoundError);
      await assert.rejects(store.stat(`${p}missing/nothing`), ObjectNotFoundError);
      assert.equal(await store.exists(`${p}missing/nothing`), false);
    }));

    it('stat and exists of a present key', live(async () => {
      await store.put(`${p}small/stat`, Buffer.from('12345'));
      const info = await store.stat(`${p}small/stat`);
      assert.equal(info.key, `${p}small/stat`);
      assert.equal(info.size, 5);
      assert.equal(await store.exists(`${p}small/stat`), true);
    }));

    it(`stat ${options.contentMd5 ? 'reports' : 'may report'} the stored content's MD5, and a reported MD5 is right`, live(async () => {
      const body = randomBytes(4096);
      const md5 = createHash('md5').update(body).digest('hex');
      await store.put(`${p}small/md5`, body);
      const info = await store.stat(`${p}small/md5`);
      if (options.contentMd5) assert.equal(info.md5, md5);
      else if (info.md5 !== undefined) assert.equal(info.md5, md5);
      // Replaced content gets its own MD5, never the old one.
      const other = randomBytes(4096);
      await store.put(`${p}small/md5`, other);
      const after = (await store.stat(`${p}small/md5`)).md5;
      if (options.contentMd5 || after !== undefined) assert.equal(after, createHash('md5').update(other).digest('hex'));
    }));

    it('a put given the MD5 of its bytes stores them; an MD5 reported in the put result is right', live(async () => {
      const body = randomBytes(8192);
      const digest = createHash('md5').update(body).digest();
      const r = await store.put(`${p}small/put-md5`, body, { contentLength: body.length, md5: digest });
      if (options.contentMd5) assert.equal(r.md5, digest.toString('hex'), 'the store reports the MD5 of what it stored');
      else if (r.md5 !== undefined) assert.equal(r.md5, digest.toString('hex'));
      assert.deepEqual(await readAll(store, `${p}small/put-md5`), body);
    }));

    it('a put of a reopenable stream given no MD5 stores its bytes; within capabilities.computedMd5UpTo it answers with the MD5 of what it stored, and stat and get report it', live(async () => {
      const upTo = store.capabilities.computedMd5UpTo ?? 0;
      const body = randomBytes(upTo > 0 ? Math.min(upTo, 300 * 1024 + 17) : 300 * 1024 + 17);
      const md5 = createHash('md5').update(body).digest('hex');
      // A reopenable stream of known length, as an uncompressed WAL segment is sent from its file.
      const r = await store.put(`${p}small/computed-md5`, () => Readable.from([body.subarray(0, 65536), body.subarray(65536)]), { contentLength: body.length, ifAbsent: true });
      if (upTo <= 0) {
        // A store that does not compute the MD5 itself: archive-wal sends the MD5 it computed before (scanWal).
        assert.deepEqual(await readAll(store, `${p}small/computed-md5`), body);
        return;
      }
      assert.equal(r.md5, md5, 'the put answers with the MD5 the store computed');
      assert.equal((await store.stat(`${p}small/computed-md5`)).md5, md5, 'stat reports it');
      let onGet: string | undefined;
      assert.deepEqual(await readAll(store, `${p}small/computed-md5`, undefined, (info) => { onGet = info.md5; }), body);
      assert.equal(onGet, md5, 'a get reports it');
    }));

    it('range reads', live(async () => {
      const body = Buffer.from('0123456789abcdefghij');
      await store.put(`${p}small/range`, body);
      assert.equal((await streamToBuffer(await store.get(`${p}small/range`, { range: { start: 5, end: 9 } }))).toString(), '56789');
      assert.equal((await streamToBuffer(await store.get(`${p}small/range`, { range: { start: 15 } }))).toString(), 'fghij');
    }));

    it('list without delimiter returns every key under the prefix, sorted', live(async () => {
      const keys = ['list/a/1', 'list/a/2', 'list/b/1', 'list/c', 'list/a/sub/deep'].map((k) => `${p}${k}`);
      for (const k of keys) await store.put(k, Buffer.from(k));
      const seen: string[] = [];
      for await (const e of store.list(`${p}list/`)) { assert.ok(!isCommonPrefix(e)); seen.push(e.key); }
      assert.deepEqual(seen, [...keys].sort());
      const partial: string[] = [];
      for await (const e of store.list(`${p}list/a/`)) if (!isCommonPrefix(e)) partial.push(e.key);
      assert.deepEqual(partial, [`${p}list/a/1`, `${p}list/a/2`, `${p}list/a/sub/deep`]);
    }));

    it('list with delimiter groups sub-directories into common prefixes', live(async () => {
      const entries: string[] = [];
      for await (const e of store.list(`${p}list/`, { delimiter: '/' })) entries.push(isCommonPrefix(e) ? `P:${e.prefix}` : `K:${e.key}`);
      assert.deepEqual(entries.sort(), [`K:${p}list/c`, `P:${p}list/a/`, `P:${p}list/b/`].sort());
    }));

    it('list with a partial-name prefix matches key starts, not directories only', live(async () => {
      await store.put(`${p}names/000000010000000000000001`, Buffer.from('x'));
      await store.put(`${p}names/000000010000000000000001.gz`, Buffer.from('y'));
      await store.put(`${p}names/000000010000000000000002`, Buffer.from('z'));
      const seen: string[] = [];
      for await (const e of store.list(`${p}names/000000010000000000000001`, { delimiter: '/' })) if (!isCommonPrefix(e)) seen.push(e.key);
      assert.deepEqual(seen, [`${p}names/000000010000000000000001`, `${p}names/000000010000000000000001.gz`]);
    }));

    it('list of a missing prefix yields nothing', live(async () => {
      const seen: unknown[] = [];
      for await (const e of store.list(`${p}does-not-exist/`)) seen.push(e);
      assert.equal(seen.length, 0);
    }));

    it('list pages through many keys', live(async () => {
      const n = 1100; // more than one page on S3 (1000) and Azure/GCS defaults
      const body = Buffer.from('p');
      const keys = Array.from({ length: n }, (_, i) => `${p}many/${String(i).padStart(5, '0')}`);
      for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => store.put(k, body)));
      let count = 0;
      let last = '';
      for await (const e of store.list(`${p}many/`)) {
        if (isCommonPrefix(e)) continue;
        assert.ok(e.key > last, 'keys are in ascending order');
        last = e.key;
        count++;
      }
      assert.equal(count, n);
      await store.delete(keys);
      let after = 0;
      for await (const _ of store.list(`${p}many/`)) after++;
      assert.equal(after, 0, 'batch delete removed every key');
    }));

    it('delete is idempotent and ignores missing keys', live(async () => {
      await store.put(`${p}del/x`, Buffer.from('x'));
      await store.delete([`${p}del/x`, `${p}del/never-existed`]);
      assert.equal(await store.exists(`${p}del/x`), false);
      await store.delete([`${p}del/x`]);
      await store.delete([]);
    }));

    it('create-if-absent refuses to overwrite where the store supports it', live(async () => {
      await store.put(`${p}cond/once`, Buffer.from('first'), { ifAbsent: true });
      if (store.capabilities.conditionalCreate) {
        await assert.rejects(store.put(`${p}cond/once`, Buffer.from('second'), { ifAbsent: true }), ObjectExistsError);
        assert.equal((await readAll(store, `${p}cond/once`)).toString(), 'first');
      }
    }));

    it('rejects unsafe keys', live(async () => {
      for (const bad of ['/abs', `${p}a/../b`, `${p}a//b`, `${p}trailing/`]) {
        await assert.rejects(store.put(bad, Buffer.from('x')), /key/);
      }
    }));

    it('a failed streaming upload leaves no object behind', live(async () => {
      const failing = new Readable({
        read() {
          this.push(randomBytes(64 * 1024));
          if (++sent >= 8) this.destroy(new Error('source failed mid-upload'));
        },
      });
      let sent = 0;
      await assert.rejects(store.put(`${p}abort/obj`, failing), /source failed mid-upload/);
      assert.equal(await store.exists(`${p}abort/obj`), false);
    }));

    if (!options.skipLarge) {
      it('large object from a one-shot stream (multipart), read back intact', live(async () => {
        const size = options.largeSize ?? 12 * 1024 * 1024 + 12345;
        const hash = createHash('sha256');
        let produced = 0;
        const chunk = 1024 * 1024;
        const src = new Readable({
          read() {
            if (produced >= size) { this.push(null); return; }
            const n = Math.min(chunk, size - produced);
            const b = randomBytes(n);
            hash.update(b);
            produced += n;
            this.push(b);
          },
        });
        const res = await store.put(`${p}large/obj.bin`, src, { sizeHint: size });
        assert.equal(res.size, size);
        const expected = hash.digest('hex');
        const got = createHash('sha256');
        let read = 0;
        for await (const c of await store.get(`${p}large/obj.bin`)) { got.update(c as Buffer); read += (c as Buffer).length; }
        assert.equal(read, size);
        assert.equal(got.digest('hex'), expected);
        assert.equal((await store.stat(`${p}large/obj.bin`)).size, size);
      }));

      // Drivers reuse a part's buffer for a later part once its request succeeded: with two parts in flight (the
      // next one filling meanwhile) and six parts, a buffer handed back too early would be overwritten while it
      // is sent and corrupt the object.
      it('a multipart upload of many parts, two in flight (part buffers reused), reads back intact', live(async () => {
        const partSize = 5 * 1024 * 1024;
        const size = 5 * partSize + 777;
        const hash = createHash('sha256');
        let produced = 0;
        const src = new Readable({
          read() {
            if (produced >= size) { this.push(null); return; }
            const b = randomBytes(Math.min(300_001, size - produced));
            hash.update(b);
            produced += b.length;
            this.push(b);
          },
        });
        const res = await store.put(`${p}many-parts/obj.bin`, src, { sizeHint: size, partSize, partsInFlight: 2 });
        assert.equal(res.size, size);
        const got = createHash('sha256');
        for await (const c of await store.get(`${p}many-parts/obj.bin`)) got.update(c as Buffer);
        assert.equal(got.digest('hex'), hash.digest('hex'));
      }));
    }
  });
}
