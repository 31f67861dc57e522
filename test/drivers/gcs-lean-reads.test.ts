/**
 * GCS reads, listings and deletes on node:http (drivers/gcs/lean-reads.ts) on the real emulator, through a proxy
 * that sees every request (the SDK's carry x-goog-api-client, the lean ones do not) and can damage the lean ones'
 * answers: a WAL round goes out lean; a listing page the lean path does not understand hands over to the SDK mid-
 * listing without losing or repeating an entry; an answer it does not take (503) is asked again through the SDK;
 * a download whose bytes were changed on the way fails with IntegrityError, as the SDK's validation does.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { once } from 'node:events';
import { requireServer } from '../harness/test-env.js';
import { IntegrityError, ObjectNotFoundError } from '../../src/storage/errors.js';
import { readAll, streamToBuffer } from '../../src/storage/object-store-helpers.js';
import type { ObjectInfo } from '../../src/storage/object-store.js';
import { uniquePrefix } from '../harness/stores.js';
import { openGcs } from './gcs-helpers.js';

/** What the proxy does to a lean request's answer: nothing, a status of its own, or a changed body. */
type Tamper = (req: http.IncomingMessage, body: Buffer) => { status: number; body: Buffer } | undefined;

interface Proxy { url: string; requests: string[]; close: () => Promise<void> }

async function startProxy(target: string, tamper: Tamper = () => undefined): Promise<Proxy> {
  const up = new URL(target);
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const lean = !req.headers['x-goog-api-client'];
    requests.push(`${req.method} ${req.url} (${lean ? 'lean' : 'sdk'})`);
    const out = http.request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => {
        const body = Buffer.concat(chunks);
        const changed = lean ? tamper(req, body) : undefined;
        const headers = { ...r.headers, 'content-length': String((changed?.body ?? body).length) };
        delete headers['transfer-encoding'];
        res.writeHead(changed?.status ?? r.statusCode ?? 502, headers).end(changed?.body ?? body);
      });
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}

async function listAll(store: Awaited<ReturnType<typeof openGcs>>, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const e of store.list(prefix)) keys.push('prefix' in e ? e.prefix : e.key);
  return keys;
}

