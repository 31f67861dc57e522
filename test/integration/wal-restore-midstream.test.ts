/**
 * `pgstow wal-restore` of a compressed WAL whose download is cut half-way by the network (a proxy in front of
 * a real S3 server sends the headers and part of the body, then resets the connection): the command exits 4
 * with one line naming the object, and nothing (not even a temporary file) appears at the destination.
 * Before the engine joined its streams with pipeline(), the cut left an unhandled 'error' event and the process
 * died with exit 1, which PostgreSQL and CloudNativePG read as "the WAL is not in the archive".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { requireServer } from '../harness/test-env.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';
import { runCli } from '../harness/cli.js';
import { syntheticSegment } from '../harness/wal-segments.js';

const WAL = '000000010000000000000007';

/** Forwards to `target`; a GET whose path ends with `cutSuffix` gets its headers and `bytes` body bytes, then a reset. */
async function cuttingProxy(target: string, cutSuffix: string, bytes: number): Promise<{ url: string; cuts: number; close(): Promise<void> }> {
  const t = new URL(target);
  const state = { url: '', cuts: 0, close: async () => {} };
  const server = http.createServer((req, res) => {
    const cut = req.method === 'GET' && (req.url ?? '').split('?')[0]?.endsWith(cutSuffix);
    const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      if (!cut) { pipeline(r, res).catch(() => res.destroy()); return; }
      state.cuts++;
      let sent = 0;
      r.on('data', (chunk: Buffer) => {
        if (sent >= bytes) return;
        const part = chunk.subarray(0, bytes - sent);
        sent += part.length;
        res.write(part, () => { if (sent >= bytes) { r.destroy(); res.socket?.resetAndDestroy(); } });
      });
    });
    up.on('error', () => res.destroy());
    pipeline(req, up).catch(() => up.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); });
  return state;
}

test('wal-restore of a gzip WAL cut half-way: exit 4, one line naming the object, nothing at the destination', async (t) => {
  const s3 = requireServer(t, 's3rver');
  if (!s3) return;
  const dir = makeTempDir('midstream');
  t.after(() => removeDir(dir));
  const url = `s3://${TEST_BUCKET}/${uniquePrefix('midstream')}`;
  const env = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_DEFAULT_REGION: s3.region };
  const walFile = path.join(dir, WAL);
  fs.writeFileSync(walFile, syntheticSegment(WAL, { randomPayloadUntil: 1024 * 1024 })); // incompressible: the .gz is ~1 MiB
  const archived = await runCli('pgstow', ['wal-archive', '-z', '--endpoint-url', s3.endpoint, url, 'srv', walFile], { env });
  assert.equal(archived.code, 0, archived.stderr);

  const proxy = await cuttingProxy(s3.endpoint, `${WAL}.gz`, 200_000);
  t.after(() => proxy.close());
  const destDir = path.join(dir, 'pg_wal_restore');
  fs.mkdirSync(destDir);
  const r = await runCli('pgstow', ['wal-restore', '--endpoint-url', proxy.url, url, 'srv', WAL, path.join(destDir, 'RECOVERYXLOG')], { env });
  assert.ok(proxy.cuts >= 1, 'the download went through the cutting proxy');
  assert.equal(r.code, 4, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0] ?? '', new RegExp(`^pgstow wal-restore: error: downloading .*srv/wals/0000000100000000/${WAL}\\.gz failed after \\d+ bytes: `));
  assert.deepEqual(fs.readdirSync(destDir), [], 'nothing at the destination, not even a temporary file');

  // Barman's drop-in behaves the same; and without the cut the same object restores intact.
  const barman = await runCli('barman-cloud-wal-restore', ['--endpoint-url', proxy.url, url, 'srv', WAL, path.join(destDir, 'RECOVERYXLOG')], { env });
  assert.equal(barman.code, 4, barman.stderr);
  assert.deepEqual(fs.readdirSync(destDir), []);
  const ok = await runCli('pgstow', ['wal-restore', '--endpoint-url', s3.endpoint, url, 'srv', WAL, path.join(destDir, 'RECOVERYXLOG')], { env });
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(fs.readFileSync(path.join(destDir, 'RECOVERYXLOG')), fs.readFileSync(walFile));
});
