/**
 * The plugin's Kubernetes access against the loopback API server: ObjectStores and Secrets cached at most the
 * TTL (rotation visible after it), a missing ObjectStore named in the error, status updates that survive a
 * conflicting writer, Backup listing by label and deletion; a server that never answers fails the call within the
 * timeout; a kubeconfig's proxy-url (HTTP CONNECT and SOCKS5) is honoured.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { isPgstowError } from '../../../src/errors.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';
import { startFakeKubernetesApi, type FakeKubernetesApi } from '../../harness/fake-kubernetes-api.js';
import { KubeApi, OBJECT_STORE_GROUP } from '../../../src/plugin/kube/kube-api.js';
import { PluginConfigError } from '../../../src/plugin/plugin-errors.js';

let dir: string;
let api: FakeKubernetesApi;
before(async () => { dir = makeTempDir('kube-api'); api = await startFakeKubernetesApi(dir); });
after(async () => { await api.close(); removeDir(dir); });

const store = (name: string, dest: string): Record<string, unknown> => ({
  apiVersion: 'barmancloud.cnpg.io/v1', kind: 'ObjectStore', metadata: { name, namespace: 'db' },
  spec: { configuration: { destinationPath: dest, s3Credentials: { accessKeyId: { name: 'creds', key: 'ID' }, secretAccessKey: { name: 'creds', key: 'KEY' } } } },
});

test('ObjectStore reads are cached for the TTL, then read again; a missing one is named', async () => {
  let clock = 1_000_000;
  const kube = new KubeApi({ env: {}, kubeconfig: api.kubeconfig, ttlMs: 10_000, now: () => clock });
  api.putObject(OBJECT_STORE_GROUP, 'objectstores', store('minio', 's3://one/'));
  const first = await kube.getObjectStore('db', 'minio');
  assert.equal((first.spec as { configuration: { destinationPath: string } }).configuration.destinationPath, 's3://one/');
  api.putObject(OBJECT_STORE_GROUP, 'objectstores', store('minio', 's3://two/'));
  clock += 9_000;
  assert.equal(((await kube.getObjectStore('db', 'minio')).spec as { configuration: { destinationPath: string } }).configuration.destinationPath, 's3://one/');
  clock += 1_000;
  assert.equal(((await kube.getObjectStore('db', 'minio')).spec as { configuration: { destinationPath: string } }).configuration.destinationPath, 's3://two/');
  await assert.rejects(kube.getObjectStore('db', 'nope'), (e: unknown) => e instanceof PluginConfigError && /ObjectStore db\/nope \(barmancloud.cnpg.io\/v1\) not found/.test(e.message));
});

test('Secrets rotate after the TTL', async () => {
  let clock = 5_000_000;
  const kube = new KubeApi({ env: {}, kubeconfig: api.kubeconfig, ttlMs: 10_000, now: () => clock });
  api.setSecret('db', 'creds', { ID: 'old-id', KEY: 'old-key' });
  const source = kube.secrets();
  assert.deepEqual(await source.lookup('db', 'creds', 'KEY'), { found: true, value: 'old-key', origin: `Kubernetes API at ${api.url} (Secret db/creds)`, version: String(api.secrets.get('db/creds')?.resourceVersion) });
  api.setSecret('db', 'creds', { ID: 'new-id', KEY: 'new-key' });
  clock += 5_000;
  assert.equal((await source.lookup('db', 'creds', 'KEY') as { value: string }).value, 'old-key');
  clock += 5_000;
  assert.equal((await source.lookup('db', 'creds', 'KEY') as { value: string }).value, 'new-key');
});

test('status updates write only the status subresource and retry after a conflicting writer', async () => {
  const kube = new KubeApi({ env: {}, kubeconfig: api.kubeconfig });
  api.putObject(OBJECT_STORE_GROUP, 'objectstores', store('st', 's3://st/'));
  let calls = 0;
  const wrote = await kube.updateStatus(OBJECT_STORE_GROUP, 'v1', 'objectstores', 'db', 'st', (status) => {
    calls++;
    // Another writer changes the object between our read and our write, once.
    if (calls === 1) api.putObject(OBJECT_STORE_GROUP, 'objectstores', { ...store('st', 's3://st/'), status: { other: true } });
    return { ...status, serverRecoveryWindow: { pg: { lastArchivedWAL: '000000010000000000000001' } } };
  });
  assert.equal(wrote, true);
  assert.equal(calls, 2);
  const saved = api.getObject(OBJECT_STORE_GROUP, 'objectstores', 'db', 'st') as { status: Record<string, unknown> };
  assert.deepEqual(saved.status, { other: true, serverRecoveryWindow: { pg: { lastArchivedWAL: '000000010000000000000001' } } });
  assert.equal(await kube.updateStatus(OBJECT_STORE_GROUP, 'v1', 'objectstores', 'db', 'st', () => undefined), false);
});

test('Backups are listed by label and deleted; a 403 names the call', async () => {
  const kube = new KubeApi({ env: {}, kubeconfig: api.kubeconfig });
  const backup = (name: string, cluster: string): Record<string, unknown> => ({ apiVersion: 'postgresql.cnpg.io/v1', kind: 'Backup', metadata: { name, namespace: 'db', labels: { 'cnpg.io/cluster': cluster } } });
  api.putObject('postgresql.cnpg.io', 'backups', backup('b1', 'pg'));
  api.putObject('postgresql.cnpg.io', 'backups', backup('b2', 'other'));
  const mine = await kube.list('postgresql.cnpg.io', 'v1', 'backups', 'db', 'cnpg.io/cluster=pg');
  assert.deepEqual(mine.map((b) => b.metadata?.name), ['b1']);
  assert.equal(await kube.delete('postgresql.cnpg.io', 'v1', 'backups', 'db', 'b1'), true);
  assert.equal(await kube.delete('postgresql.cnpg.io', 'v1', 'backups', 'db', 'b1'), false);
  api.forbiddenRequests.add('DELETE /apis/postgresql.cnpg.io/v1/namespaces/db/backups/b2');
  await assert.rejects(kube.delete('postgresql.cnpg.io', 'v1', 'backups', 'db', 'b2'), /not allowed to delete backups.postgresql.cnpg.io db\/b2 \(403/);
});

test('an API server that accepts the connection and never answers fails the call within the timeout, as unreachable (exit 2)', async () => {
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((socket) => { sockets.add(socket); socket.on('error', () => undefined); });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  try {
    const kc = path.join(dir, 'silent-kubeconfig');
    fs.writeFileSync(kc, fs.readFileSync(api.kubeconfig, 'utf8').replace(api.url, `https://127.0.0.1:${(silent.address() as net.AddressInfo).port}`));
    const kube = new KubeApi({ env: {}, kubeconfig: kc, timeoutMs: 300 });
    const started = Date.now();
    const err = await kube.getObjectStore('db', 'minio').then(() => undefined, (e: unknown) => e);
    assert.ok(isPgstowError(err), String(err));
    assert.equal(err.code, 'ERR_KUBERNETES_UNREACHABLE');
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /cannot reach the Kubernetes API at https:\/\/127\.0\.0\.1:\d+ to get objectstores\.barmancloud\.cnpg\.io db\/minio: ETIMEDOUT/);
    assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
    const secret = await kube.secrets().lookup('db', 'creds', 'KEY').then(() => undefined, (e: unknown) => e);
    assert.match(String((secret as Error | undefined)?.message), /cannot reach the Kubernetes API at .* to read Secret db\/creds: ETIMEDOUT/);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }
});

test('a kubeconfig proxy-url is honoured: HTTPS to the API server through the proxy\'s CONNECT tunnel', async () => {
  const tunnels: string[] = [];
  const open = new Set<net.Socket>();
  const proxy = http.createServer((_req, res) => { res.statusCode = 405; res.end(); });
  proxy.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    tunnels.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    open.add(client).add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  try {
    await readsThroughProxy('proxied', `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`);
    assert.deepEqual(tunnels, [new URL(api.url).host]);
  } finally {
    for (const socket of open) socket.destroy();
    proxy.closeAllConnections();
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
  }
});

/** A SOCKS5 server (no authentication, CONNECT only) that records where each tunnel went. */
async function startSocks5(tunnels: string[], open: Set<net.Socket>): Promise<net.Server> {
  const server = net.createServer((client) => {
    open.add(client);
    client.on('error', () => undefined);
    client.once('data', (hello: Buffer) => {
      if (hello[0] !== 5) { client.destroy(); return; }
      client.write(Buffer.from([5, 0]));
      client.once('data', (req: Buffer) => {
        // VER CMD RSV ATYP(1: IPv4, 3: name) ADDR PORT
        const host = req[3] === 1 ? [...req.subarray(4, 8)].join('.') : req.subarray(5, 5 + (req[4] ?? 0)).toString();
        const port = req.readUInt16BE(req.length - 2);
        tunnels.push(`${host}:${port}`);
        const upstream = net.connect(port, host, () => {
          client.write(Buffer.from([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]));
          upstream.pipe(client);
          client.pipe(upstream);
        });
        open.add(upstream);
        upstream.on('error', () => client.destroy());
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

test('a kubeconfig socks5:// proxy-url is honoured (the SOCKS agent is loaded from node_modules when first used)', async () => {
  const tunnels: string[] = [];
  const open = new Set<net.Socket>();
  const socks = await startSocks5(tunnels, open);
  try {
    await readsThroughProxy('socks', `socks5://127.0.0.1:${(socks.address() as net.AddressInfo).port}`);
    assert.deepEqual(tunnels, [new URL(api.url).host]);
  } finally {
    for (const socket of open) socket.destroy();
    await new Promise<void>((resolve) => socks.close(() => resolve()));
  }
});

/** An ObjectStore read with a kubeconfig whose cluster names `proxyUrl`: the object arrives whole. */
async function readsThroughProxy(name: string, proxyUrl: string): Promise<void> {
  const kc = path.join(dir, `${name}-kubeconfig`);
  fs.writeFileSync(kc, fs.readFileSync(api.kubeconfig, 'utf8').replace(`    server: ${api.url}`, `    server: ${api.url}\n    proxy-url: ${proxyUrl}`));
  const kube = new KubeApi({ env: {}, kubeconfig: kc });
  api.putObject(OBJECT_STORE_GROUP, 'objectstores', store(name, `s3://${name}/`));
  const got = await kube.getObjectStore('db', name);
  assert.equal((got.spec as { configuration: { destinationPath: string } }).configuration.destinationPath, `s3://${name}/`);
}
