/**
 * A backup's streamed uploads on the lean Azure store (drivers/azure-blob/lean-store.ts: Put Block, Put Block List,
 * the discard on failure, in multipart-upload.ts's loop) on Azurite, for Shared Key and a container SAS: the blob
 * and what a read reports are the SDK store's, and the SDK store is never opened; a body failing after blocks were
 * staged leaves no blob and no uncommitted block; wrong credentials fail as the SDK store fails; a create-only upload
 * over an existing blob is refused; a block the lean path could not stage (503) is staged again through the SDK.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { requireServer, type AzuriteInfo } from '../harness/test-env.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';
import { oneShot } from '../harness/body-sources.js';
import { storeOptionsFromEnv } from '../harness/store-options.js';
import { parseDestination } from '../../src/storage/destination.js';
import { createSdkStore, createStore } from '../../src/storage/drivers/azure-blob/index.js';
import { LeanAzureBlobStore } from '../../src/storage/drivers/azure-blob/lean-store.js';
import { readAll } from '../../src/storage/object-store-helpers.js';
import type { ObjectInfo, ObjectStore } from '../../src/storage/object-store.js';
import { containerSas } from './azure-helpers.js';

const MiB = 1024 * 1024;

async function stores(info: AzuriteInfo, env: Record<string, string>, accountUrl = info.accountUrl): Promise<{ lean: ObjectStore; sdk: ObjectStore; prefix: string; close(): Promise<void> }> {
  const prefix = uniquePrefix('az-blocks');
  const options = await storeOptionsFromEnv({ provider: 'azure-blob-storage', destinationUrl: `${accountUrl}/${TEST_BUCKET}/${prefix}`, env });
  const destination = parseDestination(options.destinationUrl, options.provider);
  const lean = await createStore(destination, options);
  const sdk = await createSdkStore(destination, options);
  return { lean, sdk, prefix: `${destination.prefix}/`, close: async () => { await lean.close(); await sdk.close(); } };
}

/** The blob's committed and uncommitted blocks, read with the account key (the SDK, test side only). */
async function blocks(info: AzuriteInfo, key: string): Promise<{ committed: number; uncommitted: number } | 'no blob'> {
  const { BlockBlobClient, StorageSharedKeyCredential } = await import('@azure/storage-blob');
  const client = new BlockBlobClient(`${info.accountUrl}/${TEST_BUCKET}/${key}`, new StorageSharedKeyCredential(info.account, info.accountKey));
  try {
    const list = await client.getBlockList('all');
    return { committed: list.committedBlocks?.length ?? 0, uncommitted: list.uncommittedBlocks?.length ?? 0 };
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return 'no blob';
    throw err;
  }
}

const sdkOpened = (lean: ObjectStore): boolean => (lean as unknown as { sdk?: unknown }).sdk !== undefined;
/** ObjectInfo without what differs per blob (its ETag and time). */
const same = (i: ObjectInfo): unknown => ({ ...i, key: '', etag: typeof i.etag, lastModified: i.lastModified instanceof Date });

for (const credential of ['Shared Key (AZURE_STORAGE_KEY)', 'a container SAS (AZURE_STORAGE_SAS_TOKEN)'] as const) {
  const envOf = async (az: AzuriteInfo): Promise<Record<string, string>> => (credential.startsWith('Shared')
    ? { AZURE_STORAGE_KEY: az.accountKey } : { AZURE_STORAGE_SAS_TOKEN: await containerSas(az, TEST_BUCKET) });

  describe(`lean Azure block uploads, ${credential}`, () => {
    it('a streamed upload of several blocks is staged and committed without the SDK store; the blob is the SDK store\'s', async (t) => {
      const az = requireServer(t, 'azurite'); if (!az) return;
      const s = await stores(az, await envOf(az));
      try {
        assert.ok(s.lean instanceof LeanAzureBlobStore);
        const data = randomBytes(3 * MiB + 4321);
        const put = { partSize: MiB, partsInFlight: 2, partBuffers: 2, contentType: 'application/x-tar', metadata: { pgstow: 'yes' }, tags: { cluster: 'a b' } };
        const lean = await s.lean.put(`${s.prefix}lean.tar`, oneShot(data), put);
        const sdk = await s.sdk.put(`${s.prefix}sdk.tar`, oneShot(data), put);
        assert.equal(sdkOpened(s.lean), false, 'the SDK store behind the lean one was never opened');
        assert.deepEqual({ ...lean, key: '', etag: typeof lean.etag }, { ...sdk, key: '', etag: typeof sdk.etag });
        assert.deepEqual(await blocks(az, `${s.prefix}lean.tar`), { committed: 4, uncommitted: 0 });
        assert.ok((await readAll(s.sdk, `${s.prefix}lean.tar`)).equals(data));
        assert.deepEqual(same(await s.sdk.stat(`${s.prefix}lean.tar`)), same(await s.sdk.stat(`${s.prefix}sdk.tar`)));
      } finally {
        await s.close();
      }
    });

    it('a body failing after blocks were staged rethrows its error and leaves no blob and no uncommitted block', async (t) => {
      const az = requireServer(t, 'azurite'); if (!az) return;
      const s = await stores(az, await envOf(az));
      try {
        const key = `${s.prefix}broken.tar`;
        await assert.rejects(s.lean.put(key, oneShot(randomBytes(4 * MiB), 2 * MiB + 65536), { partSize: MiB, partsInFlight: 2 }), /^Error: source broke$/);
        assert.equal(await blocks(az, key), 'no blob');
        assert.equal(await s.lean.exists(key), false);
        assert.equal(sdkOpened(s.lean), false);
      } finally {
        await s.close();
      }
    });
  });
}

