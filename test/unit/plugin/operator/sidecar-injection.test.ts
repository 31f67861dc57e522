/**
 * Sidecar injection (cnpg-i.md §4.4) on Pods and Jobs shaped as CNPG marshals them; every patch is applied with
 * an independent RFC 6902 implementation (rfc6902), as CNPG applies it with evanphx/json-patch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyPatch } from 'rfc6902';
import { injectSidecar, lifecyclePatch, storesToFetch, type InjectionInput } from '../../../../src/plugin/operator/sidecar-injection.js';
import { defaultSidecarResources } from '../../../../src/plugin/operator/sidecar-resources.js';
import { fixture, objectStore, recoveryCluster, storeMap, type Json } from './fixtures.js';

const IMAGE = 'registry.example/pgstow:0.1.0';

function input(over: Partial<InjectionInput> = {}): InjectionInput {
  return { cluster: fixture('cluster.json'), object: fixture('pod.json'), stores: storeMap(objectStore('minio-store')), sidecarImage: IMAGE, ...over };
}

/** Applies json_patch bytes to a copy of the object, failing on any operation the library rejects. */
function apply(object: Json, patch: Buffer): Json {
  const copy = structuredClone(object);
  if (patch.length === 0) return copy;
  const ops = JSON.parse(patch.toString('utf8'));
  const errors = applyPatch(copy, ops);
  assert.deepEqual(errors.filter((e) => e !== null).map(String), [], 'every operation applies');
  return copy;
}

const inject = (i: InjectionInput): Json => injectSidecar(i) as Json;
const sidecarOf = (spec: Json): Json => spec.initContainers.find((c: Json) => c.name === 'plugin-barman-cloud');

test('Pod CREATE: native sidecar with the image, args, probe, security context, pull policy and default resources', () => {
  const i = input();
  const pod = apply(i.object, lifecyclePatch(i));
  assert.deepEqual(pod.spec.initContainers.map((c: Json) => c.name), ['bootstrap-controller', 'plugin-barman-cloud']);
  const s = sidecarOf(pod.spec);
  assert.equal(s.image, IMAGE);
  assert.equal(s.restartPolicy, 'Always');
  assert.equal(s.imagePullPolicy, 'IfNotPresent');
  assert.deepEqual(s.args, ['plugin', 'instance', '--log-level=info']);
  assert.deepEqual(s.startupProbe, { exec: { command: ['/usr/local/bin/pgstow', 'plugin', 'healthcheck', 'unix'] }, timeoutSeconds: 5, periodSeconds: 1, failureThreshold: 30 });
  assert.deepEqual(s.securityContext, {
    capabilities: { drop: ['ALL'] }, privileged: false, runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, seccompProfile: { type: 'RuntimeDefault' },
  });
  assert.deepEqual(s.resources, { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '512Mi' } }, 'from the measured peak, 245 MiB');
  assert.deepEqual(defaultSidecarResources(100), { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } });
  assert.deepEqual(s.resources, defaultSidecarResources());
  // Everything else of the Pod is untouched.
  const { initContainers: _a, volumes: _b, containers: _c, ...rest } = pod.spec;
  const { initContainers: _d, volumes: _e, containers: _f, ...restBefore } = (i.object as Json).spec;
  assert.deepEqual(rest, restBefore);
  assert.deepEqual(pod.metadata, (i.object as Json).metadata);
});

