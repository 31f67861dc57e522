/**
 * `pgstow plugin operator` as CloudNativePG's operator meets it: the Deployment's flags, mutual TLS 1.3 with
 * cert-manager-style certificates, CNPG's plugin loading sequence, the lifecycle hooks on Pods and Jobs shaped
 * as CNPG marshals them (patches applied with an RFC 6902 library), the reconciler creating exactly-limited
 * RBAC in the loopback Kubernetes API server, SetStatusInCluster, wrong certificates refused, rotation.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { applyPatch } from 'rfc6902';
import { startFakeKubernetesApi, type FakeKubernetesApi } from '../../harness/fake-kubernetes-api.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';
import type { CnpgiClient } from '../../../src/plugin/protocol/client.js';
import { fileURLToPath } from 'node:url';
import { cnpgClient, DEADLINE, mountSecrets, selfSigned, startOperator, type CertPair, type Mounts, type OperatorProcess } from './operator-harness.js';
import { fixture, objectStore, recoveryCluster, type Json } from '../../unit/plugin/operator/fixtures.js';

const IMAGE = 'registry.example/pgstow:0.1.0';
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
let dir: string;
let api: FakeKubernetesApi;
let server: CertPair;
let client: CertPair;
let mounts: Mounts;
let op: OperatorProcess;
let cnpg: CnpgiClient;

/** The args of deploy/deployment.yaml, with the mount paths and a free loopback port. */
function deploymentArgs(m: Mounts): string[] {
  const deployment = parseAllDocuments(fs.readFileSync(path.join(repo, 'deploy/deployment.yaml'), 'utf8'))[0]?.toJS() as Json;
  const args = deployment.spec.template.spec.containers[0].args as string[];
  assert.deepEqual(args.slice(0, 2), ['plugin', 'operator']);
  return args.slice(2).map((a) => a
    .replace('=/server/tls.crt', `=${m.serverCert}`).replace('=/server/tls.key', `=${m.serverKey}`).replace('=/client/tls.crt', `=${m.clientCert}`)
    .replace(/^--server-address=:\d+$/, '--server-address=127.0.0.1:0'));
}

before(async () => {
  dir = makeTempDir('operator-server');
  api = await startFakeKubernetesApi(path.join(dir, 'kube'), 'default');
  server = selfSigned(path.join(dir, 'certs'), 'server', 'barman-cloud', 'serverAuth');
  client = selfSigned(path.join(dir, 'certs'), 'client', 'barman-cloud-client', 'clientAuth');
  mounts = mountSecrets(path.join(dir, 'mounts'), server, client);
  api.putObject('barmancloud.cnpg.io', 'objectstores', objectStore('minio-store'));
  op = await startOperator(deploymentArgs(mounts), { KUBECONFIG: api.kubeconfig, SIDECAR_IMAGE: IMAGE, PGSTOW_TLS_RELOAD_MS: '200' });
  cnpg = await cnpgClient(op.port, mounts.serverCert, client);
});

after(async () => {
  cnpg?.close();
  if (op) assert.equal(await op.stop(), 0, 'SIGTERM: clean exit');
  await api?.close();
  removeDir(dir);
});

const bytes = (o: unknown): Buffer => Buffer.from(JSON.stringify(o));

function apply(object: Json, patch: Buffer | Uint8Array): Json {
  const copy = structuredClone(object);
  if (patch.length === 0) return copy;
  const errors = applyPatch(copy, JSON.parse(Buffer.from(patch).toString('utf8')));
  assert.deepEqual(errors.filter((e) => e !== null).map(String), []);
  return copy;
}

