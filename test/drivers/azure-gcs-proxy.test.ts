/**
 * Azure and GCS behind a proxy named by the environment, on their lean paths (no SDK): the drop-in WAL commands'
 * requests go through a forward proxy on loopback (absolute form to an http endpoint, a CONNECT tunnel with the
 * private CA inside it to an https one), NO_PROXY bypasses it, a 407 fails in one line naming the proxy without its
 * password. Against Azurite and the GCS emulator; GCS tokens (a service-account key's token endpoint, the metadata
 * server) take the same proxy choice. test/drivers/s3-proxy.test.ts is the same for S3.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli, type CliResult } from '../harness/cli.js';
import { requireServer, testEnv, type AzuriteInfo } from '../harness/test-env.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';
import { syntheticSegment } from '../harness/wal-segments.js';
import { startForwardProxy, type ForwardProxy } from '../harness/forward-proxy.js';
import { startGcsEmulator, type GcsEmulator } from '../harness/servers/gcs.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';
import { openGcs, SMALL_CHUNK, writeServiceAccountKey } from './gcs-helpers.js';
import { openAzure } from './azure-helpers.js';
import { readAll } from '../../src/storage/object-store-helpers.js';
import { Readable } from 'node:stream';

const SEGMENT = '000000010000000000000009';
const CLEAN: Record<string, undefined> = {
  HTTPS_PROXY: undefined, https_proxy: undefined, HTTP_PROXY: undefined, http_proxy: undefined, ALL_PROXY: undefined, all_proxy: undefined,
  NO_PROXY: undefined, no_proxy: undefined, AZURE_STORAGE_CONNECTION_STRING: undefined, AZURE_STORAGE_KEY: undefined,
  AZURE_STORAGE_SAS_TOKEN: undefined, AZURE_STORAGE_ACCOUNT: undefined, REQUESTS_CA_BUNDLE: undefined, GOOGLE_APPLICATION_CREDENTIALS: undefined,
  STORAGE_EMULATOR_HOST: undefined, GCE_METADATA_HOST: undefined, GOOGLE_CLOUD_PROJECT: undefined, GCLOUD_PROJECT: undefined,
};
const PASSWORD = 'px-secret-pass-41';
const WRONG = 'wrong-proxy-pass-53';

let dir: string;
let proxy: ForwardProxy;
let authProxy: ForwardProxy;
before(async () => {
  dir = makeTempDir('azure-gcs-proxy');
  proxy = await startForwardProxy();
  authProxy = await startForwardProxy({ user: 'pxuser', password: PASSWORD });
});
after(async () => {
  await proxy.close();
  await authProxy.close();
  removeDir(dir);
});

/** What went through `p` since `mark`, with each entry's headers. */
const since = (p: ForwardProxy, mark: number): { line: string; headers: Record<string, unknown> }[] =>
  p.seen.slice(mark).map((line, i) => ({ line, headers: p.headers[mark + i] ?? {} }));

/** Archives a segment and restores it with the drop-in commands (`args` before the destination). */
async function roundTrip(args: string[], dest: string, env: Record<string, string | undefined>): Promise<void> {
  const bytes = syntheticSegment(SEGMENT);
  const file = path.join(makeTempDir('proxy-wal'), SEGMENT);
  fs.writeFileSync(file, bytes);
  const a = await runCli('barman-cloud-wal-archive', [...args, dest, 'srv', file], { env: { ...CLEAN, ...env } });
  assert.equal(a.code, 0, a.stderr);
  const out = path.join(makeTempDir('proxy-out'), 'RESTORED');
  const r = await runCli('barman-cloud-wal-restore', [...args, dest, 'srv', SEGMENT, out], { env: { ...CLEAN, ...env } });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(fs.readFileSync(out).equals(bytes), 'restored bytes equal the archived segment');
}

/** wal-archive and wal-restore through the proxy that wants credentials, with a wrong password. */
async function refused(args: string[], dest: string, env: Record<string, string | undefined>): Promise<CliResult[]> {
  const file = path.join(makeTempDir('proxy-wal'), SEGMENT);
  fs.writeFileSync(file, syntheticSegment(SEGMENT));
  const before = authProxy.refused;
  const options = { env: { ...CLEAN, ...env }, timeoutMs: 90_000 };
  const archive = await runCli('barman-cloud-wal-archive', [...args, dest, 'srv', file], options);
  const restore = await runCli('barman-cloud-wal-restore', [...args, dest, 'srv', SEGMENT, path.join(makeTempDir('proxy-out'), 'R')], options);
  assert.ok(authProxy.refused > before, 'the proxy was asked');
  return [archive, restore];
}

