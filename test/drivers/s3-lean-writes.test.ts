/**
 * The S3 driver's lean writes (PutObject, HeadObject and DeleteObject as WAL archiving makes them, without the AWS
 * SDK client: lean-reads.ts) against the SDK store on the same real s3rver and moto (moto enforces If-None-Match,
 * s3rver ignores it): the same stored bytes, metadata, tags and object info, the same put result, the same errors
 * (class, message, exit code) for an existing key, wrong credentials, a missing key — and the happy paths never
 * open the SDK store. Against scripted servers: a hung store fails once within the read timeout, an early 412
 * stops the upload, an error status hands the put to the SDK store with the body produced again, and a failing
 * body stream is the caller's error.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { createSdkStore, createStore } from '../../src/storage/drivers/s3/index.js';
import { LeanReadS3Store } from '../../src/storage/drivers/s3/lean-reads.js';
import { s3sdk } from '../../src/storage/drivers/s3/sdk.js';
import { parseDestination } from '../../src/storage/destination.js';
import { resolveS3Settings } from '../../src/storage/drivers/s3/config.js';
import { MemoryObjectStore } from '../../src/storage/drivers/memory/memory-store.js';
import type { ObjectStore, PutOptions } from '../../src/storage/object-store.js';
import { storeOptionsFromEnv, type EnvStoreDescription } from '../harness/store-options.js';
import { requireServer, type S3ServerInfo } from '../harness/test-env.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';
import { bytes, failure, s3Env } from './s3-helpers.js';



/** Whether the lean store opened the SDK store behind it (its private promise). */
function sdkOpened(store: ObjectStore): boolean {
  return (store as unknown as { sdk?: unknown }).sdk !== undefined;
}

const SEGMENT = Buffer.from(Array.from({ length: 3 * 1024 * 1024 + 17 }, (_, i) => (i * 7) % 253));