test('CNPG loads the plugin: metadata, exactly the capabilities served, each service\'s GetCapabilities, Probe', async () => {
  const meta = await cnpg.call('Identity', 'GetPluginMetadata', {}, DEADLINE);
  assert.equal(meta.name, 'barman-cloud.cloudnative-pg.io');
  const caps = await cnpg.call('Identity', 'GetPluginCapabilities', {}, DEADLINE);
  const types = caps.capabilities.map((c) => c.service?.type).sort();
  assert.deepEqual(types, ['TYPE_INSTANCE_SIDECAR_INJECTION', 'TYPE_LIFECYCLE_SERVICE', 'TYPE_OPERATOR_SERVICE', 'TYPE_RECONCILER_HOOKS']);
  const lifecycle = await cnpg.call('OperatorLifecycle', 'GetCapabilities', {}, DEADLINE);
  assert.deepEqual(lifecycle.lifecycle_capabilities.map((c) => `${c.group}/${c.kind}:${c.operation_types.map((o) => o.type).join(',')}`),
    ['/Pod:TYPE_CREATE,TYPE_EVALUATE', 'batch/Job:TYPE_CREATE']);
  const reconciler = await cnpg.call('ReconcilerHooks', 'GetCapabilities', {}, DEADLINE);
  assert.deepEqual(reconciler.reconciler_capabilities.map((c) => c.kind), ['KIND_CLUSTER', 'KIND_BACKUP']);
  const operator = await cnpg.call('Operator', 'GetCapabilities', {}, DEADLINE);
  assert.deepEqual(operator.capabilities.map((c) => c.rpc?.type), ['TYPE_SET_STATUS_IN_CLUSTER']);
  await cnpg.call('Identity', 'Probe', {}, DEADLINE);
  // Nothing else is served: what is not advertised answers UNIMPLEMENTED.
  await assert.rejects(cnpg.call('WAL', 'GetCapabilities', {}, DEADLINE), /UNIMPLEMENTED/);
});

test('Pod CREATE then EVALUATE: the sidecar patch applies; EVALUATE of the patched Pod is a no-op; same input, same bytes', async () => {
  const cluster = bytes(fixture('cluster.json'));
  const pod = fixture('pod.json');
  const create = await cnpg.call('OperatorLifecycle', 'LifecycleHook', { operation_type: { type: 'TYPE_CREATE' }, cluster_definition: cluster, object_definition: bytes(pod) }, DEADLINE);
  const patched = apply(pod, create.json_patch);
  const sidecar = patched.spec.initContainers.find((c: Json) => c.name === 'plugin-barman-cloud');
  assert.equal(sidecar.image, IMAGE);
  assert.equal(sidecar.restartPolicy, 'Always');
  const evaluate = await cnpg.call('OperatorLifecycle', 'LifecycleHook', { operation_type: { type: 'TYPE_EVALUATE' }, cluster_definition: cluster, object_definition: bytes(pod) }, DEADLINE);
  assert.equal(Buffer.from(evaluate.json_patch).toString('hex'), Buffer.from(create.json_patch).toString('hex'));
  for (let i = 0; i < 2; i++) {
    const again = await cnpg.call('OperatorLifecycle', 'LifecycleHook', { operation_type: { type: 'TYPE_EVALUATE' }, cluster_definition: cluster, object_definition: bytes(patched) }, DEADLINE);
    assert.equal(again.json_patch.length, 0);
  }
});

test('a Pod of a Cluster without the plugin is untouched; a recovery Job gets the restore sidecar', async () => {
  const plain = fixture('cluster.json');
  delete plain.spec.plugins;
  const none = await cnpg.call('OperatorLifecycle', 'LifecycleHook', { operation_type: { type: 'TYPE_CREATE' }, cluster_definition: bytes(plain), object_definition: bytes(fixture('pod.json')) }, DEADLINE);
  assert.equal(none.json_patch.length, 0);
  api.putObject('barmancloud.cnpg.io', 'objectstores', objectStore('origin-store'));
  const job = fixture('job-full-recovery.json');
  const res = await cnpg.call('OperatorLifecycle', 'LifecycleHook', { operation_type: { type: 'TYPE_CREATE' }, cluster_definition: bytes(recoveryCluster(undefined, 'origin-store')), object_definition: bytes(job) }, DEADLINE);
  const patched = apply(job, res.json_patch);
  assert.deepEqual(patched.spec.template.spec.initContainers.at(-1).args, ['plugin', 'restore']);
});