test('Pod CREATE: plugins volume and mounts, all of the postgres container mounts, CA projected per ObjectStore', () => {
  const i = input();
  const pod = apply(i.object, lifecyclePatch(i));
  assert.deepEqual(pod.spec.volumes.map((v: Json) => v.name), ['pgdata', 'scratch-data', 'shm', 'kube-api-access', 'plugins', 'barman-certificates']);
  assert.deepEqual(pod.spec.volumes[4], { name: 'plugins', emptyDir: {} });
  assert.deepEqual(pod.spec.volumes[5], { name: 'barman-certificates', projected: { sources: [{ secret: { name: 'minio-server-tls', items: [{ key: 'ca.crt', path: 'minio-store/barman-ca.crt' }] } }] } });
  const postgres = pod.spec.containers[0];
  assert.deepEqual(postgres.volumeMounts.at(-1), { name: 'plugins', mountPath: '/plugins' });
  const mounts = sidecarOf(pod.spec).volumeMounts.map((m: Json) => `${m.name}:${m.mountPath}`);
  assert.deepEqual(mounts, [
    'barman-certificates:/barman-certificates', 'pgdata:/var/lib/postgresql/data', 'scratch-data:/run', 'scratch-data:/controller', 'shm:/dev/shm',
    'kube-api-access:/var/run/secrets/kubernetes.io/serviceaccount', 'plugins:/plugins',
  ]);
});

test('Pod CREATE: env is the postgres container env first, then the plugin variables, then the ObjectStore env', () => {
  const stores = storeMap(objectStore('minio-store', (spec) => {
    spec.instanceSidecarConfiguration.env = [{ name: 'AWS_MAX_ATTEMPTS', value: '10' }, { name: 'PGPORT', value: '9999' }];
  }));
  const cluster = fixture('cluster.json');
  const pod = fixture('pod.json');
  pod.spec.containers[0].env.push({ name: 'FROM_SPEC_ENV', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } });
  const out = apply(pod, lifecyclePatch(input({ cluster, object: pod, stores })));
  const env = sidecarOf(out.spec).env;
  assert.deepEqual(env.map((e: Json) => e.name), [
    'PGDATA', 'POD_NAME', 'NAMESPACE', 'CLUSTER_NAME', 'PSQL_HISTORY', 'PGPORT', 'PGHOST', 'TMPDIR', 'FROM_SPEC_ENV',
    'SPOOL_DIRECTORY', 'CUSTOM_CNPG_GROUP', 'CUSTOM_CNPG_VERSION', 'AWS_MAX_ATTEMPTS', 'MALLOC_MMAP_THRESHOLD_', 'MALLOC_ARENA_MAX', 'NODE_OPTIONS',
  ]);
  // The allocator and V8 settings the sidecar's measured memory rests on (docs/cnpg-plugin.md "Memory").
  assert.deepEqual(env.slice(-3), [
    { name: 'MALLOC_MMAP_THRESHOLD_', value: '32768' }, { name: 'MALLOC_ARENA_MAX', value: '2' }, { name: 'NODE_OPTIONS', value: '--max-semi-space-size=2' },
  ]);
  assert.equal(env.find((e: Json) => e.name === 'PGPORT').value, '5432', 'the postgres container wins over the ObjectStore');
  assert.deepEqual(env.slice(9, 12), [
    { name: 'SPOOL_DIRECTORY', value: '/controller/wal-restore-spool' }, { name: 'CUSTOM_CNPG_GROUP', value: 'postgresql.cnpg.io' }, { name: 'CUSTOM_CNPG_VERSION', value: 'v1' },
  ]);
  assert.deepEqual(env[8], { name: 'FROM_SPEC_ENV', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } });
});

test('the ObjectStore\'s instanceSidecarConfiguration.env overrides the injected memory settings', () => {
  const stores = storeMap(objectStore('minio-store', (spec) => {
    spec.instanceSidecarConfiguration.env = [{ name: 'MALLOC_ARENA_MAX', value: '4' }, { name: 'NODE_OPTIONS', value: '--max-old-space-size=200' }];
  }));
  const env = sidecarOf(inject(input({ stores }))!.spec).env;
  const of = (name: string): unknown => env.filter((e: Json) => e.name === name).map((e: Json) => e.value);
  assert.deepEqual(of('MALLOC_ARENA_MAX'), ['4']);
  assert.deepEqual(of('NODE_OPTIONS'), ['--max-old-space-size=200']);
  assert.deepEqual(of('MALLOC_MMAP_THRESHOLD_'), ['32768'], 'the rest is still injected');
});

