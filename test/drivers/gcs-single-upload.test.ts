/**
 * Single-request GCS uploads (lean-upload.ts) on the real emulator, through a proxy that sees every request: a
 * body of known length that fits one request goes in one multipart POST as it is produced (never held whole), its
 * bytes are checked (CRC32C) against what GCS stored, and a server error sends it again through the SDK.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { once } from 'node:events';
import { requireServer } from '../harness/test-env.js';
import { IntegrityError, ObjectExistsError } from '../../src/storage/errors.js';
import { readAll } from '../../src/storage/object-store-helpers.js';
import { uniquePrefix } from '../harness/stores.js';
import { openGcs } from './gcs-helpers.js';

interface Proxy {
  url: string;
  /** "METHOD path (client)" of every request, query included; client is sdk when it sent x-goog-api-client, else lean. */
  requests: string[];
  /** Request body bytes received so far, over all requests. */
  received: () => number;
  close: () => Promise<void>;
}

/**
 * Forwards to `target`; `tamper` may answer a request itself (a status) or change a body chunk on the way up.
 */
async function startProxy(target: string, tamper: { failFirstUpload?: number; flipByteAt?: number } = {}): Promise<Proxy> {
  const up = new URL(target);
  const requests: string[] = [];
  let received = 0;
  let failed = false;
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url} (${req.headers['x-goog-api-client'] ? 'sdk' : 'lean'})`);
    const upload = req.method === 'POST' && String(req.url).includes('uploadType=multipart') && !String(req.url).includes('probe');
    if (upload && tamper.failFirstUpload && !failed) {
      failed = true;
      req.resume();
      req.on('end', () => res.writeHead(tamper.failFirstUpload as number, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { code: tamper.failFirstUpload, message: 'injected', errors: [{ reason: 'backendError' }] } })));
      return;
    }
    const out = http.request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    out.on('error', () => res.destroy());
    let offset = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      const at = tamper.flipByteAt;
      if (upload && at !== undefined && at >= offset && at < offset + chunk.length) chunk.writeUInt8((chunk.readUInt8(at - offset) ^ 0xff), at - offset);
      offset += chunk.length;
      out.write(chunk);
    });
    req.on('end', () => out.end());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`, requests, received: () => received,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

describe('gcs single-request uploads', () => {
  it('a body of known length is sent in one multipart POST while it is still being produced', async (t) => {
    const gcs = requireServer(t, 'gcs');
    if (!gcs) return;
    const proxy = await startProxy(gcs.endpoint);
    t.after(() => proxy.close());
    const prefix = uniquePrefix('single');
    const store = await openGcs({ STORAGE_EMULATOR_HOST: proxy.url }, { prefix, gcs: { chunkSize: 16 * 1024 * 1024 } });
    t.after(() => store.close());
    const body = randomBytes(2 * 1024 * 1024 + 5);
    const half = 1024 * 1024;
    // The second half is produced only once the proxy has seen the first: a driver that reads the whole body
    // before it sends anything never gets there.
    const produce = (): Readable => Readable.from((async function* () {
      yield body.subarray(0, half);
      for (let waited = 0; proxy.received() < half; waited += 10) {
        if (waited > 10_000) throw new Error('nothing was sent before the body ended');
        await new Promise((r) => setTimeout(r, 10));
      }
      yield body.subarray(half);
    })());
    const r = await store.put(`${prefix}/wal`, produce, { contentLength: body.length, metadata: { origin: 'test' } });
    assert.equal(r.size, body.length);
    assert.match(r.md5 ?? '', /^[0-9a-f]{32}$/, 'the MD5 GCS computed is reported');
    assert.deepEqual(await readAll(store, `${prefix}/wal`), body);
    assert.deepEqual((await store.stat(`${prefix}/wal`)).metadata, { origin: 'test' });
    const uploads = proxy.requests.filter((q) => q.includes('/upload/'));
    assert.equal(uploads.length, 1, uploads.join('\n'));
    assert.match(uploads[0] ?? '', /^POST .*uploadType=multipart.* \(lean\)$/);
    await assert.rejects(store.put(`${prefix}/wal`, body, { contentLength: body.length, ifAbsent: true }), ObjectExistsError);
  });

  it('bytes damaged on the way are refused (IntegrityError) and the damaged object is removed', async (t) => {
    const gcs = requireServer(t, 'gcs');
    if (!gcs) return;
    const proxy = await startProxy(gcs.endpoint, { flipByteAt: 700_000 });
    t.after(() => proxy.close());
    const prefix = uniquePrefix('damaged');
    const store = await openGcs({ STORAGE_EMULATOR_HOST: proxy.url }, { prefix });
    t.after(() => store.close());
    const body = randomBytes(1024 * 1024);
    await assert.rejects(store.put(`${prefix}/wal`, () => Readable.from([body]), { contentLength: body.length }), IntegrityError);
    assert.equal(await store.exists(`${prefix}/wal`), false);
  });

  it('a server error on the single request sends the body again through the SDK, which stores it', async (t) => {
    const gcs = requireServer(t, 'gcs');
    if (!gcs) return;
    const proxy = await startProxy(gcs.endpoint, { failFirstUpload: 503 });
    t.after(() => proxy.close());
    const prefix = uniquePrefix('fallback');
    const store = await openGcs({ STORAGE_EMULATOR_HOST: proxy.url }, { prefix });
    t.after(() => store.close());
    const body = randomBytes(300 * 1024);
    const r = await store.put(`${prefix}/wal`, () => Readable.from([body]), { contentLength: body.length });
    assert.equal(r.size, body.length);
    assert.deepEqual(await readAll(store, `${prefix}/wal`), body);
    const posts = proxy.requests.filter((q) => q.startsWith('POST /upload/'));
    assert.equal(posts.length, 2, proxy.requests.join('\n'));
    assert.match(posts[0] ?? '', /\(lean\)$/);
    assert.match(posts[1] ?? '', /\(sdk\)$/, 'the second attempt is the SDK\'s');
  });

  it('a proxy variable for the other scheme (HTTPS_PROXY, an http endpoint) does not apply: the uploads stay lean and direct', async (t) => {
    const gcs = requireServer(t, 'gcs');
    if (!gcs) return;
    const proxy = await startProxy(gcs.endpoint);
    t.after(() => proxy.close());
    const prefix = uniquePrefix('proxied');
    // Nothing listens on port 9: a request sent through that proxy would fail (test/drivers/azure-gcs-proxy.test.ts
    // sends them through a real one).
    const store = await openGcs({ STORAGE_EMULATOR_HOST: proxy.url, HTTPS_PROXY: 'http://127.0.0.1:9' }, { prefix });
    t.after(() => store.close());
    const body = randomBytes(300 * 1024);
    await store.put(`${prefix}/wal`, () => Readable.from([body]), { contentLength: body.length, ifAbsent: true });
    assert.deepEqual(await readAll(store, `${prefix}/wal`), body);
    const uploads = proxy.requests.filter((q) => q.startsWith('POST /upload/') && !q.includes('probe'));
    assert.equal(uploads.length, 1, proxy.requests.join('\n'));
    assert.match(uploads[0] ?? '', /\(lean\)$/);
  });
});