test('a Pod whose ObjectStore does not exist fails the hook with a message naming it', async () => {
  const cluster = fixture('cluster.json');
  cluster.spec.plugins[0].parameters.barmanObjectName = 'nowhere';
  await assert.rejects(cnpg.call('OperatorLifecycle', 'LifecycleHook', { operation_type: { type: 'TYPE_CREATE' }, cluster_definition: bytes(cluster), object_definition: bytes(fixture('pod.json')) }, DEADLINE),
    /ObjectStore default\/nowhere .* not found/);
});

test('ReconcilerHooks.Pre: Role and RoleBinding created with rules limited to the store and its Secrets; idempotent; follows store changes', async () => {
  const cluster = fixture('cluster.json');
  const req = { cluster_definition: bytes(cluster), resource_definition: bytes(cluster) };
  assert.equal((await cnpg.call('ReconcilerHooks', 'Pre', req, DEADLINE)).behavior, 'BEHAVIOR_CONTINUE');
  const role = api.getObject('rbac.authorization.k8s.io', 'roles', 'default', 'cluster-example-barman-cloud') as Json;
  assert.deepEqual(role.rules, [
    { apiGroups: ['barmancloud.cnpg.io'], resources: ['objectstores'], verbs: ['get', 'watch', 'list'], resourceNames: ['minio-store'] },
    { apiGroups: ['barmancloud.cnpg.io'], resources: ['objectstores/status'], verbs: ['update'], resourceNames: ['minio-store'] },
    { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'watch', 'list'], resourceNames: ['minio'] },
  ]);
  assert.equal(role.metadata.ownerReferences[0].uid, cluster.metadata.uid);
  const binding = api.getObject('rbac.authorization.k8s.io', 'rolebindings', 'default', 'cluster-example-barman-cloud') as Json;
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', apiGroup: '', name: 'cluster-example', namespace: 'default' }]);
  assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'cluster-example-barman-cloud' });
  // A second reconcile writes nothing.
  const writes = (): number => api.requests.filter((r) => /^(POST|PUT|DELETE) \/apis\/rbac/.test(r)).length;
  const before = writes();
  await cnpg.call('ReconcilerHooks', 'Pre', req, DEADLINE);
  assert.equal(writes(), before);
  // The store's credentials move to another Secret: the Role follows on the next reconcile.
  api.putObject('barmancloud.cnpg.io', 'objectstores', objectStore('minio-store', (spec) => {
    spec.configuration.s3Credentials.accessKeyId.name = 'minio-v2';
    spec.configuration.s3Credentials.secretAccessKey.name = 'minio-v2';
  }));
  await cnpg.call('ReconcilerHooks', 'Pre', req, DEADLINE);
  const updated = api.getObject('rbac.authorization.k8s.io', 'roles', 'default', 'cluster-example-barman-cloud') as Json;
  assert.deepEqual(updated.rules[2].resourceNames, ['minio-v2']);
});

test('ReconcilerHooks.Pre: a missing ObjectStore requeues; a Backup continues', async () => {
  const cluster = fixture('cluster.json');
  cluster.metadata.name = 'waiting';
  cluster.spec.plugins[0].parameters.barmanObjectName = 'not-yet';
  const res = await cnpg.call('ReconcilerHooks', 'Pre', { cluster_definition: bytes(cluster), resource_definition: bytes(cluster) }, DEADLINE);
  assert.equal(res.behavior, 'BEHAVIOR_REQUEUE');
  assert.ok(res.requeue_after > 0);
  assert.equal(api.getObject('rbac.authorization.k8s.io', 'roles', 'default', 'waiting-barman-cloud'), undefined);
  const backup = { apiVersion: 'postgresql.cnpg.io/v1', kind: 'Backup', metadata: { name: 'b', namespace: 'default' }, spec: { cluster: { name: 'cluster-example' }, method: 'plugin' } };
  assert.equal((await cnpg.call('ReconcilerHooks', 'Pre', { cluster_definition: bytes(fixture('cluster.json')), resource_definition: bytes(backup) }, DEADLINE)).behavior, 'BEHAVIOR_CONTINUE');
});

