/**
 * The S3 driver's lean multipart uploads (lean-multipart.ts: a backup's volumes without the AWS SDK client) against
 * the SDK store on the same real s3rver and moto: the same stored bytes, ETag, metadata and object info, the same
 * errors for wrong credentials (the lean path hands them to the SDK client), a failed body aborts the upload and
 * leaves neither an object nor an upload — and none of it opens the SDK store when the server answers as S3 does.
 * Against a scripted server: a hung part fails once within the read timeout and the upload is aborted.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { createSdkStore, createStore } from '../../src/storage/drivers/s3/index.js';
import { LeanS3Store } from '../../src/storage/drivers/s3/lean-multipart.js';
import { s3sdk } from '../../src/storage/drivers/s3/sdk.js';
import { parseDestination } from '../../src/storage/destination.js';
import { resolveS3Settings } from '../../src/storage/drivers/s3/config.js';
import { MemoryObjectStore } from '../../src/storage/drivers/memory/memory-store.js';
import type { ObjectStore, PutOptions } from '../../src/storage/object-store.js';
import { storeOptionsFromEnv, type EnvStoreDescription } from '../harness/store-options.js';
import { requireServer, type S3ServerInfo } from '../harness/test-env.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';
import { bytes, failure, s3Env } from './s3-helpers.js';

const MiB = 1024 * 1024;

/** Whether the lean store opened the SDK store behind it (lean-reads.ts's private promise, or for an upload's request). */
function sdkOpened(store: ObjectStore): boolean {
  const s = store as unknown as { sdk?: unknown; sdkUsed?: boolean };
  return s.sdk !== undefined || s.sdkUsed === true;
}

/** 12 MiB + 5 bytes: three parts of 5 MiB (the last one short), as a backup's volume streams them. */
const VOLUME = Buffer.from(Array.from({ length: 12 * MiB + 5 }, (_, i) => (i * 31 + (i >> 13)) % 251));
const volume = (): Readable => Readable.from((function* () { for (let o = 0; o < VOLUME.length; o += 256 * 1024) yield VOLUME.subarray(o, o + 256 * 1024); })());
const backupOptions = (): PutOptions => ({
  sizeHint: 2 * 1024 * MiB, partSize: 5 * MiB, partsInFlight: 2, partBuffers: 2, tags: { 'backup type': 'base x', a: 'b=c/d' }, metadata: { pgstow: 'yes' },
});

