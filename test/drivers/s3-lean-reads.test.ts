/**
 * The S3 driver's lean reads (GetObject and ListObjectsV2 without the AWS SDK client, lean-reads.ts) against the
 * SDK store on the same real s3rver: the same bytes, the same object info, the same listings, and for a missing
 * key, wrong credentials or a missing bucket the same error (class, message, exit code). A store that accepts
 * connections and then says nothing, before the response or in the middle of the body, fails within the read
 * timeout with one line naming the store.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createSdkStore, createStore } from '../../src/storage/drivers/s3/index.js';
import { LeanReadS3Store } from '../../src/storage/drivers/s3/lean-reads.js';
import { parseDestination } from '../../src/storage/destination.js';
import { resolveS3Settings } from '../../src/storage/drivers/s3/config.js';
import { MemoryObjectStore } from '../../src/storage/drivers/memory/memory-store.js';
import type { ObjectInfo, ObjectStore } from '../../src/storage/object-store.js';
import { storeOptionsFromEnv, type EnvStoreDescription } from '../harness/store-options.js';
import { requireServer, type S3ServerInfo } from '../harness/test-env.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';
import { bytes, failure, s3Env, scriptedServer } from './s3-helpers.js';

async function bothStores(d: EnvStoreDescription): Promise<{ lean: ObjectStore; sdk: ObjectStore }> {
  const options = await storeOptionsFromEnv(d);
  const destination = parseDestination(d.destinationUrl, 'aws-s3');
  return { lean: await createStore(destination, options), sdk: await createSdkStore(destination, options) };
}



async function listAll(store: ObjectStore, prefix: string, options: { delimiter?: '/'; startAfter?: string } = {}): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const e of store.list(prefix, options)) out.push(e);
  return out;
}

describe('S3 lean reads on s3rver: the same answers as the SDK store', () => {
  let s3: S3ServerInfo | undefined;
  let lean: ObjectStore;
  let sdk: ObjectStore;
  let prefix: string;
  const describeStore = (env: Record<string, string>, bucket = TEST_BUCKET): EnvStoreDescription =>
    ({ provider: 'aws-s3', destinationUrl: `s3://${bucket}/${prefix}`, endpointUrl: s3?.endpoint ?? '', env });

  before(async () => {
    s3 = requireServer(undefined, 's3rver');
    if (!s3) return;
    prefix = uniquePrefix('lean');
    ({ lean, sdk } = await bothStores(describeStore(s3Env(s3))));
    assert.ok(lean instanceof LeanReadS3Store, 'static keys and an endpoint: the lean store');
    await sdk.put(`${prefix}/wals/a b+c&d`, Buffer.from('first object'), { metadata: { pgstowmd5: '0123' } });
    await sdk.put(`${prefix}/wals/dir/x`, Buffer.from('x'));
    await sdk.put(`${prefix}/wals/z`, Buffer.alloc(300_000, 7));
  });
  after(async () => { await lean?.close(); await sdk?.close(); });

  it('get: the same bytes and object info (metadata, ETag, size), whole and by range', async (t) => {
    if (!s3) return t.skip('s3rver not running');
    for (const key of [`${prefix}/wals/a b+c&d`, `${prefix}/wals/z`]) {
      const infos: ObjectInfo[] = [];
      const [a, b] = [await bytes(await lean.get(key, { onInfo: (i) => infos.push(i) })), await bytes(await sdk.get(key, { onInfo: (i) => infos.push(i) }))];
      assert.ok(a.equals(b), key);
      assert.deepEqual(infos[0], infos[1]);
      const range = { start: 3, end: 9 };
      assert.ok((await bytes(await lean.get(key, { range }))).equals(await bytes(await sdk.get(key, { range }))));
    }
  });

  it('list: the same entries with and without delimiter and startAfter', async (t) => {
    if (!s3) return t.skip('s3rver not running');
    for (const options of [{}, { delimiter: '/' as const }, { startAfter: `${prefix}/wals/a b+c&d` }]) {
      assert.deepEqual(await listAll(lean, `${prefix}/wals/`, options), await listAll(sdk, `${prefix}/wals/`, options));
    }
    assert.deepEqual(await listAll(lean, `${prefix}/nothing-here/`), []);
  });

  it('a missing key, wrong credentials and a missing bucket fail exactly as through the SDK', async (t) => {
    if (!s3) return t.skip('s3rver not running');
    assert.deepEqual(await failure(lean.get(`${prefix}/wals/missing`)), await failure(sdk.get(`${prefix}/wals/missing`)));
    const cases = [
      describeStore({ ...s3Env(s3), AWS_SECRET_ACCESS_KEY: 'not-the-secret' }),
      describeStore({ ...s3Env(s3), AWS_ACCESS_KEY_ID: 'PGSTOWUNKNOWN' }),
      describeStore(s3Env(s3), 'no-such-bucket-lean'),
    ];
    for (const d of cases) {
      const stores = await bothStores(d);
      try {
        const viaLean = await failure(stores.lean.get(`${prefix}/wals/z`));
        assert.deepEqual(viaLean, await failure(stores.sdk.get(`${prefix}/wals/z`)));
        assert.match(viaLean.message, /credentials|does not exist/);
        assert.deepEqual(await failure(listAll(stores.lean, `${prefix}/wals/`)), await failure(listAll(stores.sdk, `${prefix}/wals/`)));
      } finally {
        await stores.lean.close();
        await stores.sdk.close();
      }
    }
  });
});

/** A TCP server that reads requests and answers with `reply` (or nothing), then keeps the socket open. */
async function silentServer(reply: (request: string) => string | undefined): Promise<{ endpoint: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    let seen = '';
    socket.on('data', (d: Buffer) => {
      seen += d.toString('latin1');
      if (!seen.includes('\r\n\r\n')) return;
      const answer = reply(seen);
      if (answer !== undefined) socket.write(answer);
    });
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

describe('S3 lean reads: a store that stops answering is bounded by the read timeout', () => {
  const env = { AWS_ACCESS_KEY_ID: 'PGSTOWTEST', AWS_SECRET_ACCESS_KEY: 'secret', AWS_DEFAULT_REGION: 'us-east-1' };
  const open = async (endpoint: string): Promise<ObjectStore> => {
    const d: EnvStoreDescription = { provider: 'aws-s3', destinationUrl: 's3://bucket/p', endpointUrl: endpoint, env, readTimeoutSeconds: 0.5 };
    return createStore(parseDestination(d.destinationUrl, 'aws-s3'), await storeOptionsFromEnv(d));
  };

  it('no response at all: get and list fail after the read timeout, naming the store', async () => {
    const server = await silentServer(() => undefined);
    const store = await open(server.endpoint);
    try {
      for (const attempt of [() => store.get('p/wals/000000010000000000000001'), () => listAll(store, 'p/wals/')]) {
        const t0 = Date.now();
        const f = await failure(attempt());
        assert.ok(Date.now() - t0 < 5000, `bounded: ${Date.now() - t0} ms`);
        assert.equal(f.name, 'StorageUnavailableError');
        assert.match(f.message, new RegExp(`cannot reach the object store at ${server.endpoint} \\(TimeoutError\\)`));
      }
    } finally {
      await store.close();
      await server.close();
    }
  });

  it('headers and a few bytes, then silence: the download fails after the read timeout', async () => {
    const server = await silentServer(() => 'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nETag: "x"\r\n\r\n0123456789');
    const store = await open(server.endpoint);
    try {
      const t0 = Date.now();
      const body = await store.get('p/wals/000000010000000000000001');
      const f = await failure(bytes(body));
      assert.ok(Date.now() - t0 < 5000, `bounded: ${Date.now() - t0} ms`);
      assert.equal(f.name, 'StorageUnavailableError');
      assert.match(f.message, /cannot reach the object store/);
    } finally {
      await store.close();
      await server.close();
    }
  });
});


describe('S3 lean reads: a GET body is exactly what its Content-Length says', () => {
  const env = { AWS_ACCESS_KEY_ID: 'PGSTOWTEST', AWS_SECRET_ACCESS_KEY: 'secret', AWS_DEFAULT_REGION: 'us-east-1' };
  const open = async (endpoint: string): Promise<ObjectStore> => {
    const d: EnvStoreDescription = { provider: 'aws-s3', destinationUrl: 's3://bucket/p', endpointUrl: endpoint, env, readTimeoutSeconds: 2 };
    return createStore(parseDestination(d.destinationUrl, 'aws-s3'), await storeOptionsFromEnv(d));
  };
  const body = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
  const head = (more: string): string => `HTTP/1.1 200 OK\r\nETag: "x"\r\nx-amz-meta-pgstowmd5: abc\r\n${more}\r\n`;

  it('the head and the body split across packets in odd places: the same bytes and object info', async () => {
    const h = head(`Content-Length: ${body.length}\r\n`);
    const server = await scriptedServer([h.slice(0, 7), h.slice(7, 40), `${h.slice(40)}`, body.subarray(0, 1), body.subarray(1, 3000), body.subarray(3000)]);
    const store = await open(server.endpoint);
    try {
      const infos: ObjectInfo[] = [];
      assert.ok((await bytes(await store.get('p/obj', { onInfo: (i) => infos.push(i) }))).equals(body));
      assert.equal(infos[0]?.size, body.length);
      assert.equal(infos[0]?.metadata?.pgstowmd5, 'abc');
    } finally {
      await store.close();
      await server.close();
    }
  });

  it('a chunked answer: the same bytes (read through node:http)', async () => {
    const chunk = (b: Buffer): Buffer => Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]);
    const server = await scriptedServer([head('Transfer-Encoding: chunked\r\n'), chunk(body.subarray(0, 2000)), chunk(body.subarray(2000)), '0\r\n\r\n']);
    const store = await open(server.endpoint);
    try {
      assert.ok((await bytes(await store.get('p/obj'))).equals(body));
    } finally {
      await store.close();
      await server.close();
    }
  });

  it('fewer bytes than Content-Length, then the connection closes: the download fails, never short', { timeout: 10_000 }, async () => {
    const server = await scriptedServer([head(`Content-Length: ${body.length}\r\n`), body.subarray(0, 4000)]);
    const store = await open(server.endpoint);
    try {
      const f = await failure(store.get('p/obj').then(bytes));
      assert.equal(f.name, 'StorageUnavailableError');
      assert.match(f.message, /cannot reach the object store at .* \(ECONNRESET\)/);
    } finally {
      await store.close();
      await server.close();
    }
  });

  it('more bytes than Content-Length: the download fails', { timeout: 10_000 }, async () => {
    const server = await scriptedServer([head('Content-Length: 4000\r\n'), body]);
    const store = await open(server.endpoint);
    try {
      const f = await failure(store.get('p/obj').then(bytes));
      assert.match(f.message, /more bytes than its Content-Length/);
    } finally {
      await store.close();
      await server.close();
    }
  });
});