/** Exit 4 (ERR_STORAGE_REQUEST, as S3's): not 1, which a restore_command reads as "no such WAL". */
function assertRefusedLine(r: CliResult, port: string): void {
  assert.equal(r.code, 4, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.ok(!r.stderr.includes(WRONG) && !r.stdout.includes(WRONG), r.stderr);
  assert.match(r.stderr, new RegExp(`the proxy refused it \\(HTTP 407 Proxy Authentication Required, at .* through the proxy http://127\\.0\\.0\\.1:${port}\\); check the user and password`), r.stderr);
}

describe('Azure Blob Storage (lean store) through a proxy', () => {
  const azArgs = ['--cloud-provider', 'azure-blob-storage'];
  const dest = (az: AzuriteInfo, name: string): string => `${az.accountUrl}/${TEST_BUCKET}/${uniquePrefix(name)}`;

  it('HTTP_PROXY: the lean requests of wal-archive and wal-restore go through it in absolute form; bytes equal', async (t) => {
    const az = requireServer(t, 'azurite');
    if (!az) return;
    const mark = proxy.seen.length;
    await roundTrip(azArgs, dest(az, 'azproxy-http'), { AZURE_STORAGE_KEY: az.accountKey, http_proxy: proxy.url });
    const seen = since(proxy, mark);
    const origin = new URL(az.accountUrl).origin;
    assert.ok(seen.some((s) => s.line.startsWith(`PUT ${origin}/devstoreaccount1/${TEST_BUCKET}/`)), seen.map((s) => s.line).join('\n'));
    assert.ok(seen.some((s) => s.line.startsWith(`GET ${origin}/devstoreaccount1/${TEST_BUCKET}/`)), seen.map((s) => s.line).join('\n'));
    // The lean store's own user agent; the SDK's carries "azsdk-js".
    assert.ok(seen.every((s) => /^pgstow\/\S+ Node\//.test(String(s.headers['user-agent']))), seen.map((s) => `${s.line} ${String(s.headers['user-agent'])}`).join('\n'));
  });

  it('HTTPS_PROXY to Azurite over TLS: a CONNECT tunnel, the private CA (REQUESTS_CA_BUNDLE) inside it', async (t) => {
    const az = requireServer(t, 'azuriteTls');
    if (!az) return;
    const mark = proxy.seen.length;
    await roundTrip(azArgs, dest(az, 'azproxy-tls'), { AZURE_STORAGE_KEY: az.accountKey, REQUESTS_CA_BUNDLE: testEnv().tls.caFile, HTTPS_PROXY: proxy.url });
    const seen = proxy.seen.slice(mark);
    assert.ok(seen.length >= 2, seen.join('\n'));
    assert.ok(seen.every((s) => s === `CONNECT ${new URL(az.accountUrl).host}`), seen.join('\n'));
  });

  it('a backup-sized stream of unknown length (block upload) goes through the proxy too; bytes equal', async (t) => {
    const az = requireServer(t, 'azurite');
    if (!az) return;
    const { store, prefix } = await openAzure(az, { ...CLEAN, AZURE_STORAGE_KEY: az.accountKey, HTTP_PROXY: proxy.url });
    const mark = proxy.seen.length;
    const data = Buffer.alloc(24 * 1024 * 1024, 3);
    try {
      await store.put(`${prefix}big`, Readable.from([data.subarray(0, 4 << 20), data.subarray(4 << 20)]));
      assert.ok((await readAll(store, `${prefix}big`)).equals(data), 'the stored object equals what was sent');
    } finally {
      await store.close();
    }
    const seen = proxy.seen.slice(mark);
    assert.ok(seen.some((s) => s.startsWith('PUT ') && s.includes('comp=block')), seen.join('\n'));
    assert.ok(seen.some((s) => s.startsWith('PUT ') && s.includes('comp=blocklist')), seen.join('\n'));
  });

  it('NO_PROXY naming the endpoint (a CIDR range): direct, the proxy sees nothing', async (t) => {
    const az = requireServer(t, 'azurite');
    if (!az) return;
    const mark = proxy.seen.length;
    await roundTrip(azArgs, dest(az, 'azproxy-bypass'), { AZURE_STORAGE_KEY: az.accountKey, HTTP_PROXY: proxy.url, NO_PROXY: 'example.com, 127.0.0.0/8' });
    assert.deepEqual(proxy.seen.slice(mark), []);
  });

  it('a proxy that wants credentials (CONNECT to Azurite over TLS): the right ones work; wrong ones fail in one line naming it, exit 4', async (t) => {
    const az = requireServer(t, 'azuriteTls');
    if (!az) return;
    const port = new URL(authProxy.url).port;
    const base = { AZURE_STORAGE_KEY: az.accountKey, REQUESTS_CA_BUNDLE: testEnv().tls.caFile };
    await roundTrip(azArgs, dest(az, 'azproxy-auth'), { ...base, HTTPS_PROXY: `http://pxuser:${PASSWORD}@127.0.0.1:${port}` });
    for (const r of await refused(azArgs, dest(az, 'azproxy-denied'), { ...base, HTTPS_PROXY: `http://pxuser:${WRONG}@127.0.0.1:${port}` })) {
      assertRefusedLine(r, port);
      assert.ok(!r.stderr.includes(az.accountKey), r.stderr);
    }
  });
});

describe('Google Cloud Storage (lean requests and tokens) through a proxy', () => {
  const gsArgs = ['--cloud-provider', 'google-cloud-storage'];
  const dest = (name: string): string => `gs://${TEST_BUCKET}/${uniquePrefix(name)}`;
  /** An emulator that wants tokens: from a service-account key's token endpoint or its metadata server. */
  let em: GcsEmulator | undefined;
  let keyFile = '';
  const TOKEN = 'pgstow-proxy-token';
  before(async () => {
    if (!requireServer(undefined, 'gcs')) return;
    const keyDir = makeTempDir('gcs-proxy-key');
    // The emulator reads the key when a token is asked for; the key names the emulator's token endpoint.
    keyFile = path.join(keyDir, 'sa.json');
    em = await startGcsEmulator({ requireToken: TOKEN, tmpDir: keyDir, saKeyFile: keyFile });
    fs.renameSync(writeServiceAccountKey(keyDir, 'proxy-sa', `${em.endpoint}/oauth2/token`), keyFile);
  });
  after(async () => { await em?.stop(); });

  it('HTTP_PROXY: the single-request upload, metadata and media requests go through it, not the SDK; bytes equal', async (t) => {
    const gcs = requireServer(t, 'gcs');
    if (!gcs) return;
    const mark = proxy.seen.length;
    await roundTrip(gsArgs, dest('gsproxy-http'), { STORAGE_EMULATOR_HOST: gcs.endpoint, HTTP_PROXY: proxy.url });
    const seen = since(proxy, mark);
    const origin = new URL(gcs.endpoint).origin;
    const lines = seen.map((s) => s.line).join('\n');
    assert.ok(seen.some((s) => s.line.startsWith(`POST ${origin}/upload/storage/v1/b/${TEST_BUCKET}/o?`)), lines);
    assert.ok(seen.some((s) => s.line.startsWith(`GET ${origin}/storage/v1/b/${TEST_BUCKET}/o/`) && s.line.includes('alt=media')), lines);
    assert.ok(seen.every((s) => s.headers['x-goog-api-client'] === undefined), `the SDK sent some: ${lines}`);
  });

  it('a backup-sized stream of unknown length (a resumable session of its own) goes through the proxy too; bytes equal', async (t) => {
    const gcs = requireServer(t, 'gcs');
    if (!gcs) return;
    const prefix = uniquePrefix('gsproxy-big');
    const store = await openGcs({ ...CLEAN, STORAGE_EMULATOR_HOST: gcs.endpoint, GOOGLE_CLOUD_PROJECT: gcs.projectId, HTTP_PROXY: proxy.url } as Record<string, string>, { prefix });
    const mark = proxy.seen.length;
    const data = Buffer.alloc(5 * SMALL_CHUNK + 12_345, 7);
    try {
      await store.put(`${prefix}/big`, Readable.from([data.subarray(0, 3 << 20), data.subarray(3 << 20)]));
      assert.ok((await readAll(store, `${prefix}/big`)).equals(data), 'the stored object equals what was sent');
    } finally {
      await store.close();
    }
    const seen = since(proxy, mark);
    const lines = seen.map((s) => s.line).join('\n');
    assert.ok(seen.some((s) => s.line.startsWith('POST ') && s.line.includes('uploadType=resumable')), lines);
    assert.ok(seen.filter((s) => s.line.startsWith('PUT ')).length >= 5, `the chunks through the proxy: ${lines}`);
    assert.ok(seen.every((s) => s.headers['x-goog-api-client'] === undefined), `the SDK sent some: ${lines}`);
  });

  it('HTTPS_PROXY to the emulator over TLS: a CONNECT tunnel, the private CA (--endpoint-ca) inside it', async (t) => {
    if (!requireServer(t, 'gcs')) return;
    const tls = testEnv().tls;
    const secure = await startGcsEmulator({ tls: { certFile: tls.certFile, keyFile: tls.keyFile }, tmpDir: dir });
    try {
      const mark = proxy.seen.length;
      await roundTrip([...gsArgs, '--endpoint-ca', tls.caFile], dest('gsproxy-tls'), { STORAGE_EMULATOR_HOST: secure.endpoint, HTTPS_PROXY: proxy.url });
      const seen = proxy.seen.slice(mark);
      assert.ok(seen.length >= 2, seen.join('\n'));
      assert.ok(seen.every((s) => s === `CONNECT ${new URL(secure.endpoint).host}`), seen.join('\n'));
    } finally {
      await secure.stop();
    }
  });

  it('NO_PROXY naming the endpoint host: direct, the proxy sees nothing', async (t) => {
    const gcs = requireServer(t, 'gcs');
    if (!gcs) return;
    const mark = proxy.seen.length;
    await roundTrip(gsArgs, dest('gsproxy-bypass'), { STORAGE_EMULATOR_HOST: gcs.endpoint, HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' });
    assert.deepEqual(proxy.seen.slice(mark), []);
  });

  it('a service-account key: its token request goes through the proxy too (as google-auth-library sends it)', async (t) => {
    if (!em) { t.skip('gcs not available'); return; }
    const mark = proxy.seen.length;
    await roundTrip([...gsArgs, '--endpoint-url', em.endpoint], dest('gsproxy-key'), { GOOGLE_APPLICATION_CREDENTIALS: keyFile, HTTP_PROXY: proxy.url });
    const seen = proxy.seen.slice(mark);
    assert.ok(seen.some((s) => s === `POST ${em?.endpoint}/oauth2/token`), seen.join('\n'));
    assert.ok(seen.some((s) => s.startsWith(`POST ${em?.endpoint}/upload/`)), seen.join('\n'));
  });

  it('the metadata server: through the proxy unless NO_PROXY names it (as google-auth-library); the store requests alike', async (t) => {
    if (!em) { t.skip('gcs not available'); return; }
    const env = { GCE_METADATA_HOST: em.metadataHost, HOME: dir, HTTP_PROXY: proxy.url };
    let mark = proxy.seen.length;
    await roundTrip([...gsArgs, '--endpoint-url', em.endpoint], dest('gsproxy-md'), env);
    assert.ok(proxy.seen.slice(mark).some((s) => s.startsWith(`GET ${em?.endpoint}/computeMetadata/v1/instance/service-accounts/default/token`)), proxy.seen.slice(mark).join('\n'));
    mark = proxy.seen.length;
    await roundTrip([...gsArgs, '--endpoint-url', em.endpoint], dest('gsproxy-md-bypass'), { ...env, NO_PROXY: em.metadataHost });
    const seen = proxy.seen.slice(mark);
    assert.ok(!seen.some((s) => s.includes('/computeMetadata/')), seen.join('\n'));
    assert.deepEqual(seen, [], 'NO_PROXY names host:port, which the endpoint shares');
  });

  it('a proxy that wants credentials: the right ones in its URL work; wrong ones fail in one line naming it, exit 4', async (t) => {
    const gcs = requireServer(t, 'gcs');
    if (!gcs) return;
    const port = new URL(authProxy.url).port;
    await roundTrip(gsArgs, dest('gsproxy-auth'), { STORAGE_EMULATOR_HOST: gcs.endpoint, HTTP_PROXY: `http://pxuser:${PASSWORD}@127.0.0.1:${port}` });
    for (const r of await refused(gsArgs, dest('gsproxy-denied'), { STORAGE_EMULATOR_HOST: gcs.endpoint, HTTP_PROXY: `http://pxuser:${WRONG}@127.0.0.1:${port}` })) {
      assertRefusedLine(r, port);
    }
  });
});
