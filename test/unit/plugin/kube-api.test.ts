/**
 * The plugin's Kubernetes access against the loopback API server: ObjectStores and Secrets cached at most the
 * TTL (rotation visible after it), a missing ObjectStore named in the error, status updates that survive a
 * conflicting writer, Backup listing by label and deletion.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
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
