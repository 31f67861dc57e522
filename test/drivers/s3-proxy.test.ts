/**
 * S3 behind a proxy, as botocore (Barman) reaches it: HTTPS_PROXY tunnels (CONNECT) to an https endpoint, HTTP_PROXY
 * forwards requests to an http one, NO_PROXY bypasses, the proxy's credentials are sent and never printed. Through
 * the real commands (lean WAL writes and reads) and the SDK store (every other request) on s3rver.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli } from '../harness/cli.js';
import { requireServer, testEnv } from '../harness/test-env.js';
import { makeTempDir } from '../harness/tmp.js';
import { syntheticSegment } from '../harness/wal-segments.js';
import { startForwardProxy, type ForwardProxy } from '../harness/forward-proxy.js';
import { Readable } from 'node:stream';
import { createSdkStore, createStore } from '../../src/storage/drivers/s3/index.js';
import { parseDestination } from '../../src/storage/destination.js';
import { readAll } from '../../src/storage/object-store-helpers.js';

const SEGMENT = '000000010000000000000007';
const NO_PROXY_ENV = { HTTPS_PROXY: undefined, https_proxy: undefined, HTTP_PROXY: undefined, http_proxy: undefined, ALL_PROXY: undefined, all_proxy: undefined, NO_PROXY: undefined, no_proxy: undefined };

function walFile(): { file: string; bytes: Buffer } {
  const bytes = syntheticSegment(SEGMENT);
  const file = path.join(makeTempDir('s3-proxy'), SEGMENT);
  fs.writeFileSync(file, bytes);
  return { file, bytes };
}

/** Archives a segment and restores it with the drop-in commands; returns the restored bytes. */
async function roundTrip(endpoint: string, prefix: string, env: Record<string, string | undefined>): Promise<{ original: Buffer; restored: Buffer }> {
  const { file, bytes } = walFile();
  const dest = `s3://pgstow-test/${prefix}-${process.pid}-${Date.now()}`;
  const common = ['--cloud-provider', 'aws-s3', '--endpoint-url', endpoint, dest, 'srv'];
  const a = await runCli('barman-cloud-wal-archive', [...common, file], { env });
  assert.equal(a.code, 0, a.stderr);
  const out = path.join(makeTempDir('s3-proxy-out'), 'RESTORED');
  const r = await runCli('barman-cloud-wal-restore', [...common, SEGMENT, out], { env });
  assert.equal(r.code, 0, r.stderr);
  return { original: bytes, restored: fs.readFileSync(out) };
}