test('a forked API group reaches the sidecar as CUSTOM_CNPG_GROUP / CUSTOM_CNPG_VERSION', () => {
  const cluster = fixture('cluster.json');
  cluster.apiVersion = 'postgresql.k8s.enterprisedb.io/v1';
  const env = sidecarOf(inject(input({ cluster }))!.spec).env;
  assert.equal(env.find((e: Json) => e.name === 'CUSTOM_CNPG_GROUP').value, 'postgresql.k8s.enterprisedb.io');
});

test('deterministic: the same input gives byte-identical patches, whatever the order the stores were read in', () => {
  const a = lifecyclePatch(input());
  const b = lifecyclePatch(input());
  assert.ok(a.length > 0);
  assert.equal(a.toString('hex'), b.toString('hex'));
  const replica = fixture('cluster.json');
  replica.spec.replica = { enabled: true, source: 'origin' };
  replica.spec.externalClusters = [{ name: 'origin', plugin: { name: 'barman-cloud.cloudnative-pg.io', parameters: { barmanObjectName: 'origin-store' } } }];
  const s1 = storeMap(objectStore('minio-store'), objectStore('origin-store'));
  const s2 = storeMap(objectStore('origin-store'), objectStore('minio-store'));
  assert.equal(lifecyclePatch(input({ cluster: replica, stores: s1 })).toString(), lifecyclePatch(input({ cluster: replica, stores: s2 })).toString());
});

test('idempotent: EVALUATE of an already patched Pod yields no change, twice', () => {
  const i = input();
  const once = apply(i.object, lifecyclePatch(i));
  assert.equal(lifecyclePatch({ ...i, object: once }).length, 0);
  const twice = apply(once, lifecyclePatch({ ...i, object: once }));
  assert.deepEqual(twice, once);
  assert.equal(lifecyclePatch({ ...i, object: twice }).length, 0);
});

test('a changed ObjectStore is reconciled in place: the sidecar is replaced, a CA no longer used is removed', () => {
  const i = input();
  const patched = apply(i.object, lifecyclePatch(i));
  const stores = storeMap(objectStore('minio-store', (spec) => {
    delete spec.configuration.endpointCA;
    spec.instanceSidecarConfiguration.logLevel = 'debug';
  }));
  const again = apply(patched, lifecyclePatch({ ...i, object: patched, stores }));
  assert.equal(again.spec.initContainers.filter((c: Json) => c.name === 'plugin-barman-cloud').length, 1);
  assert.deepEqual(sidecarOf(again.spec).args, ['plugin', 'instance', '--log-level=debug']);
  assert.ok(!again.spec.volumes.some((v: Json) => v.name === 'barman-certificates'));
  assert.ok(!sidecarOf(again.spec).volumeMounts.some((m: Json) => m.name === 'barman-certificates'));
  assert.equal(again.spec.volumes.filter((v: Json) => v.name === 'plugins').length, 1);
});

test('Clusters that reference no ObjectStore through the plugin are left untouched', () => {
  const noPlugin = fixture('cluster.json');
  delete noPlugin.spec.plugins;
  const other = fixture('cluster.json');
  other.spec.plugins = [{ name: 'other.example.com', enabled: true, parameters: { barmanObjectName: 'minio-store' } }];
  const disabled = fixture('cluster.json');
  disabled.spec.plugins[0].enabled = false;
  const noName = fixture('cluster.json');
  noName.spec.plugins[0].parameters = {};
  for (const cluster of [noPlugin, other, disabled, noName]) {
    assert.equal(lifecyclePatch(input({ cluster, stores: new Map() })).length, 0);
    assert.deepEqual(storesToFetch(cluster, fixture('pod.json')), []);
  }
});

