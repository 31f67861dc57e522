/**
 * A streamed GCS upload larger than one chunk through a resumable session on node:http (drivers/gcs/lean-resumable.ts),
 * on the real emulator, through a proxy that sees every request (the SDK's carry x-goog-api-client, the lean ones do
 * not) and can answer or damage one itself: the bytes read back equal, no request goes through the SDK; a body that
 * ends on a chunk boundary is finalized by an empty request; a lost chunk is sent again where the session stands; a
 * refused chunk fails as the SDK path classifies it and a failed upload leaves no object and cancels its session; a
 * session the lean path could not open is opened by the SDK; bytes changed on the way fail with IntegrityError.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { requireServer } from '../harness/test-env.js';
import { AccessDeniedError, IntegrityError, ObjectNotFoundError } from '../../src/storage/errors.js';
import { readAll } from '../../src/storage/object-store-helpers.js';
import { uniquePrefix } from '../harness/stores.js';
import { oneShot } from '../harness/body-sources.js';
import { openGcs, SMALL_CHUNK } from './gcs-helpers.js';

interface Seen { method: string; url: string; range: string | undefined; sdk: boolean }
/** What the proxy does with a request (the n-th of its kind counted by the caller): forward it, answer it, or flip a byte. */
type Tamper = (req: Seen) => { status: number; reason: string } | 'flip' | undefined;

async function startProxy(target: string, tamper: Tamper = () => undefined): Promise<{ url: string; seen: Seen[]; close: () => Promise<void> }> {
  const up = new URL(target);
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const s: Seen = { method: req.method ?? '', url: req.url ?? '', range: req.headers['content-range'] as string | undefined, sdk: Boolean(req.headers['x-goog-api-client']) };
    seen.push(s);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const t = s.sdk ? undefined : tamper(s);
      if (t && t !== 'flip') {
        res.writeHead(t.status, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: { code: t.status, message: 'injected', errors: [{ domain: 'global', reason: t.reason, message: 'injected' }] } }));
        return;
      }
      if (t === 'flip' && body.length > 0) body.writeUInt8(body.readUInt8(0) ^ 0xff, 0);
      const out = http.request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers: { ...req.headers, 'content-length': String(body.length) } }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      out.on('error', () => res.destroy());
      out.end(body);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}

const isChunk = (s: Seen): boolean => s.method === 'PUT' && s.url.includes('upload_id=');
const isSession = (s: Seen): boolean => s.method === 'POST' && s.url.includes('uploadType=resumable');

async function withProxy(t: import('node:test').TestContext, tamper?: Tamper) {
  const gcs = requireServer(t, 'gcs');
  if (!gcs) return undefined;
  const proxy = await startProxy(gcs.endpoint, tamper);
  t.after(() => proxy.close());
  const store = await openGcs({ STORAGE_EMULATOR_HOST: proxy.url, GOOGLE_CLOUD_PROJECT: gcs.projectId }, { prefix: uniquePrefix('gcs-resumable') });
  t.after(() => store.close());
  return { store, proxy };
}

