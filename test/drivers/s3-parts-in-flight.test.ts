/**
 * A multipart upload to S3 holds (parts in flight + 1) part buffers, as the memory budget counts them: it never has
 * more parts on the wire than `partsInFlight`, the first two included (both went out at once before: with one
 * in flight a third buffer circulated for the whole upload, 5-6 MiB more RSS for a backup; issue 15).
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

/** A proxy in front of `target` that forwards every request and records the most UploadPart requests open at once. */
async function countingProxy(target: string): Promise<{ url: string; most: () => number; close: () => Promise<void> }> {
  const upstream = new URL(target);
  let open = 0;
  let most = 0;
  const server = http.createServer((req, res) => {
    const part = req.method === 'PUT' && /[?&]partNumber=/.test(req.url ?? '');
    if (part) most = Math.max(most, ++open);
    res.on('close', () => { if (part) open--; });
    const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', () => { res.destroy(); });
    req.pipe(out);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, most: () => most, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
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
});
