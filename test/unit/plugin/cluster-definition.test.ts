/** cluster_definition decoding and plugin-config resolution, on Cluster JSON shaped as CNPG marshals it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isReplicaCluster, parseClusterDefinition } from '../../../src/plugin/cluster-definition.js';
import { archivesWal, chooseRestoreStore, requireOwnStore, resolvePluginConfig } from '../../../src/plugin/plugin-config.js';
import { PluginConfigError } from '../../../src/plugin/plugin-errors.js';
import { clusterJson, clusterObject, PLUGIN } from '../../plugin/cnpg-fixtures.js';

test('a Cluster without apiVersion/kind (the instance manager cache) decodes, with the default group', () => {
  const c = parseClusterDefinition(clusterJson({ withoutTypeMeta: true, plugin: { barmanObjectName: 'minio-store' }, uid: 'u-1' }));
  assert.equal(c.group, 'postgresql.cnpg.io');
  assert.equal(c.version, 'v1');
  assert.equal(c.name, 'cluster-example');
  assert.equal(c.namespace, 'default');
  assert.equal(c.uid, 'u-1');
  assert.equal(c.status.currentPrimary, 'cluster-example-1');
  assert.equal(c.status.timelineID, 1);
  assert.deepEqual(c.plugins.map((p) => [p.name, p.enabled, p.isWALArchiver]), [[PLUGIN, true, true]]);
});

test('a forked API group is kept; without apiVersion the CUSTOM_CNPG_GROUP default applies', () => {
  const forked = parseClusterDefinition(clusterJson({ apiVersion: 'postgresql.k8s.enterprisedb.io/v1' }));
  assert.equal(forked.group, 'postgresql.k8s.enterprisedb.io');
  const bare = parseClusterDefinition(clusterJson({ withoutTypeMeta: true }), { defaultGroup: 'postgresql.k8s.enterprisedb.io', defaultVersion: 'v1' });
  assert.equal(bare.group, 'postgresql.k8s.enterprisedb.io');
});

test('lenient decoding: unknown fields and fields of an unexpected type are ignored', () => {
  const o = clusterObject({ plugin: { barmanObjectName: 'store' } });
  (o.spec as Record<string, unknown>).someFutureField = { nested: [1, 2] };
  (o.status as Record<string, unknown>).timelineID = 'two';
  ((o.spec as Record<string, unknown>).plugins as unknown[]).push('not an object', { enabled: true });
  (o.metadata as Record<string, unknown>).annotations = { ok: 'yes', bad: 3 };
  const c = parseClusterDefinition(Buffer.from(JSON.stringify(o)));
  assert.equal(c.status.timelineID, 0);
  assert.equal(c.plugins.length, 1);
  assert.deepEqual(c.annotations, { ok: 'yes' });
});

test('undecodable definitions fail with a PluginConfigError naming cluster_definition', () => {
  assert.throws(() => parseClusterDefinition(Buffer.from('{not json')), (e: unknown) => e instanceof PluginConfigError && /cluster_definition is not valid JSON/.test(e.message));
  assert.throws(() => parseClusterDefinition(Buffer.alloc(0)), /cluster_definition is empty/);
  assert.throws(() => parseClusterDefinition(Buffer.from('[]')), /not a JSON object/);
  assert.throws(() => parseClusterDefinition(Buffer.from('{"spec":{}}')), /no metadata.name/);
});

test('own entry: barmanObjectName, serverName defaulting to the Cluster name, isWALArchiver', () => {
  const c = parseClusterDefinition(clusterJson({ plugin: { barmanObjectName: 'minio-store' } }));
  const cfg = resolvePluginConfig(c, PLUGIN);
  assert.deepEqual(cfg.own, { objectStoreName: 'minio-store', serverName: 'cluster-example', origin: 'spec.plugins[0]', isWALArchiver: true });
  const named = resolvePluginConfig(parseClusterDefinition(clusterJson({ plugin: { barmanObjectName: 's', serverName: 'srv' } })), PLUGIN);
  assert.equal(named.own?.serverName, 'srv');
  // Another plugin name: nothing for this plugin.
  assert.equal(resolvePluginConfig(c, 'other.example.com').own, undefined);
});

test('a disabled entry or one without barmanObjectName gives no own store, and requireOwnStore says why', () => {
  const disabled = parseClusterDefinition(clusterJson({ plugin: { barmanObjectName: 's', enabled: false } }));
  const cfg = resolvePluginConfig(disabled, PLUGIN);
  assert.equal(cfg.own, undefined);
  assert.throws(() => requireOwnStore(cfg, disabled, 'archive'), /does not enable plugin barman-cloud.cloudnative-pg.io/);
  const noName = parseClusterDefinition(clusterJson({ plugin: {} }));
  assert.throws(() => requireOwnStore(resolvePluginConfig(noName, PLUGIN), noName, 'archive'), /has no barmanObjectName parameter/);
});

test('recovery source through externalClusters[].plugin; serverName defaults to the Cluster name (as upstream)', () => {
  const c = parseClusterDefinition(clusterJson({ name: 'restored', currentPrimary: '', recovery: { source: 'origin', barmanObjectName: 'origin-store' } }));
  const cfg = resolvePluginConfig(c, PLUGIN);
  assert.deepEqual(cfg.recovery, { objectStoreName: 'origin-store', serverName: 'restored', origin: 'spec.externalClusters[0].plugin', source: 'origin' });
  const explicit = resolvePluginConfig(parseClusterDefinition(clusterJson({ recovery: { source: 'origin', barmanObjectName: 'o', serverName: 'origin-srv' } })), PLUGIN);
  assert.equal(explicit.recovery?.serverName, 'origin-srv');
  assert.deepEqual(c.recovery, { source: 'origin' });
});

test('a recovery source of this plugin without barmanObjectName is a configuration error', () => {
  const o = clusterObject({ recovery: { source: 'origin', barmanObjectName: 'x' } });
  const ext = ((o.spec as Record<string, unknown>).externalClusters as Array<Record<string, Record<string, unknown>>>)[0] as Record<string, Record<string, unknown>>;
  (ext.plugin as Record<string, unknown>).parameters = {};
  assert.throws(() => resolvePluginConfig(parseClusterDefinition(JSON.stringify(o)), PLUGIN), /external cluster "origin".*without a barmanObjectName/);
});

test('isWALArchiver (#606): archive when this plugin is the archiver or when no archiver is designated', () => {
  const decide = (opts: Parameters<typeof clusterJson>[0]): { archive: boolean; reason: string } => {
    const c = parseClusterDefinition(clusterJson(opts));
    return archivesWal(resolvePluginConfig(c, PLUGIN), c);
  };
  assert.equal(decide({ plugin: { barmanObjectName: 's', isWALArchiver: true } }).archive, true);
  assert.equal(decide({ plugin: { barmanObjectName: 's', isWALArchiver: false } }).archive, true);
  const other = decide({ plugin: { barmanObjectName: 's', isWALArchiver: false }, otherPlugins: [{ name: 'wal.example.com', enabled: true, isWALArchiver: true }] });
  assert.deepEqual(other, { archive: false, reason: 'plugin wal.example.com is the WAL archiver (isWALArchiver)' });
  assert.equal(decide({ plugin: { barmanObjectName: 's', isWALArchiver: false }, inTreeBarmanObjectStore: true }).archive, false);
  // A disabled archiver elsewhere does not count.
  assert.equal(decide({ plugin: { barmanObjectName: 's', isWALArchiver: false }, otherPlugins: [{ name: 'wal.example.com', enabled: false, isWALArchiver: true }] }).archive, true);
  assert.equal(decide({ plugin: {} }).archive, false);
});

test('restore store choice follows currentPrimary (spec §3.5)', () => {
  const primary = parseClusterDefinition(clusterJson({ plugin: { barmanObjectName: 'own' } }));
  const cfgP = resolvePluginConfig(primary, PLUGIN);
  assert.deepEqual(chooseRestoreStore(cfgP, primary, 'cluster-example-2'), { ref: cfgP.own, role: 'own', streamingPossible: true });
  assert.equal(chooseRestoreStore(cfgP, primary, 'cluster-example-1').streamingPossible, false);

  const job = parseClusterDefinition(clusterJson({ currentPrimary: '', plugin: { barmanObjectName: 'own' }, recovery: { source: 'origin', barmanObjectName: 'origin-store' } }));
  const cfgJ = resolvePluginConfig(job, PLUGIN);
  const j = chooseRestoreStore(cfgJ, job, 'cluster-example-1-full-recovery');
  assert.equal(j.role, 'recovery');
  assert.equal(j.ref.objectStoreName, 'origin-store');
  assert.equal(j.streamingPossible, false);

  const replica = parseClusterDefinition(clusterJson({ plugin: { barmanObjectName: 'own', isWALArchiver: true }, replica: { source: 'upstream', barmanObjectName: 'upstream-store' } }));
  assert.equal(isReplicaCluster(replica), true);
  const cfgR = resolvePluginConfig(replica, PLUGIN);
  const designated = chooseRestoreStore(cfgR, replica, 'cluster-example-1');
  assert.deepEqual([designated.role, designated.ref.objectStoreName, designated.streamingPossible], ['replica-source', 'upstream-store', true]);
  const standby = chooseRestoreStore(cfgR, replica, 'cluster-example-2');
  assert.deepEqual([standby.role, standby.ref.objectStoreName], ['own', 'own']);

  const none = parseClusterDefinition(clusterJson({}));
  assert.throws(() => chooseRestoreStore(resolvePluginConfig(none, PLUGIN), none, 'cluster-example-2'), /no object store to restore WAL from/);
});

test('replica cluster detection: enabled flag, and the distributed topology primary/self', () => {
  const o = clusterObject({ replica: { source: 'a', barmanObjectName: 'x', enabled: false } });
  assert.equal(isReplicaCluster(parseClusterDefinition(JSON.stringify(o))), false);
  (o.spec as Record<string, unknown>).replica = { primary: 'east', self: 'west', source: 'a' };
  assert.equal(isReplicaCluster(parseClusterDefinition(JSON.stringify(o))), true);
  (o.spec as Record<string, unknown>).replica = { primary: 'west', self: 'west', source: 'a' };
  assert.equal(isReplicaCluster(parseClusterDefinition(JSON.stringify(o))), false);
});

test('walStorage, annotations, in-tree store and recovery targets are read', () => {
  const c = parseClusterDefinition(clusterJson({ walStorage: true, annotations: { 'cnpg.io/skipEmptyWalArchiveCheck': 'enabled' },
    recovery: { source: 'o', barmanObjectName: 'x', recoveryTarget: { targetTime: '2026-11-30 10:00:00+00', targetTLI: 'latest', exclusive: false, targetXID: 1234 } } }));
  assert.equal(c.hasWalStorage, true);
  assert.equal(c.annotations['cnpg.io/skipEmptyWalArchiveCheck'], 'enabled');
  assert.deepEqual(c.recovery?.recoveryTarget, { targetTime: '2026-11-30 10:00:00+00', targetTLI: 'latest', targetXID: '1234', exclusive: false });
});