describe('gcs resumable uploads on node:http', () => {
  it('a one-shot stream of several chunks goes up through a session of its own, in order, none through the SDK, and reads back intact', async (t) => {
    const c = await withProxy(t);
    if (!c) return;
    const data = randomBytes(3 * SMALL_CHUNK + 12345);
    const r = await c.store.put('obj/multi', oneShot(data), { sizeHint: data.length });
    assert.equal(r.size, data.length);
    assert.ok(r.md5 === undefined || r.md5 === (await import('node:crypto')).createHash('md5').update(data).digest('hex'));
    assert.deepEqual(c.proxy.seen.filter((s) => s.sdk), [], c.proxy.seen.map((s) => `${s.method} ${s.url}`).join('\n'));
    assert.equal(c.proxy.seen.filter(isSession).length, 1);
    const m = SMALL_CHUNK;
    assert.deepEqual(c.proxy.seen.filter(isChunk).map((s) => s.range),
      [`bytes 0-${m - 1}/*`, `bytes ${m}-${2 * m - 1}/*`, `bytes ${2 * m}-${3 * m - 1}/*`, `bytes ${3 * m}-${data.length - 1}/${data.length}`]);
    assert.ok((await readAll(c.store, 'obj/multi')).equals(data));
  });

  it('a body that ends on a chunk boundary is finalized by an empty request with the total', async (t) => {
    const c = await withProxy(t);
    if (!c) return;
    const data = randomBytes(2 * SMALL_CHUNK);
    await c.store.put('obj/even', oneShot(data));
    assert.deepEqual(c.proxy.seen.filter(isChunk).map((s) => s.range), [`bytes 0-${SMALL_CHUNK - 1}/*`, `bytes ${SMALL_CHUNK}-${data.length - 1}/*`, `bytes */${data.length}`]);
    assert.ok((await readAll(c.store, 'obj/even')).equals(data));
  });

  it('a chunk answered 503 (not stored) is sent again where the session says it stands; the object is whole', async (t) => {
    let chunks = 0;
    const c = await withProxy(t, (s) => (isChunk(s) && s.range !== 'bytes */*' && ++chunks === 2 ? { status: 503, reason: 'backendError' } : undefined));
    if (!c) return;
    const data = randomBytes(2 * SMALL_CHUNK + 100);
    await c.store.put('obj/retried', oneShot(data));
    const ranges = c.proxy.seen.filter(isChunk).map((s) => s.range);
    assert.deepEqual(ranges, [`bytes 0-${SMALL_CHUNK - 1}/*`, `bytes ${SMALL_CHUNK}-${2 * SMALL_CHUNK - 1}/*`, 'bytes */*',
      `bytes ${SMALL_CHUNK}-${2 * SMALL_CHUNK - 1}/*`, `bytes ${2 * SMALL_CHUNK}-${data.length - 1}/${data.length}`]);
    assert.deepEqual(c.proxy.seen.filter((s) => s.sdk), []);
    assert.ok((await readAll(c.store, 'obj/retried')).equals(data));
  });

  it('a refused chunk (403) fails as the SDK path classifies it, cancels the session and leaves no object', async (t) => {
    let chunks = 0;
    const c = await withProxy(t, (s) => (isChunk(s) && ++chunks === 2 ? { status: 403, reason: 'forbidden' } : undefined));
    if (!c) return;
    await assert.rejects(c.store.put('obj/refused', oneShot(randomBytes(3 * SMALL_CHUNK))), (err: unknown) => err instanceof AccessDeniedError && /obj\/refused/.test((err as Error).message) && !/upload_id/.test((err as Error).message));
    assert.equal(c.proxy.seen.filter((s) => s.method === 'DELETE' && s.url.includes('upload_id=')).length, 1, 'the session is cancelled');
    await assert.rejects(c.store.stat('obj/refused'), ObjectNotFoundError);
  });

  it('a source failing after chunks were sent rethrows its own error, cancels the session and leaves no object', async (t) => {
    const c = await withProxy(t);
    if (!c) return;
    await assert.rejects(c.store.put('obj/broken', oneShot(randomBytes(4 * SMALL_CHUNK), 2 * SMALL_CHUNK + 65536)), /source broke/);
    assert.ok(c.proxy.seen.filter(isChunk).length >= 1);
    assert.equal(c.proxy.seen.filter((s) => s.method === 'DELETE' && s.url.includes('upload_id=')).length, 1, 'the session is cancelled');
    await assert.rejects(c.store.stat('obj/broken'), ObjectNotFoundError);
  });

  it('a session the lean path could not open (503) is opened by the SDK, which uploads the same bytes', async (t) => {
    let sessions = 0;
    const c = await withProxy(t, (s) => (isSession(s) && ++sessions === 1 ? { status: 503, reason: 'backendError' } : undefined));
    if (!c) return;
    const data = randomBytes(2 * SMALL_CHUNK + 7);
    await c.store.put('obj/sdk-session', oneShot(data));
    assert.deepEqual(c.proxy.seen.filter(isSession).map((s) => (s.sdk ? 'sdk' : 'lean')), ['lean', 'sdk']);
    assert.ok((await readAll(c.store, 'obj/sdk-session')).equals(data));
  });

  it('a chunk changed on the way fails with IntegrityError (the CRC32C GCS reports) and the object is deleted', async (t) => {
    let chunks = 0;
    const c = await withProxy(t, (s) => (isChunk(s) && ++chunks === 2 ? 'flip' : undefined));
    if (!c) return;
    await assert.rejects(c.store.put('obj/flipped', oneShot(randomBytes(2 * SMALL_CHUNK + 3))), IntegrityError);
    await assert.rejects(c.store.stat('obj/flipped'), ObjectNotFoundError);
  });
});
