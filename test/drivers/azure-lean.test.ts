/**
 * The lean Azure store (drivers/azure-blob/lean-store.ts, what the registry opens for an account key or a SAS)
 * against the SDK store on Azurite: what WAL archiving and restore read back (put results, a get's info, stat,
 * listings) is the same from both, for Shared Key and a container SAS; and the lean store does that work itself
 * (the SDK store behind it is never opened).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { requireServer, type AzuriteInfo } from '../harness/test-env.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';
import { storeOptionsFromEnv } from '../harness/store-options.js';
import { parseDestination } from '../../src/storage/destination.js';
import { createSdkStore, createStore } from '../../src/storage/drivers/azure-blob/index.js';
import { LeanAzureBlobStore } from '../../src/storage/drivers/azure-blob/lean-store.js';
import type { ObjectInfo, ObjectStore } from '../../src/storage/object-store.js';
import { containerSas } from './azure-helpers.js';

async function stores(info: AzuriteInfo, env: Record<string, string>): Promise<{ lean: ObjectStore; sdk: ObjectStore; prefix: string; close(): Promise<void> }> {
  const prefix = uniquePrefix('az-lean');
  const options = await storeOptionsFromEnv({ provider: 'azure-blob-storage', destinationUrl: `${info.accountUrl}/${TEST_BUCKET}/${prefix}`, env });
  const destination = parseDestination(options.destinationUrl, options.provider);
  const lean = await createStore(destination, options);
  const sdk = await createSdkStore(destination, options);
  return { lean, sdk, prefix: `${destination.prefix}/`, close: async () => { await lean.close(); await sdk.close(); } };
}

/** What a get reports before its body, and the body. */
async function read(store: ObjectStore, key: string, range?: { start: number; end?: number }): Promise<{ info: ObjectInfo | undefined; body: Buffer }> {
  let info: ObjectInfo | undefined;
  const chunks: Buffer[] = [];
  for await (const c of await store.get(key, { ...(range ? { range } : {}), onInfo: (i) => { info = i; } })) chunks.push(c as Buffer);
  return { info, body: Buffer.concat(chunks) };
}

/** ObjectInfo without what differs per blob (its ETag and time). */
const same = (i: ObjectInfo | undefined): unknown => (i ? { ...i, etag: typeof i.etag, lastModified: i.lastModified instanceof Date } : i);

for (const credential of ['Shared Key (AZURE_STORAGE_KEY)', 'a container SAS (AZURE_STORAGE_SAS_TOKEN)'] as const) {
  describe(`lean Azure store, ${credential}`, () => {
    it('answers a WAL archive\'s and restore\'s requests as the SDK store does, without opening it', async (t) => {
      const az = requireServer(t, 'azurite'); if (!az) return;
      const env: Record<string, string> = credential.startsWith('Shared') ? { AZURE_STORAGE_KEY: az.accountKey } : { AZURE_STORAGE_SAS_TOKEN: await containerSas(az, TEST_BUCKET) };
      const s = await stores(az, env);
      try {
        assert.ok(s.lean instanceof LeanAzureBlobStore, 'the registry\'s store for a key or a SAS is the lean one');
        const body = Buffer.from('0123456789abcdef'.repeat(4096));
        const md5 = createHash('md5').update(body).digest('hex');
        const put = { contentLength: body.length, ifAbsent: true, metadata: { pgstowmd5: md5 }, tags: { 'cluster name': 'a+b/c:d' } };
        const results: Record<string, Awaited<ReturnType<ObjectStore['put']>>> = {};
        for (const [name, store] of [['lean', s.lean], ['sdk', s.sdk]] as const) {
          results[name] = await store.put(`${s.prefix}wals/${name}/000000010000000000000001`, () => Readable.from([body]), put);
          await assert.rejects(store.put(`${s.prefix}wals/${name}/000000010000000000000001`, body, put), { name: 'ObjectExistsError', exitCode: 1 });
        }
        assert.equal(results.lean?.md5, md5, 'Put Blob answers with the MD5 Azure computed');
        assert.deepEqual({ ...results.lean, key: '', etag: '' }, { ...results.sdk, key: '', etag: '' });
        const lk = `${s.prefix}wals/lean/000000010000000000000001`;
        // Each store reads both blobs: the same info and bytes whichever wrote it.
        for (const key of [lk, `${s.prefix}wals/sdk/000000010000000000000001`]) {
          const a = await read(s.lean, key);
          const b = await read(s.sdk, key);
          assert.deepEqual(same(a.info), same(b.info));
          assert.equal(a.info?.md5, md5);
          assert.equal(a.info?.metadata?.pgstowmd5, md5);
          assert.ok(a.body.equals(body) && b.body.equals(body));
          const ra = await read(s.lean, key, { start: 100, end: 199 });
          const rb = await read(s.sdk, key, { start: 100, end: 199 });
          assert.deepEqual(same(ra.info), same(rb.info));
          assert.ok(ra.body.equals(body.subarray(100, 200)));
          assert.deepEqual(same(await s.lean.stat(key)), same(await s.sdk.stat(key)));
        }
        assert.equal(await s.lean.exists(`${s.prefix}wals/none`), false);
        for (const options of [{}, { delimiter: '/' as const }]) {
          const list = async (store: ObjectStore): Promise<unknown[]> => {
            const out: unknown[] = [];
            for await (const e of store.list(`${s.prefix}wals/`, options)) out.push('prefix' in e ? e : same(e));
            return out;
          };
          assert.deepEqual(await list(s.lean), await list(s.sdk));
        }
        await s.lean.delete([lk]);
        await s.lean.delete([lk]); // a missing blob too, as deleteIfExists
        assert.equal(await s.sdk.exists(lk), false);
        assert.equal((s.lean as unknown as { sdk?: unknown }).sdk, undefined, 'the SDK store behind the lean one was never opened');
      } finally {
        await s.close();
      }
    });
  });
}
