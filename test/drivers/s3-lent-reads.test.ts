/**
 * Lent GET bodies (ObjectStore.getPieces): on a plain-HTTP S3 endpoint the body is read into a few reused buffers
 * (raw-get.ts, rawGetLent), each piece valid until the next is asked for. Through the store a command opens
 * (retries and deadline around the driver): the same bytes as get() from a real s3rver, whole and by range, with a
 * reader slower than the socket (the socket waits for a free buffer, nothing is overwritten); a body shorter or
 * longer than its Content-Length, a store that goes silent mid-body and an aborted read fail as get() fails; an
 * answer the raw reader does not take (chunked) comes through get()'s other path, not lent.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { composeStore } from '../../src/app/compose.js';
import type { GetOptions, ObjectStore } from '../../src/storage/object-store.js';
import { getPieces } from '../../src/storage/parallel-get.js';
import { storeOptionsFromEnv, type EnvStoreDescription } from '../harness/store-options.js';
import { requireServer, type S3ServerInfo } from '../harness/test-env.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';
import { s3Env, scriptedServer } from './s3-helpers.js';

async function open(endpoint: string, env: Record<string, string>, bucket = 'bucket', readTimeoutSeconds = 2): Promise<ObjectStore> {
  const d: EnvStoreDescription = { provider: 'aws-s3', destinationUrl: `s3://${bucket}/p`, endpointUrl: endpoint, env, readTimeoutSeconds };
  return (await composeStore(await storeOptionsFromEnv(d))).store;
}

/** Every piece copied before the next is asked for, with a pause every few pieces (the socket reads ahead meanwhile). */
async function readSlowly(store: ObjectStore, key: string, options: GetOptions = {}): Promise<{ bytes: Buffer; lent: boolean; pieces: number; memories: number }> {
  const { pieces, lent } = await getPieces(store, key, options);
  const parts: Buffer[] = [];
  const memories = new Set<ArrayBufferLike>();
  for await (const p of pieces) {
    parts.push(Buffer.from(p));
    memories.add(p.buffer);
    if (parts.length % 4 === 0) await sleep(2);
  }
  return { bytes: Buffer.concat(parts), lent, pieces: parts.length, memories: memories.size };
}

async function failure(p: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return { name: (err as Error).name, message: (err as Error).message };
  }
  assert.fail('expected a failure');
}

const pattern = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + (i >> 11)) % 251));

describe('S3 lent reads on s3rver: the same bytes as get(), from reused memory', () => {
  let s3: S3ServerInfo | undefined;
  let store: ObjectStore;
  let prefix: string;
  const body = pattern(3 * 1024 * 1024 + 12345);

  before(async () => {
    s3 = requireServer(undefined, 's3rver');
    if (!s3) return;
    prefix = uniquePrefix('lent');
    store = await open(s3.endpoint, s3Env(s3), TEST_BUCKET);
    await store.put(`${prefix}/big`, body);
  });
  after(async () => { await store?.close(); });

  it('whole and by range, with a reader slower than the socket', async (t) => {
    if (!s3) return t.skip('s3rver not running');
    const whole = await readSlowly(store, `${prefix}/big`);
    assert.equal(whole.lent, true, 'a plain-HTTP endpoint lends its pieces');
    assert.ok(whole.bytes.equals(body), 'the same bytes');
    assert.ok(whole.pieces > 8 && whole.memories <= 8, `${whole.pieces} pieces from ${whole.memories} buffers`);
    const infos: number[] = [];
    const range = await readSlowly(store, `${prefix}/big`, { range: { start: 1000, end: 2_000_000 }, onInfo: (i) => infos.push(i.size) });
    assert.ok(range.bytes.equals(body.subarray(1000, 2_000_001)));
    const whole2: number[] = [];
    await getPieces(store, `${prefix}/big`, { onInfo: (i) => whole2.push(i.size) }).then(async (g) => { for await (const p of g.pieces) void p; });
    assert.deepEqual(whole2, [body.length], 'object info as get() reports it');
  });

  it('a reader that takes larger pieces (pieceBytes) gets them when it falls behind, none larger', async (t) => {
    if (!s3) return t.skip('s3rver not running');
    const { pieces, lent } = await getPieces(store, `${prefix}/big`, { pieceBytes: 256 * 1024 });
    assert.equal(lent, true);
    const parts: Buffer[] = [];
    const memories = new Set<ArrayBufferLike>();
    for await (const p of pieces) {
      parts.push(Buffer.from(p));
      memories.add(p.buffer);
      if (parts.length <= 6) await sleep(20); // behind the socket: the kernel holds more than 64 KiB
    }
    assert.ok(Buffer.concat(parts).equals(body), 'the same bytes');
    const largest = Math.max(...parts.map((p) => p.length));
    assert.ok(largest > 64 * 1024 && largest <= 256 * 1024, `largest piece ${largest} bytes`);
    assert.ok(memories.size <= 4, `${memories.size} buffers`);
  });

  it('a reader that stops early closes the download', async (t) => {
    if (!s3) return t.skip('s3rver not running');
    const { pieces } = await getPieces(store, `${prefix}/big`);
    let n = 0;
    for await (const p of pieces) { n += p.length; if (n > 100_000) break; }
    const again = await readSlowly(store, `${prefix}/big`);
    assert.ok(again.bytes.equals(body));
  });

  it('a missing key fails as get() fails', async (t) => {
    if (!s3) return t.skip('s3rver not running');
    const a = await failure(getPieces(store, `${prefix}/missing`));
    const b = await failure(store.get(`${prefix}/missing`));
    assert.deepEqual(a, b);
  });
});