for (const kind of ['s3rver', 'moto'] as const) {
  describe(`S3 lean multipart uploads on ${kind}: the same answers as the SDK store`, () => {
    let s3: S3ServerInfo | undefined;
    let prefix: string;
    const opened: ObjectStore[] = [];
    const both = async (env = s3 ? s3Env(s3) : {}): Promise<{ lean: ObjectStore; sdk: ObjectStore }> => {
      const d: EnvStoreDescription = { provider: 'aws-s3', destinationUrl: `s3://${TEST_BUCKET}/${prefix}`, endpointUrl: s3?.endpoint ?? '', env };
      const options = await storeOptionsFromEnv(d);
      const destination = parseDestination(d.destinationUrl, 'aws-s3');
      const stores = { lean: await createStore(destination, options), sdk: await createSdkStore(destination, options) };
      opened.push(stores.lean, stores.sdk);
      return stores;
    };
    const uploadsUnder = async (p: string): Promise<string[]> => {
      if (!s3) return [];
      const client = new s3sdk.S3Client({ region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
      try {
        return ((await client.send(new s3sdk.ListMultipartUploadsCommand({ Bucket: TEST_BUCKET, Prefix: p }))).Uploads ?? []).map((u) => u.Key ?? '');
      } catch (err) {
        if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 501) return []; // s3rver keeps no such list
        throw err;
      } finally {
        client.destroy();
      }
    };

    before(() => {
      s3 = requireServer(undefined, kind);
      prefix = uniquePrefix(`leanmpu-${kind}`);
    });
    after(async () => { for (const s of opened) await s.close(); });

    it('a streamed volume of three parts: the same put result, ETag and object info, read back intact, the SDK store never opened', async (t) => {
      if (!s3) return t.skip(`${kind} not running`);
      const { lean, sdk } = await both();
      assert.ok(lean instanceof LeanS3Store);
      const [a, b] = [`${prefix}/base/lean/data.tar`, `${prefix}/base/sdk/data.tar`];
      const put = [await lean.put(a, volume(), backupOptions()), await sdk.put(b, volume(), backupOptions())];
      assert.deepEqual({ ...put[0], key: '' }, { ...put[1], key: '' });
      if (kind === 'moto') assert.match(put[0]?.etag ?? '', /-3"$/, 'a multipart ETag of three parts'); // s3rver's is an MD5 of the whole
      const [sa, sb] = [await lean.stat(a), await sdk.stat(b)];
      assert.deepEqual({ ...sa, key: '', lastModified: undefined }, { ...sb, key: '', lastModified: undefined });
      assert.ok((await bytes(await lean.get(a))).equals(VOLUME));
      assert.equal(sdkOpened(lean), false, 'every request went out without the SDK client');
      assert.deepEqual(await uploadsUnder(`${prefix}/`), []);
    });

    it('a body stream that fails after two parts: its own error, no object and no upload left (on moto without the SDK client)', async (t) => {
      if (!s3) return t.skip(`${kind} not running`);
      const { lean } = await both();
      const key = `${prefix}/base/failed/data.tar`;
      const broken = Readable.from((async function* () {
        for (let i = 0; i < 12; i++) yield VOLUME.subarray(i * MiB, (i + 1) * MiB);
        throw Object.assign(new Error('read error in the data directory'), { code: 'EIO' });
      })());
      const f = await failure(lean.put(key, broken, backupOptions()));
      assert.equal(f.message, 'read error in the data directory');
      assert.equal(await lean.exists(key), false);
      assert.deepEqual(await uploadsUnder(`${prefix}/base/failed/`), [], 'the upload was aborted');
      // s3rver does not implement AbortMultipartUpload (405): the lean store then asks the SDK client, as it does
      // for any answer it does not understand (which gets the same 405, ignored as before).
      assert.equal(sdkOpened(lean), kind === 's3rver');
    });

    it('wrong credentials: the SDK store\'s error (class, message, exit code), and no upload left', async (t) => {
      if (!s3) return t.skip(`${kind} not running`);
      for (const env of [{ ...s3Env(s3), AWS_SECRET_ACCESS_KEY: 'not-the-secret' }, { ...s3Env(s3), AWS_ACCESS_KEY_ID: 'PGSTOWUNKNOWN' }]) {
        const bad = await both(env);
        const key = `${prefix}/base/denied/data.tar`;
        const viaLean = await failure(bad.lean.put(key, volume(), backupOptions()));
        assert.deepEqual(viaLean, await failure(bad.sdk.put(key, volume(), backupOptions())));
        assert.match(viaLean.message, /credentials/);
      }
      assert.deepEqual(await uploadsUnder(`${prefix}/base/denied/`), []);
    });
  });
}

describe('S3 lean multipart uploads against a scripted server', () => {
  it('a part that is never answered fails once within the read timeout, and the upload is aborted', async () => {
    const requests: string[] = [];
    const server = http.createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      req.resume();
      if (req.method === 'POST' && req.url?.endsWith('?uploads=')) {
        res.writeHead(200, { 'content-type': 'application/xml' })
          .end('<?xml version="1.0" encoding="UTF-8"?>\n<InitiateMultipartUploadResult><Bucket>bucket</Bucket><Key>k</Key><UploadId>up-1</UploadId></InitiateMultipartUploadResult>');
      } else if (req.method === 'DELETE') {
        res.writeHead(204).end();
      } // a part: never answered
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const settings = resolveS3Settings(parseDestination('s3://bucket/p', 'aws-s3'),
      { provider: 'aws-s3', destinationUrl: 's3://bucket/p', endpointUrl: endpoint, credentials: { kind: 's3-access-key', accessKeyId: 'AKID', secretAccessKey: 'secret' } });
    const behind = new MemoryObjectStore(`leanmpu-hung-${Date.now()}`);
    const store = new LeanS3Store({ ...settings, readTimeoutMs: 500 }, {
      keys: () => ({ accessKeyId: 'AKID', secretAccessKey: 'secret' }), httpAgent: new http.Agent({ keepAlive: true }), httpsAgent: new http.Agent(),
      openSdkStore: async () => behind,
    });
    try {
      const t0 = Date.now();
      const f = await failure(store.put('p/base/x/data.tar', volume(), backupOptions()));
      assert.ok(Date.now() - t0 < 5000, `bounded: ${Date.now() - t0} ms`);
      assert.equal(f.name, 'StorageUnavailableError');
      assert.match(f.message, /TimeoutError/);
      assert.deepEqual(requests.filter((r) => !r.startsWith('PUT')), ['POST /bucket/p/base/x/data.tar?uploads=', 'DELETE /bucket/p/base/x/data.tar?uploadId=up-1']);
      assert.ok(requests.filter((r) => r.startsWith('PUT')).every((r) => /\?partNumber=[12]&uploadId=up-1$/.test(r)), requests.join('\n'));
    } finally {
      await store.close();
      server.closeAllConnections();
      server.close();
    }
  });
});

describe('S3 lean multipart uploads: an answer the lean path does not understand goes to the SDK client', () => {
  it('CompleteMultipartUpload answered 200 with an <Error>: the SDK store\'s error, the upload aborted', async () => {
    const requests: string[] = [];
    const server = http.createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      req.resume();
      req.on('end', () => {
        if (req.method === 'POST' && req.url?.includes('uploads')) {
          res.writeHead(200, { 'content-type': 'application/xml' })
            .end('<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult><UploadId>up-2</UploadId></InitiateMultipartUploadResult>');
        } else if (req.method === 'PUT') {
          res.writeHead(200, { etag: `"${requests.length}"` }).end();
        } else if (req.method === 'POST') {
          res.writeHead(200, { 'content-type': 'application/xml' }).end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>');
        } else {
          res.writeHead(204).end();
        }
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const d: EnvStoreDescription = { provider: 'aws-s3', destinationUrl: 's3://bucket/p', endpointUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      env: { AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 'secret', AWS_DEFAULT_REGION: 'us-east-1' } };
    const options = await storeOptionsFromEnv(d);
    const destination = parseDestination(d.destinationUrl, 'aws-s3');
    const lean = await createStore(destination, options);
    const sdk = await createSdkStore(destination, options);
    try {
      const viaLean = await failure(lean.put('p/base/y/data.tar', volume(), backupOptions()));
      const leanRequests = requests.splice(0);
      assert.deepEqual(viaLean, await failure(sdk.put('p/base/y/data.tar', volume(), backupOptions())));
      assert.equal(viaLean.name, 'AccessDeniedError');
      assert.equal(sdkOpened(lean), true);
      const completes = (list: string[]): number => list.filter((r) => r === 'POST /bucket/p/base/y/data.tar?uploadId=up-2').length;
      assert.equal(completes(leanRequests), completes(requests) + 1, 'the lean Complete, then the SDK client\'s as the SDK store sends it');
      assert.equal(leanRequests.at(-1), 'DELETE /bucket/p/base/y/data.tar?uploadId=up-2', 'the upload was aborted');
    } finally {
      await lean.close();
      await sdk.close();
      server.closeAllConnections();
      server.close();
    }
  });
});