test('SetStatusInCluster publishes the archiving and backup state from the ObjectStore status', async () => {
  const store = objectStore('minio-store');
  store.status = { serverRecoveryWindow: { 'cluster-example': { lastArchivedWAL: '000000010000000000000007', lastArchivedWALTime: new Date(Date.now() - 5_000).toISOString(), firstRecoverabilityPoint: '2026-11-01T00:00:00Z' } } };
  api.putObject('barmancloud.cnpg.io', 'objectstores', store);
  await new Promise((r) => setTimeout(r, 5_100)); // the operator caches ObjectStores 5 s
  const res = await cnpg.call('Operator', 'SetStatusInCluster', { cluster: bytes(fixture('cluster.json')) }, DEADLINE);
  const status = JSON.parse(Buffer.from(res.json_status).toString('utf8')) as Json;
  assert.equal(status.archiving, 'ok');
  assert.equal(status.lastArchivedWAL, '000000010000000000000007');
  assert.equal(status.lastArchivedWALAge, '<1m');
  assert.equal(status.firstRecoverabilityPoint, '2026-11-01T00:00:00Z');
});

test('refused: a client certificate the plugin does not trust, no client certificate, TLS 1.2, a wrong server name', async () => {
  const stranger = selfSigned(path.join(dir, 'certs'), 'stranger', 'barman-cloud-client', 'clientAuth');
  const bad = await cnpgClient(op.port, mounts.serverCert, stranger);
  await assert.rejects(bad.call('Identity', 'Probe', {}, { timeoutMs: 5_000 }), /UNAVAILABLE/);
  bad.close();
  const anonymous = await cnpgClient(op.port, mounts.serverCert, undefined);
  await assert.rejects(anonymous.call('Identity', 'Probe', {}, { timeoutMs: 5_000 }), /UNAVAILABLE/);
  anonymous.close();
  const tls12 = await cnpgClient(op.port, mounts.serverCert, client, 'barman-cloud', 'TLSv1.2');
  await assert.rejects(tls12.call('Identity', 'Probe', {}, { timeoutMs: 5_000 }), /UNAVAILABLE/);
  tls12.close();
  const wrongName = await cnpgClient(op.port, mounts.serverCert, client, 'not-the-service');
  await assert.rejects(wrongName.call('Identity', 'Probe', {}, { timeoutMs: 5_000 }), /UNAVAILABLE/);
  wrongName.close();
  // The refusals are the server's: the trusted client still gets through.
  await cnpg.call('Identity', 'Probe', {}, DEADLINE);
});

test('certificate rotation: new server and client certificates are used without a restart', async () => {
  const server2 = selfSigned(path.join(dir, 'certs2'), 'server', 'barman-cloud', 'serverAuth');
  const client2 = selfSigned(path.join(dir, 'certs2'), 'client', 'barman-cloud-client', 'clientAuth');
  // As the kubelet updates a Secret volume: every file replaced.
  fs.copyFileSync(server2.cert, mounts.serverCert);
  fs.copyFileSync(server2.key, mounts.serverKey);
  fs.copyFileSync(client2.cert, mounts.clientCert);
  const rotated = await cnpgClient(op.port, server2.cert, client2);
  const deadline = Date.now() + 10_000;
  for (;;) {
    try { await rotated.call('Identity', 'Probe', {}, { timeoutMs: 2_000 }); break; } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  rotated.close();
  assert.ok(op.logs.some((l) => l.msg === 'TLS certificates reloaded'));
  // The old client certificate is no longer trusted (a new connection, as CNPG re-dials after a rotation).
  const old = await cnpgClient(op.port, server2.cert, client);
  await assert.rejects(old.call('Identity', 'Probe', {}, { timeoutMs: 5_000 }), /UNAVAILABLE/);
  old.close();
});