describe('S3 through a proxy named by the environment', () => {
  let proxy: ForwardProxy;
  let authProxy: ForwardProxy;
  before(async () => {
    proxy = await startForwardProxy();
    authProxy = await startForwardProxy({ user: 'pxuser', password: 'px-secret-pass-77' });
  });
  after(async () => {
    await proxy.close();
    await authProxy.close();
  });

  it('HTTPS_PROXY: the commands tunnel to an https endpoint through it (CONNECT) and the data round-trips', async (t) => {
    const s3 = requireServer(t, 's3rverTls');
    if (!s3) return;
    const env = { ...NO_PROXY_ENV, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_CA_BUNDLE: testEnv().tls.caFile, HTTPS_PROXY: proxy.url };
    const before = proxy.seen.length;
    const { original, restored } = await roundTrip(s3.endpoint, 'proxy-https', env);
    assert.ok(restored.equals(original), 'restored bytes equal the archived segment');
    const host = new URL(s3.endpoint).host;
    const tunnels = proxy.seen.slice(before);
    assert.ok(tunnels.length >= 2, `both commands went through the proxy: ${tunnels.join(', ')}`);
    assert.ok(tunnels.every((s) => s === `CONNECT ${host}`), tunnels.join(', '));
  });

  it('HTTP_PROXY (lower case wins, as urllib): absolute-form requests to an http endpoint, SDK store included', async (t) => {
    const s3 = requireServer(t, 's3rver');
    if (!s3) return;
    const env = { ...NO_PROXY_ENV, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, HTTP_PROXY: 'http://127.0.0.1:9', http_proxy: proxy.url };
    const before = proxy.seen.length;
    const { original, restored } = await roundTrip(s3.endpoint, 'proxy-http', env);
    assert.ok(restored.equals(original));
    const forwarded = proxy.seen.slice(before);
    const origin = new URL(s3.endpoint).origin;
    assert.ok(forwarded.some((s) => s.startsWith(`PUT ${origin}/pgstow-test/`)), forwarded.join('\n'));
    assert.ok(forwarded.some((s) => s.startsWith(`GET ${origin}/pgstow-test/`)), forwarded.join('\n'));

    // The SDK store (backups, deletes, listings past the lean paths) takes the same agents.
    const dest = `s3://pgstow-test/proxy-sdk-${process.pid}`;
    const store = await createSdkStore(parseDestination(dest, 'aws-s3'), {
      provider: 'aws-s3', destinationUrl: dest, endpointUrl: s3.endpoint, proxy: { http: proxy.url },
      credentials: { kind: 's3-access-key', accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    const mark = proxy.seen.length;
    try {
      await store.put('proxy-sdk/object', Buffer.from('through the proxy'));
      assert.equal((await readAll(store, 'proxy-sdk/object')).toString(), 'through the proxy');
    } finally {
      await store.close();
    }
    assert.ok(proxy.seen.slice(mark).some((s) => s.startsWith(`PUT ${origin}/pgstow-test/proxy-sdk/object`)), proxy.seen.slice(mark).join('\n'));
  });

  it('bodies from 2 MiB through the proxy to an http endpoint: a single put and a multipart upload arrive whole', async (t) => {
    const s3 = requireServer(t, 's3rver');
    if (!s3) return;
    const dest = `s3://pgstow-test/proxy-mp-${process.pid}`;
    const store = await createStore(parseDestination(dest, 'aws-s3'), {
      provider: 'aws-s3', destinationUrl: dest, endpointUrl: s3.endpoint, proxy: { http: proxy.url },
      credentials: { kind: 's3-access-key', accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    const origin = new URL(s3.endpoint).origin;
    const mark = proxy.seen.length;
    try {
      // 7 MiB: one PUT (its Expect: 100-continue header broke the request through http-proxy-agent); 24 MiB: parts.
      for (const [name, size] of [['single', 7], ['multipart', 24]] as const) {
        const data = Buffer.alloc(size * 1024 * 1024, name.length);
        await store.put(`proxy-mp/${name}`, Readable.from([data.subarray(0, 4 << 20), data.subarray(4 << 20)]));
        assert.ok((await readAll(store, `proxy-mp/${name}`)).equals(data), `${name}: the stored object equals what was sent`);
      }
    } finally {
      await store.close();
    }
    const seen = proxy.seen.slice(mark);
    assert.ok(seen.some((s) => s === `PUT ${origin}/pgstow-test/proxy-mp/single`), seen.join('\n'));
    assert.ok(seen.some((s) => s.startsWith(`POST ${origin}/pgstow-test/proxy-mp/multipart?uploads`)), seen.join('\n'));
    assert.ok(seen.some((s) => s.startsWith(`PUT ${origin}/pgstow-test/proxy-mp/multipart?`) && s.includes('partNumber=2')), seen.join('\n'));
  });

  it('NO_PROXY naming the endpoint host: direct, the proxy sees nothing', async (t) => {
    const s3 = requireServer(t, 's3rver');
    if (!s3) return;
    const env = { ...NO_PROXY_ENV, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, HTTP_PROXY: proxy.url, NO_PROXY: 'example.com, 127.0.0.0/8' };
    const before = proxy.seen.length;
    const { original, restored } = await roundTrip(s3.endpoint, 'proxy-bypass', env);
    assert.ok(restored.equals(original));
    assert.deepEqual(proxy.seen.slice(before), []);
  });

  it('a proxy that wants credentials: given in the URL they are sent; wrong ones fail in one line without the password', async (t) => {
    const s3 = requireServer(t, 's3rverTls');
    if (!s3) return;
    const base = { ...NO_PROXY_ENV, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_CA_BUNDLE: testEnv().tls.caFile };
    const port = new URL(authProxy.url).port;
    const { original, restored } = await roundTrip(s3.endpoint, 'proxy-auth', { ...base, HTTPS_PROXY: `http://pxuser:px-secret-pass-77@127.0.0.1:${port}` });
    assert.ok(restored.equals(original));

    const wrong = 'wrong-proxy-pass-31';
    const refusedBefore = authProxy.refused;
    const { file } = walFile();
    const r = await runCli('barman-cloud-wal-archive', ['--cloud-provider', 'aws-s3', '--endpoint-url', s3.endpoint, `s3://pgstow-test/proxy-denied-${process.pid}`, 'srv', file],
      { env: { ...base, HTTPS_PROXY: `http://pxuser:${wrong}@127.0.0.1:${port}` }, timeoutMs: 60_000 });
    assert.notEqual(r.code, 0, 'nothing archived through a proxy that refuses');
    assert.ok(authProxy.refused > refusedBefore, 'the proxy was asked');
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.ok(!r.stderr.includes(wrong) && !r.stdout.includes(wrong), r.stderr);
    assert.ok(!r.stderr.includes(s3.secretAccessKey), r.stderr);
    assert.match(r.stderr, new RegExp(`proxy refused it \\(HTTP 407.*through the proxy http://127\\.0\\.0\\.1:${port}\\b`), r.stderr);
  });

  it('a proxy nobody listens on: exit 2, the line names the proxy, not the endpoint alone', async (t) => {
    const s3 = requireServer(t, 's3rverTls');
    if (!s3) return;
    const { file } = walFile();
    const r = await runCli('barman-cloud-wal-archive', ['--cloud-provider', 'aws-s3', '--endpoint-url', s3.endpoint, `s3://pgstow-test/proxy-down-${process.pid}`, 'srv', file],
      { env: { ...NO_PROXY_ENV, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_CA_BUNDLE: testEnv().tls.caFile, HTTPS_PROXY: 'http://127.0.0.1:9' }, timeoutMs: 90_000 });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /cannot reach the object store at https:\/\/127\.0\.0\.1:\d+ through the proxy http:\/\/127\.0\.0\.1:9 \(ECONNREFUSED\)/);
  });

  it('a proxy URL of another kind is refused before any request, naming the variable and not its value', async (t) => {
    const s3 = requireServer(t, 's3rver');
    if (!s3) return;
    const { file } = walFile();
    const r = await runCli('barman-cloud-wal-archive', ['--cloud-provider', 'aws-s3', '--endpoint-url', s3.endpoint, 's3://pgstow-test/proxy-socks', 'srv', file],
      { env: { ...NO_PROXY_ENV, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, ALL_PROXY: 'socks5://u:socks-pass-9@127.0.0.1:1080' } });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /HTTP_PROXY.*socks5/);
    assert.ok(!r.stderr.includes('socks-pass-9'), r.stderr);
  });
});