test('resources, extra arguments and log level come from the ObjectStore when it sets them', () => {
  const resources = { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '2', memory: '1Gi' } };
  const stores = storeMap(objectStore('minio-store', (spec) => {
    spec.instanceSidecarConfiguration = { resources, additionalContainerArgs: ['--metrics-port=9999'], logLevel: 'trace' };
  }));
  const s = sidecarOf(inject(input({ stores }))!.spec);
  assert.deepEqual(s.resources, resources);
  assert.deepEqual(s.args, ['plugin', 'instance', '--metrics-port=9999', '--log-level=trace']);
});

test('a replica cluster replaying from a plugin source gets the sidecar; a recovery-only Cluster\'s Pods do not', () => {
  const replica = fixture('cluster.json');
  delete replica.spec.plugins;
  replica.spec.replica = { enabled: true, source: 'origin' };
  replica.spec.externalClusters = [{ name: 'origin', plugin: { name: 'barman-cloud.cloudnative-pg.io', parameters: { barmanObjectName: 'origin-store' } } }];
  const s = sidecarOf(inject(input({ cluster: replica, stores: storeMap(objectStore('origin-store')) }))!.spec);
  assert.ok(s);
  const recoveryOnly = recoveryCluster(undefined, 'origin-store');
  assert.equal(lifecyclePatch(input({ cluster: recoveryOnly, stores: storeMap(objectStore('origin-store')) })).length, 0);
});

test('Job CREATE: full-recovery and snapshot-recovery Jobs get the restore sidecar with the recovery store\'s resources', () => {
  const cluster = recoveryCluster('new-store', 'origin-store');
  const resources = { requests: { memory: '300Mi' }, limits: { memory: '600Mi' } };
  const stores = storeMap(objectStore('new-store'), objectStore('origin-store', (spec) => { spec.instanceSidecarConfiguration.resources = resources; }));
  const job = fixture('job-full-recovery.json');
  assert.deepEqual(storesToFetch(cluster, job), ['new-store', 'origin-store']);
  const out = apply(job, lifecyclePatch(input({ cluster, object: job, stores })));
  const spec = out.spec.template.spec;
  const s = sidecarOf(spec);
  assert.deepEqual(s.args, ['plugin', 'restore']);
  assert.deepEqual(s.resources, resources);
  assert.equal(s.restartPolicy, 'Always');
  assert.deepEqual(spec.containers[0].volumeMounts.at(-1), { name: 'plugins', mountPath: '/plugins' });
  // One CA item per referenced store, sorted by store name.
  assert.deepEqual(spec.volumes.find((v: Json) => v.name === 'barman-certificates').projected.sources.map((p: Json) => p.secret.items[0].path), ['new-store/barman-ca.crt', 'origin-store/barman-ca.crt']);
  const snapshot = fixture('job-full-recovery.json');
  snapshot.spec.template.metadata.labels['cnpg.io/jobRole'] = 'snapshot-recovery';
  snapshot.spec.template.spec.containers[0].name = 'snapshot-recovery';
  assert.ok(sidecarOf(inject(input({ cluster, object: snapshot, stores }))!.spec.template.spec));
  const initdb = fixture('job-full-recovery.json');
  initdb.spec.template.metadata.labels['cnpg.io/jobRole'] = 'initdb';
  assert.equal(lifecyclePatch(input({ cluster, object: initdb, stores })).length, 0);
  // A Cluster recovering from another plugin's source: no sidecar in its Job.
  const foreign = recoveryCluster(undefined, 'origin-store');
  foreign.spec.externalClusters[0].plugin.name = 'other.example.com';
  assert.equal(lifecyclePatch(input({ cluster: foreign, object: fixture('job-full-recovery.json'), stores })).length, 0);
});

test('a Pod without the postgres container or a missing ObjectStore is an error naming it, never a silent skip', () => {
  const pod = fixture('pod.json');
  pod.spec.containers[0].name = 'other';
  assert.throws(() => lifecyclePatch(input({ object: pod })), /Pod "cluster-example-1" has no "postgres" container/);
  assert.throws(() => lifecyclePatch(input({ stores: new Map() })), /ObjectStore "minio-store" referenced by Cluster "cluster-example" was not provided/);
});