describe('gcs lean reads', () => {
  it('a WAL round (stat, exists, get with onInfo, a range, a listing, a delete) goes out on node:http, not through the SDK', async (t) => {
    const gcs = requireServer(t, 'gcs');
    if (!gcs) return;
    const proxy = await startProxy(gcs.endpoint);
    t.after(() => proxy.close());
    const prefix = uniquePrefix('lean-round');
    const store = await openGcs({ STORAGE_EMULATOR_HOST: proxy.url }, { prefix });
    t.after(() => store.close());
    const body = Buffer.from('a segment, or nearly');
    await store.put(`${prefix}/a`, body, { metadata: { origin: 'test' } });
    assert.equal((await store.stat(`${prefix}/a`)).size, body.length);
    assert.equal(await store.exists(`${prefix}/a`), true);
    assert.equal(await store.exists(`${prefix}/missing`), false);
    await assert.rejects(store.stat(`${prefix}/missing`), ObjectNotFoundError);
    await assert.rejects(store.get(`${prefix}/missing`), ObjectNotFoundError);
    let info: ObjectInfo | undefined;
    const got = await readAll(store, `${prefix}/a`, undefined, (i) => { info = i; });
    assert.deepEqual(got, body);
    assert.deepEqual({ size: info?.size, metadata: info?.metadata, md5: info?.md5?.length }, { size: body.length, metadata: { origin: 'test' }, md5: 32 });
    assert.deepEqual(await streamToBuffer(await store.get(`${prefix}/a`, { range: { start: 2, end: 8 } })), body.subarray(2, 9));
    assert.deepEqual(await listAll(store, `${prefix}/`), [`${prefix}/a`]);
    await store.delete([`${prefix}/a`, `${prefix}/missing`]);
    assert.equal(await store.exists(`${prefix}/a`), false);
    assert.deepEqual(proxy.requests.filter((r) => r.endsWith('(sdk)')), [], proxy.requests.join('\n'));
  });

  it('a listing page it does not understand: the SDK lists the rest, no entry lost or repeated', async (t) => {
    const gcs = requireServer(t, 'gcs');
    if (!gcs) return;
    let pages = 0;
    // The second lean page gets an entry whose size is not a number: not read as a shorter listing, handed over.
    const proxy = await startProxy(gcs.endpoint, (req, body) => {
      if (req.method !== 'GET' || !/\/o\?/.test(String(req.url)) || ++pages !== 2) return undefined;
      return { status: 200, body: Buffer.from(body.toString().replace(/"size":"\d+"/, '"size":"12x"')) };
    });
    t.after(() => proxy.close());
    const prefix = uniquePrefix('lean-pages');
    const direct = await openGcs({ STORAGE_EMULATOR_HOST: gcs.endpoint }, { prefix });
    const keys = Array.from({ length: 2500 }, (_, i) => `${prefix}/k${String(i).padStart(5, '0')}`);
    for (let i = 0; i < keys.length; i += 100) await Promise.all(keys.slice(i, i + 100).map((k) => direct.put(k, Buffer.from('x'))));
    await direct.close();
    const store = await openGcs({ STORAGE_EMULATOR_HOST: proxy.url }, { prefix });
    t.after(() => store.close());
    assert.deepEqual(await listAll(store, `${prefix}/`), keys);
    const lists = proxy.requests.filter((r) => r.startsWith('GET ') && /\/o\?/.test(r));
    assert.deepEqual(lists.map((r) => (r.endsWith('(lean)') ? 'lean' : 'sdk')), ['lean', 'lean', 'sdk', 'sdk', 'sdk'], lists.join('\n'));
  });

  it('an answer it does not take (503) is asked again through the SDK, which gets the object', async (t) => {
    const gcs = requireServer(t, 'gcs');
    if (!gcs) return;
    const proxy = await startProxy(gcs.endpoint, (req) => (req.method === 'GET' && /alt=media/.test(String(req.url))
      ? { status: 503, body: Buffer.from(JSON.stringify({ error: { code: 503, message: 'injected', errors: [{ reason: 'backendError' }] } })) } : undefined));
    t.after(() => proxy.close());
    const prefix = uniquePrefix('lean-503');
    const store = await openGcs({ STORAGE_EMULATOR_HOST: proxy.url }, { prefix });
    t.after(() => store.close());
    await store.put(`${prefix}/a`, Buffer.from('bytes'));
    assert.deepEqual(await readAll(store, `${prefix}/a`), Buffer.from('bytes'));
    const media = proxy.requests.filter((r) => /alt=media/.test(r)).map((r) => (r.endsWith('(lean)') ? 'lean' : 'sdk'));
    assert.deepEqual(media, ['lean', 'sdk'], proxy.requests.join('\n'));
  });

  it('a download changed on the way fails with IntegrityError (the CRC32C GCS reports), as the SDK\'s validation', async (t) => {
    const gcs = requireServer(t, 'gcs');
    if (!gcs) return;
    const proxy = await startProxy(gcs.endpoint, (req, body) => {
      if (req.method !== 'GET' || !/alt=media/.test(String(req.url)) || body.length === 0) return undefined;
      const bad = Buffer.from(body);
      bad[0] = (bad[0] as number) ^ 0xff;
      return { status: 200, body: bad };
    });
    t.after(() => proxy.close());
    const prefix = uniquePrefix('lean-damaged');
    const store = await openGcs({ STORAGE_EMULATOR_HOST: proxy.url }, { prefix });
    t.after(() => store.close());
    await store.put(`${prefix}/a`, Buffer.from('the bytes archived'));
    await assert.rejects(readAll(store, `${prefix}/a`), IntegrityError);
  });
});