describe('lean Azure block uploads: errors and fallbacks', () => {
  it('wrong credentials fail with the SDK store\'s error (class, exit code, message)', async (t) => {
    const az = requireServer(t, 'azurite'); if (!az) return;
    const s = await stores(az, { AZURE_STORAGE_KEY: Buffer.from('not the account key').toString('base64') });
    try {
      const fail = async (store: ObjectStore): Promise<Error> => store.put(`${s.prefix}denied.tar`, oneShot(randomBytes(3 * MiB)), { partSize: MiB })
        .then(() => assert.fail('the upload succeeded'), (err: Error) => err);
      const [lean, sdk] = [await fail(s.lean), await fail(s.sdk)];
      assert.equal(lean.name, sdk.name);
      assert.equal((lean as { exitCode?: number }).exitCode, (sdk as { exitCode?: number }).exitCode);
      assert.equal(lean.message, sdk.message);
    } finally {
      await s.close();
    }
  });

  it('a create-only upload of several blocks over an existing blob is refused and leaves it as it was', async (t) => {
    const az = requireServer(t, 'azurite'); if (!az) return;
    const s = await stores(az, { AZURE_STORAGE_KEY: az.accountKey });
    try {
      const key = `${s.prefix}exists.tar`;
      await s.lean.put(key, Buffer.from('first'));
      await assert.rejects(s.lean.put(key, oneShot(randomBytes(3 * MiB)), { partSize: MiB, ifAbsent: true }), { name: 'ObjectExistsError', exitCode: 1 });
      assert.equal((await readAll(s.lean, key)).toString(), 'first');
    } finally {
      await s.close();
    }
  });

  it('a block the lean path could not stage (503) is staged again through the SDK store; the blob is whole', async (t) => {
    const az = requireServer(t, 'azurite'); if (!az) return;
    const target = new URL(az.accountUrl);
    const seen: string[] = [];
    let refused = false;
    const proxy = http.createServer((req, res) => {
      const sdk = String(req.headers['user-agent']).includes('azsdk');
      const block = req.method === 'PUT' && /comp=block(&|$)/.test(String(req.url));
      if (block) seen.push(sdk ? 'sdk' : 'lean');
      if (block && !sdk && !refused) {
        refused = true;
        req.resume();
        req.on('end', () => res.writeHead(503, { 'x-ms-error-code': 'ServerBusy' }).end());
        return;
      }
      const out = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      out.on('error', () => res.destroy());
      req.pipe(out);
    }).listen(0, '127.0.0.1');
    await once(proxy, 'listening');
    t.after(() => { proxy.closeAllConnections(); proxy.close(); });
    const { port } = proxy.address() as { port: number };
    const s = await stores(az, { AZURE_STORAGE_KEY: az.accountKey }, `http://127.0.0.1:${port}${target.pathname}`);
    try {
      const data = randomBytes(3 * MiB + 1);
      await s.lean.put(`${s.prefix}retried.tar`, oneShot(data), { partSize: MiB, partsInFlight: 1 });
      assert.deepEqual(seen, ['lean', 'sdk', 'lean', 'lean', 'lean']);
      assert.ok((await readAll(s.lean, `${s.prefix}retried.tar`)).equals(data));
    } finally {
      await s.close();
    }
  });
});