describe('S3 lean reads: a listing that breaks off after its first page', () => {
  it('goes on through the SDK store after the last entry already yielded: nothing twice, nothing skipped', async () => {
    // Page 1 from a server speaking S3's XML, then a 500: the rest comes from the store behind (here a memory store
    // holding the same keys, standing in for the SDK store, which would ask the same server again).
    const keys = ['p/w/1', 'p/w/2', 'p/w/3', 'p/w/4', 'p/w/5'];
    let pages = 0;
    const server = http.createServer((req, res) => {
      pages++;
      if (new URL(req.url ?? '/', 'http://x').searchParams.has('continuation-token')) { res.writeHead(500).end(); return; }
      res.writeHead(200, { 'content-type': 'application/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>bucket</Name>${
        keys.slice(0, 2).map((k) => `<Contents><Key>${k}</Key><Size>1</Size></Contents>`).join('')
      }<IsTruncated>true</IsTruncated><NextContinuationToken>next</NextContinuationToken></ListBucketResult>`);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const behind = new MemoryObjectStore(`lean-fallback-${Date.now()}`);
    for (const k of keys) await behind.put(k, Buffer.from('x'));
    const settings = resolveS3Settings(parseDestination('s3://bucket/p', 'aws-s3'),
      { provider: 'aws-s3', destinationUrl: 's3://bucket/p', endpointUrl: endpoint, credentials: { kind: 's3-access-key', accessKeyId: 'AKID', secretAccessKey: 'secret' } });
    const store = new LeanReadS3Store(settings, {
      keys: () => ({ accessKeyId: 'AKID', secretAccessKey: 'secret' }), httpAgent: new http.Agent(), httpsAgent: new http.Agent(),
      openSdkStore: async () => behind,
    });
    try {
      const seen = (await listAll(store, 'p/w/')).map((e) => (e as ObjectInfo).key);
      assert.deepEqual(seen, keys);
      assert.equal(pages, 2, 'the first page and the failed second one came from the server');
    } finally {
      await store.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
