/**
 * A multipart upload to S3 holds (parts in flight + 1) part buffers, or `partBuffers`, as the memory budget counts
 * them: it never has more parts on the wire than `partsInFlight`, the first two included (both went out at once
 * before: with one in flight a third buffer circulated for the whole upload, 5-6 MiB more RSS for a backup; issue 15).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as path from 'node:path';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { startPrivateS3rver } from '../harness/servers/s3rver.js';
import { readAll } from '../../src/storage/object-store-helpers.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';
import { openS3 } from './s3-helpers.js';

const MiB = 1024 * 1024;

/**
 * A proxy in front of `target` that forwards every request and records the most UploadPart requests open at once,
 * and the bytes of parts answered so far; `delayMs` holds each part's answer that long (a slow store).
 */
async function countingProxy(target: string, delayMs = 0): Promise<{ url: string; most: () => number; answered: () => number; close: () => Promise<void> }> {
  const upstream = new URL(target);
  let open = 0;
  let most = 0;
  let answered = 0;
  const server = http.createServer((req, res) => {
    const part = req.method === 'PUT' && /[?&]partNumber=/.test(req.url ?? '');
    if (part) most = Math.max(most, ++open);
    res.on('close', () => { if (part) open--; });
    const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      setTimeout(() => {
        // Counted before the client can see the answer: a client that reads on only after an answer is never ahead of it.
        if (part) answered += Number(req.headers['content-length'] ?? 0);
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      }, part ? delayMs : 0);
    });
    out.on('error', () => { res.destroy(); });
    req.pipe(out);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, most: () => most, answered: () => answered, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

/** `body` as a byte stream in 256 KiB chunks that records how far it was read ahead of `answered()`. */
function trackedSource(body: Buffer, answered: () => number): { stream: Readable; mostAhead: () => number } {
  let offset = 0;
  let mostAhead = 0;
  const stream = new Readable({
    highWaterMark: 256 * 1024,
    read() {
      if (offset >= body.length) { this.push(null); return; }
      const chunk = body.subarray(offset, offset + 256 * 1024);
      offset += chunk.length;
      mostAhead = Math.max(mostAhead, offset - answered());
      this.push(chunk);
    },
  });
  return { stream, mostAhead: () => mostAhead };
}

describe('s3: parts in flight', () => {
  for (const partsInFlight of [1, 2]) {
    it(`partsInFlight ${partsInFlight}: never more UploadPart requests at once, the first two parts included; the object is whole`, async () => {
      const dir = makeTempDir('s3-parts-in-flight');
      const server = await startPrivateS3rver(path.join(dir, 'data'));
      const proxy = await countingProxy(server.info.endpoint);
      const { store, prefix } = await openS3(server.info, { endpoint: proxy.url, s3: {} });
      try {
        const body = randomBytes(4 * 5 * MiB + 1);
        const chunks: Buffer[] = [];
        for (let i = 0; i < body.length; i += 256 * 1024) chunks.push(body.subarray(i, i + 256 * 1024));
        await store.put(`${prefix}/obj`, Readable.from(chunks), { partSize: 5 * MiB, partsInFlight, sizeHint: body.length });
        assert.equal(proxy.most(), partsInFlight);
        assert.ok((await readAll(store, `${prefix}/obj`)).equals(body), 'the stored object is what was sent');
      } finally {
        await store.close();
        await proxy.close();
        await server.stop();
        removeDir(dir);
      }
    });
  }

  // The default memory plan's upload (issue 15.1): two 5 MiB buffers, both on the wire while the store answers slowly;
  // before, the second full part waited for the first one's answer, or (with 2 in flight) a third buffer filled.
  it('partBuffers 2 with 2 in flight: two parts on the wire at once, the source never read more than two parts ahead of the answers', async () => {
    const dir = makeTempDir('s3-parts-in-flight');
    const server = await startPrivateS3rver(path.join(dir, 'data'));
    const proxy = await countingProxy(server.info.endpoint, 150);
    const { store, prefix } = await openS3(server.info, { endpoint: proxy.url, s3: {} });
    try {
      const body = randomBytes(6 * 5 * MiB + 1);
      const source = trackedSource(body, proxy.answered);
      await store.put(`${prefix}/obj`, source.stream, { partSize: 5 * MiB, partsInFlight: 2, partBuffers: 2, sizeHint: body.length });
      assert.equal(proxy.most(), 2);
      // Two parts held, plus what the source stream itself queues (its 256 KiB and the chunk being handed over).
      assert.ok(source.mostAhead() <= 2 * 5 * MiB + MiB, `read ${source.mostAhead()} bytes ahead of the answered parts`);
      assert.ok((await readAll(store, `${prefix}/obj`)).equals(body), 'the stored object is what was sent');
    } finally {
      await store.close();
      await proxy.close();
      await server.stop();
      removeDir(dir);
    }
  });
});