describe('S3 lent reads: a body is exactly what its Content-Length says', () => {
  const env = { AWS_ACCESS_KEY_ID: 'PGSTOWTEST', AWS_SECRET_ACCESS_KEY: 'secret', AWS_DEFAULT_REGION: 'us-east-1' };
  const body = pattern(700_000);
  const head = (more: string): string => `HTTP/1.1 200 OK\r\nETag: "x"\r\n${more}\r\n`;
  const withServer = async (parts: Array<string | Buffer>, fn: (store: ObjectStore) => Promise<void>, end = true, readTimeoutSeconds = 2): Promise<void> => {
    const server = await scriptedServer(parts, end);
    const store = await open(server.endpoint, env, 'bucket', readTimeoutSeconds);
    try { await fn(store); } finally { await store.close(); await server.close(); }
  };

  it('the head and the body split in odd places, the body\'s first bytes in the head\'s packet', async () => {
    const h = head(`Content-Length: ${body.length}\r\n`);
    await withServer([h.slice(0, 9), Buffer.concat([Buffer.from(h.slice(9)), body.subarray(0, 3)]), body.subarray(3, 200_000), body.subarray(200_000)], async (store) => {
      const r = await readSlowly(store, 'p/obj');
      assert.equal(r.lent, true);
      assert.ok(r.bytes.equals(body));
    });
  });

  it('an empty body', async () => {
    await withServer([head('Content-Length: 0\r\n')], async (store) => {
      const r = await readSlowly(store, 'p/obj');
      assert.equal(r.bytes.length, 0);
    });
  });

  it('fewer bytes than Content-Length, then the connection closes: fails as a reset connection, never short', { timeout: 10_000 }, async () => {
    await withServer([head(`Content-Length: ${body.length}\r\n`), body.subarray(0, 400_000)], async (store) => {
      const f = await failure(readSlowly(store, 'p/obj'));
      assert.equal(f.name, 'StorageUnavailableError');
      assert.match(f.message, /cannot reach the object store at .* \(ECONNRESET\)/);
    });
  });

  it('more bytes than Content-Length: fails', { timeout: 10_000 }, async () => {
    await withServer([head('Content-Length: 4000\r\n'), body.subarray(0, 5000)], async (store) => {
      const f = await failure(readSlowly(store, 'p/obj'));
      assert.match(f.message, /more bytes than its Content-Length/);
    });
  });

  it('silence in the middle of the body: fails within the read timeout, naming the store', { timeout: 10_000 }, async () => {
    await withServer([head(`Content-Length: ${body.length}\r\n`), body.subarray(0, 100_000)], async (store) => {
      const t0 = Date.now();
      const f = await failure(readSlowly(store, 'p/obj'));
      assert.ok(Date.now() - t0 < 5000, `bounded: ${Date.now() - t0} ms`);
      assert.equal(f.name, 'StorageUnavailableError');
    }, false, 0.5);
  });

  it('an aborted read fails with the abort and closes the connection', { timeout: 10_000 }, async () => {
    await withServer([head(`Content-Length: ${body.length}\r\n`), body.subarray(0, 100_000)], async (store) => {
      const controller = new AbortController();
      const { pieces } = await getPieces(store, 'p/obj', { signal: controller.signal });
      const it = pieces[Symbol.asyncIterator]();
      await it.next();
      setTimeout(() => controller.abort(new Error('stop now')), 50);
      const f = await failure((async () => { for (let r = await it.next(); !r.done; r = await it.next()); })());
      assert.match(f.message, /stop now|abort/i);
    }, false, 5);
  });

  it('a chunked answer comes through get()\'s other path: the same bytes, not lent', async () => {
    const chunk = (b: Buffer): Buffer => Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]);
    await withServer([head('Transfer-Encoding: chunked\r\n'), chunk(body.subarray(0, 2000)), chunk(body.subarray(2000)), '0\r\n\r\n'], async (store) => {
      const r = await readSlowly(store, 'p/obj');
      assert.equal(r.lent, false);
      assert.ok(r.bytes.equals(body));
    });
  });
});