for (const kind of ['s3rver', 'moto'] as const) {
  describe(`S3 lean writes on ${kind}: the same answers as the SDK store`, () => {
    let s3: S3ServerInfo | undefined;
    let prefix: string;
    const opened: ObjectStore[] = [];
    const describeStore = (env: Record<string, string>): EnvStoreDescription =>
      ({ provider: 'aws-s3', destinationUrl: `s3://${TEST_BUCKET}/${prefix}`, endpointUrl: s3?.endpoint ?? '', env });
    const both = async (env = s3 ? s3Env(s3) : {}): Promise<{ lean: ObjectStore; sdk: ObjectStore }> => {
      const d = describeStore(env);
      const options = await storeOptionsFromEnv(d);
      const destination = parseDestination(d.destinationUrl, 'aws-s3');
      const stores = { lean: await createStore(destination, options), sdk: await createSdkStore(destination, options) };
      opened.push(stores.lean, stores.sdk);
      return stores;
    };
    const walOptions = (): PutOptions => {
      const md5 = createHash('md5').update(SEGMENT).digest();
      return { contentLength: SEGMENT.length, md5, metadata: { pgstowmd5: md5.toString('hex') }, tags: { 'backup type': 'wal x', a: 'b=c/d+e' }, ifAbsent: true };
    };
    const body = (): Readable => Readable.from([SEGMENT.subarray(0, 1_000_000), SEGMENT.subarray(1_000_000)]);

    before(() => {
      s3 = requireServer(undefined, kind);
      prefix = uniquePrefix(`leanput-${kind}`);
    });
    after(async () => { for (const s of opened) await s.close(); });

    it('a create-only streamed put, stat, exists and a single delete: the same results, and the SDK store never opened', async (t) => {
      if (!s3) return t.skip(`${kind} not running`);
      const { lean, sdk } = await both();
      assert.ok(lean instanceof LeanReadS3Store);
      const [a, b] = [`${prefix}/wals/lean-0001`, `${prefix}/wals/sdk-0001`];
      const put = [await lean.put(a, body, walOptions()), await sdk.put(b, body, walOptions())];
      assert.deepEqual({ ...put[0], key: '' }, { ...put[1], key: '' });
      assert.equal(put[0]?.md5, createHash('md5').update(SEGMENT).digest('hex'), 'the ETag of a single PUT is the MD5');
      const [sa, sb] = [await lean.stat(a), await sdk.stat(b)];
      assert.deepEqual({ ...sa, key: '', lastModified: undefined }, { ...sb, key: '', lastModified: undefined });
      assert.deepEqual(await lean.stat(b), await sdk.stat(b));
      assert.ok((await bytes(await lean.get(a))).equals(SEGMENT));
      const small = await lean.put(`${prefix}/wals/lean-small`, Buffer.from('bytes in memory'), { contentType: 'text/plain' });
      assert.equal(small.size, 15);
      assert.equal((await lean.stat(`${prefix}/wals/lean-small`)).size, 15);
      assert.equal(await lean.exists(a), true);
      assert.equal(await lean.exists(`${prefix}/wals/missing`), false);
      await lean.delete([a]);
      await lean.delete([`${prefix}/wals/never-there`]);
      assert.equal(await lean.exists(a), false);
      assert.equal(sdkOpened(lean), false, 'every request above went out without the SDK client');
      // The tags as the SDK store wrote them (read with the SDK client itself).
      const client = new s3sdk.S3Client({ region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
      try {
        await lean.put(a, body, walOptions());
        const tags = async (key: string): Promise<unknown> => (await client.send(new s3sdk.GetObjectTaggingCommand({ Bucket: TEST_BUCKET, Key: key }))).TagSet;
        assert.deepEqual(await tags(a), await tags(b));
      } finally {
        client.destroy();
      }
    });

    it('a create-only put of an existing key: ObjectExistsError exactly as through the SDK store, without it', async (t) => {
      if (!s3) return t.skip(`${kind} not running`);
      const { lean, sdk } = await both();
      const key = `${prefix}/wals/exists-0001`;
      await sdk.put(key, Buffer.from('first'), {});
      const viaLean = await failure(lean.put(key, body, walOptions()));
      assert.deepEqual(viaLean, await failure(sdk.put(key, body, walOptions())));
      assert.equal(viaLean.name, 'ObjectExistsError');
      assert.equal(sdkOpened(lean), false);
      assert.equal(lean.capabilities.conditionalCreate, kind === 'moto', 'the probe learned whether the server enforces If-None-Match');
      assert.ok((await bytes(await lean.get(key))).equals(Buffer.from('first')), 'nothing overwritten');
    });

    it('wrong credentials and a missing key: the same errors as through the SDK store', async (t) => {
      if (!s3) return t.skip(`${kind} not running`);
      const { lean, sdk } = await both();
      assert.deepEqual(await failure(lean.stat(`${prefix}/wals/missing`)), await failure(sdk.stat(`${prefix}/wals/missing`)));
      for (const env of [{ ...s3Env(s3), AWS_SECRET_ACCESS_KEY: 'not-the-secret' }, { ...s3Env(s3), AWS_ACCESS_KEY_ID: 'PGSTOWUNKNOWN' }]) {
        const bad = await both(env);
        const key = `${prefix}/wals/denied-0001`;
        const viaLean = await failure(bad.lean.put(key, body, { ...walOptions(), ifAbsent: false }));
        assert.deepEqual(viaLean, await failure(bad.sdk.put(key, body, { ...walOptions(), ifAbsent: false })));
        assert.match(viaLean.message, /credentials/);
        assert.deepEqual(await failure(bad.lean.stat(key)), await failure(bad.sdk.stat(key)));
        assert.deepEqual(await failure(bad.lean.exists(key)), await failure(bad.sdk.exists(key)));
        assert.deepEqual(await failure(bad.lean.delete([key])), await failure(bad.sdk.delete([key])));
      }
    });
  });
}

/** An HTTP server answering every request with `answer`; it records what it read of each request body. */
async function scripted(answer: (req: http.IncomingMessage, res: http.ServerResponse, received: () => number) => void):
  Promise<{ endpoint: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    let n = 0;
    req.on('data', (d: Buffer) => { n += d.length; });
    req.on('error', () => {});
    answer(req, res, () => n);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

function leanOn(endpoint: string, behind: ObjectStore, readTimeoutMs = 2000): LeanReadS3Store {
  const settings = resolveS3Settings(parseDestination('s3://bucket/p', 'aws-s3'),
    { provider: 'aws-s3', destinationUrl: 's3://bucket/p', endpointUrl: endpoint, credentials: { kind: 's3-access-key', accessKeyId: 'AKID', secretAccessKey: 'secret' } });
  return new LeanReadS3Store({ ...settings, readTimeoutMs }, {
    keys: () => ({ accessKeyId: 'AKID', secretAccessKey: 'secret' }), httpAgent: new http.Agent({ keepAlive: true }), httpsAgent: new http.Agent(),
    openSdkStore: async () => behind,
  });
}

describe('S3 lean writes against scripted servers', () => {
  const data = Buffer.alloc(3 * 1024 * 1024, 5);

  it('a store that reads the body and never answers: the put fails once, after the read timeout', async () => {
    const server = await scripted(() => undefined);
    const behind = new MemoryObjectStore(`leanput-hung-${Date.now()}`);
    const store = leanOn(server.endpoint, behind, 500);
    try {
      const t0 = Date.now();
      const f = await failure(store.put('p/wals/000000010000000000000001', () => Readable.from([data]), { contentLength: data.length }));
      assert.ok(Date.now() - t0 < 5000, `bounded: ${Date.now() - t0} ms`);
      assert.equal(f.name, 'StorageUnavailableError');
      assert.match(f.message, new RegExp(`cannot reach the object store at ${server.endpoint} \\(TimeoutError\\) during put`));
      assert.equal(await behind.exists('p/wals/000000010000000000000001'), false, 'not repeated through the SDK store');
      assert.equal(server.requests.length, 1);
    } finally {
      await store.close();
      await server.close();
    }
  });

  it('an upload aborted by its signal (the listing found a copy): AbortError, not repeated through the SDK store', async () => {
    const server = await scripted(() => undefined);
    const behind = new MemoryObjectStore(`leanput-abort-${Date.now()}`);
    const store = leanOn(server.endpoint, behind);
    const stop = new AbortController();
    const slow = (): Readable => Readable.from((async function* () {
      for (let i = 0; i < 8; i++) { yield Buffer.alloc(1024 * 1024, i); await new Promise((r) => setTimeout(r, 50)); }
    })());
    try {
      setTimeout(() => stop.abort(), 100);
      const f = await failure(store.put('p/wals/000000010000000000000005', slow, { contentLength: 8 * 1024 * 1024, signal: stop.signal }));
      assert.equal(f.name, 'AbortError');
      assert.equal(await behind.exists('p/wals/000000010000000000000005'), false);
      assert.equal(server.requests.length, 1);
    } finally {
      await store.close();
      await server.close();
    }
  });

  it('a 412 before the body was read: ObjectExistsError, and the rest of the body is not sent', async () => {
    const server = await scripted((_req, res) => { res.writeHead(412, { 'content-type': 'application/xml' }).end('<Error><Code>PreconditionFailed</Code></Error>'); });
    const store = leanOn(server.endpoint, new MemoryObjectStore(`leanput-412-${Date.now()}`));
    let produced = 0;
    // 1 MiB every 5 ms: the whole body takes at least 320 ms to produce, the refusal comes after the first.
    const many = (): Readable => Readable.from((async function* () {
      for (let i = 0; i < 64; i++) { produced++; yield Buffer.alloc(1024 * 1024, i); await new Promise((r) => setTimeout(r, 5)); }
    })());
    try {
      const f = await failure(store.put('p/wals/000000010000000000000002', many, { contentLength: 64 * 1024 * 1024, ifAbsent: true }));
      assert.equal(f.name, 'ObjectExistsError');
      assert.equal(f.message, 'object already exists: s3://bucket/p/wals/000000010000000000000002');
      assert.ok(produced < 64, `the upload stopped early (${produced} of 64 MiB produced)`);
    } finally {
      await store.close();
      await server.close();
    }
  });

  it('an error status: the put goes to the SDK store with its body produced again', async () => {
    const server = await scripted((req, res) => { req.resume(); req.on('end', () => res.writeHead(500).end()); });
    const behind = new MemoryObjectStore(`leanput-500-${Date.now()}`);
    const store = leanOn(server.endpoint, behind);
    let opened = 0;
    try {
      const put = await store.put('p/wals/000000010000000000000003', () => { opened++; return Readable.from([data]); }, { contentLength: data.length });
      assert.equal(put.size, data.length);
      assert.equal(opened, 2, 'the body was produced again for the store behind');
      assert.ok((await bytes(await behind.get('p/wals/000000010000000000000003'))).equals(data));
      assert.equal(await store.exists('p/wals/000000010000000000000003'), true, 'a HEAD answered 500 is asked of the store behind');
    } finally {
      await store.close();
      await server.close();
    }
  });

  it('the body stream fails: its own error, not a store failure and not repeated', async () => {
    const server = await scripted((req) => { req.resume(); });
    const behind = new MemoryObjectStore(`leanput-source-${Date.now()}`);
    const store = leanOn(server.endpoint, behind);
    const broken = (): Readable => Readable.from((async function* () {
      yield Buffer.alloc(1024 * 1024);
      throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
    })());
    try {
      const f = await failure(store.put('p/wals/000000010000000000000004', broken, { contentLength: 2 * 1024 * 1024 }));
      assert.equal(f.message, 'EIO: i/o error, read');
      assert.equal(await behind.exists('p/wals/000000010000000000000004'), false);
    } finally {
      await store.close();
      await server.close();
    }
  });
});
