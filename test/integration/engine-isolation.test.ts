/**
 * No process-global state: engines in one process, each with its own identity, used at the same time.
 * - moto: two IAM users (the harness's admin and a user limited to one prefix);
 * - Azurite: two storage accounts with their own keys (a private Azurite started with both);
 * - across providers: moto, Azurite and the GCS emulator at once.
 * Recording proxies show which identity signed every request; each engine sees only its own objects, a key of
 * one account opens nothing of the other, and process.env is the same before and after.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { requireServer } from '../harness/test-env.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';
import { SERVERS_DIR } from '../harness/postgres.js';
import { startProcess } from '../harness/servers/process.js';
import { createContainer } from '../harness/servers/azurite.js';
import { openEngine, PgstowError, type Engine, type EngineSettings } from '../../src/engine/index.js';
import { syntheticSegment } from '../harness/wal-segments.js';

interface Recorded { identity: string; path: string }

/** Forwards to `target` and records the identity in each request's Authorization header (SigV4 key id or SharedKey account). */
async function recordingProxy(target: string): Promise<{ url: string; requests: Recorded[]; close(): Promise<void> }> {
  const t = new URL(target);
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const auth = req.headers.authorization ?? '';
    const identity = /Credential=([^/]+)\//.exec(auth)?.[1] ?? /^SharedKey ([^:]+):/.exec(auth)?.[1] ?? '(unsigned)';
    requests.push({ identity, path: decodeURIComponent((req.url ?? '').split('?')[0] ?? '') });
    const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      pipeline(r, res).catch(() => res.destroy());
    });
    up.on('error', () => res.destroy());
    pipeline(req, up).catch(() => up.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** Archives `count` fresh WAL files and restores each byte-identical; returns the keys written. */
async function roundTrip(engine: Engine, dir: string, count: number): Promise<string[]> {
  const keys: string[] = [];
  for (let i = 1; i <= count; i++) {
    const name = `0000000100000000000000${i.toString(16).toUpperCase().padStart(2, '0')}`;
    const file = path.join(dir, name);
    fs.writeFileSync(file, syntheticSegment(name, { randomPayloadUntil: 1024 * 1024 })); // restore checks it is that WAL segment
    keys.push((await engine.archiveWal(file)).key);
    await engine.restoreWal(name, path.join(dir, `${name}.back`));
    assert.deepEqual(fs.readFileSync(path.join(dir, `${name}.back`)), fs.readFileSync(file));
  }
  return keys;
}

function envSnapshot(): string {
  return JSON.stringify(Object.entries(process.env).sort(([a], [b]) => (a < b ? -1 : 1)));
}

test('two moto IAM users in one process, concurrently: each request signed by its own engine\'s key, each sees only its objects', async (t) => {
  const moto = requireServer(t, 'moto');
  if (!moto) return;
  const { limitedAccessKeyId, limitedSecretAccessKey, limitedPrefix } = moto.extra ?? {};
  if (!limitedAccessKeyId || !limitedSecretAccessKey || !limitedPrefix) assert.fail('the moto harness must provide its limited IAM user');
  const proxy = await recordingProxy(moto.endpoint);
  t.after(() => proxy.close());
  const dir = makeTempDir('isolation-moto');
  t.after(() => removeDir(dir));
  const before = envSnapshot();
  const common = { endpointUrl: proxy.url, s3: { region: moto.region } };
  const prefixA = uniquePrefix('iso-admin');
  const prefixB = `${limitedPrefix}/${uniquePrefix('iso-limited')}`;
  const a = await openEngine({ destination: `s3://${TEST_BUCKET}/${prefixA}`, serverName: 'a', ...common,
    credentials: { kind: 's3-access-key', accessKeyId: moto.accessKeyId, secretAccessKey: moto.secretAccessKey } });
  const b = await openEngine({ destination: `s3://${TEST_BUCKET}/${prefixB}`, serverName: 'b', ...common,
    credentials: { kind: 's3-access-key', accessKeyId: limitedAccessKeyId, secretAccessKey: limitedSecretAccessKey } });
  t.after(async () => { await a.close(); await b.close(); });
  fs.mkdirSync(path.join(dir, 'a'));
  fs.mkdirSync(path.join(dir, 'b'));
  const [keysA, keysB] = await Promise.all([roundTrip(a, path.join(dir, 'a'), 4), roundTrip(b, path.join(dir, 'b'), 4)]);
  assert.ok(keysA.every((k) => k.startsWith(`${prefixA}/a/`)) && keysB.every((k) => k.startsWith(`${prefixB}/b/`)));

  const byA = proxy.requests.filter((r) => r.path.includes(`/${prefixA}/`));
  const byB = proxy.requests.filter((r) => r.path.includes(`/${prefixB}/`));
  assert.ok(byA.length >= 8 && byB.length >= 8, `requests went through the proxy (${byA.length}, ${byB.length})`);
  assert.deepEqual([...new Set(byA.map((r) => r.identity))], [moto.accessKeyId], 'engine a signed only with its key');
  assert.deepEqual([...new Set(byB.map((r) => r.identity))], [limitedAccessKeyId], 'engine b signed only with its key');

  // The limited identity opens nothing of the other's: its key, on a's destination, is refused.
  const intruder = await openEngine({ destination: `s3://${TEST_BUCKET}/${prefixA}`, serverName: 'a', ...common,
    credentials: { kind: 's3-access-key', accessKeyId: limitedAccessKeyId, secretAccessKey: limitedSecretAccessKey } });
  t.after(() => intruder.close());
  await assert.rejects(intruder.restoreWal('000000010000000000000001', path.join(dir, 'stolen')),
    (err: unknown) => err instanceof PgstowError && err.code === 'ERR_ACCESS_DENIED');
  assert.ok(!fs.existsSync(path.join(dir, 'stolen')));
  // Each engine's catalog of WAL is its own.
  assert.deepEqual((await a.listBackups({ withWal: true })).wal?.walObjects, 4);
  assert.deepEqual((await b.listBackups({ withWal: true })).wal?.walObjects, 4);
  assert.equal(envSnapshot(), before, 'process.env was not touched');
});

test('two Azurite accounts with their own keys, and moto, Azurite and GCS at once: each engine with its own identity', async (t) => {
  const moto = requireServer(t, 'moto');
  const gcs = requireServer(t, 'gcs');
  if (!requireServer(t, 'azurite') || !moto || !gcs) return;
  const dir = makeTempDir('isolation-azure');
  t.after(() => removeDir(dir));
  // A private Azurite with two accounts (the harness's has the one well-known development account).
  const keyOne = randomBytes(64).toString('base64');
  const keyTwo = randomBytes(64).toString('base64');
  const bin = path.join(SERVERS_DIR, 'node_modules', 'azurite', 'dist', 'src', 'blob', 'main.js');
  const azurite = await startProcess(process.execPath, [bin, '--blobHost', '127.0.0.1', '--blobPort', '0', '--location', dir, '--skipApiVersionCheck', '--loose', '--disableTelemetry', '--silent'],
    /successfully listens on (https?:\/\/[\d.]+:\d+)/, { name: 'azurite-two-accounts', cwd: dir, timeoutMs: 60_000, env: { ...process.env, AZURITE_ACCOUNTS: `acctone:${keyOne};accttwo:${keyTwo}` } });
  t.after(() => azurite.stop());
  const endpoint = azurite.match[1] as string;
  for (const [account, accountKey] of [['acctone', keyOne], ['accttwo', keyTwo]] as const) {
    await createContainer({ accountUrl: `${endpoint}/${account}`, account, accountKey, connectionString: '' }, 'backups');
  }
  const proxy = await recordingProxy(endpoint);
  t.after(() => proxy.close());
  const before = envSnapshot();
  const azure = (account: string, accountKey: string): EngineSettings => ({
    destination: `${proxy.url}/${account}/backups/pg`, serverName: account, provider: 'azure-blob-storage', credentials: { kind: 'azure-shared-key', accountKey },
  });
  const one = await openEngine(azure('acctone', keyOne));
  const two = await openEngine(azure('accttwo', keyTwo));
  const s3 = await openEngine({ destination: `s3://${TEST_BUCKET}/${uniquePrefix('iso-x')}`, serverName: 's3', endpointUrl: moto.endpoint, s3: { region: moto.region },
    credentials: { kind: 's3-access-key', accessKeyId: moto.accessKeyId, secretAccessKey: moto.secretAccessKey } });
  const gs = await openEngine({ destination: `gs://${TEST_BUCKET}/${uniquePrefix('iso-x')}`, serverName: 'gs', endpointUrl: gcs.endpoint, gcs: { emulator: true },
    credentials: { kind: 'gcs-anonymous' } });
  const engines = { one, two, s3, gs };
  t.after(async () => { for (const e of Object.values(engines)) await e.close(); });
  for (const name of Object.keys(engines)) fs.mkdirSync(path.join(dir, `wal-${name}`));
  const keys = await Promise.all(Object.entries(engines).map(([name, e]) => roundTrip(e, path.join(dir, `wal-${name}`), 3)));
  assert.deepEqual(keys.map((k) => k.length), [3, 3, 3, 3]);

  const forAccount = (acct: string): Recorded[] => proxy.requests.filter((r) => r.path.startsWith(`/${acct}/`));
  assert.ok(forAccount('acctone').length >= 6 && forAccount('accttwo').length >= 6);
  assert.deepEqual([...new Set(forAccount('acctone').map((r) => r.identity))], ['acctone'], 'account one signed with its own key only');
  assert.deepEqual([...new Set(forAccount('accttwo').map((r) => r.identity))], ['accttwo'], 'account two signed with its own key only');
  // Account one's key opens nothing of account two.
  const wrong = await openEngine({ ...azure('accttwo', keyOne) });
  t.after(() => wrong.close());
  await assert.rejects(wrong.restoreWal('000000010000000000000001', path.join(dir, 'stolen')), (err: unknown) => err instanceof PgstowError && err.exitCode === 1 && err.code !== 'ERR_WAL_NOT_FOUND');
  assert.ok(!fs.existsSync(path.join(dir, 'stolen')));
  assert.equal(envSnapshot(), before, 'process.env was not touched');
});
