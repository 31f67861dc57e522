/**
 * Realistic CloudNativePG objects as the operator and the instance manager marshal them (Go JSON: omitempty
 * fields absent, CRD defaults applied, the whole status), for the tests that play CNPG against the plugin.
 * Written by hand from the CNPG-I notes (spec §7.1); every variant the plugin must read is a parameter.
 */
import { randomUUID } from 'node:crypto';

export const PLUGIN = 'barman-cloud.cloudnative-pg.io';

export interface ClusterFixtureOptions {
  name?: string;
  namespace?: string;
  uid?: string;
  /** Leave out apiVersion/kind, as the instance manager's cache does for WAL calls. */
  withoutTypeMeta?: boolean;
  apiVersion?: string;
  pluginName?: string;
  /** spec.plugins entry parameters; undefined leaves the plugin out. */
  plugin?: { barmanObjectName?: string; serverName?: string; isWALArchiver?: boolean; enabled?: boolean } | undefined;
  /** More spec.plugins entries (another archiver…). */
  otherPlugins?: Array<Record<string, unknown>>;
  currentPrimary?: string;
  targetPrimary?: string;
  timelineID?: number;
  annotations?: Record<string, string>;
  /** bootstrap.recovery from an external cluster served by the plugin. */
  recovery?: { source: string; barmanObjectName: string; serverName?: string; recoveryTarget?: Record<string, unknown> };
  /** A replica cluster following an external cluster served by the plugin. */
  replica?: { source: string; barmanObjectName: string; serverName?: string; connectionParameters?: boolean; enabled?: boolean };
  walStorage?: boolean;
  inTreeBarmanObjectStore?: boolean;
}

export function clusterObject(o: ClusterFixtureOptions = {}): Record<string, unknown> {
  const name = o.name ?? 'cluster-example';
  const namespace = o.namespace ?? 'default';
  const pluginName = o.pluginName ?? PLUGIN;
  const plugins: Array<Record<string, unknown>> = [];
  if (o.plugin) {
    const parameters: Record<string, string> = {};
    if (o.plugin.barmanObjectName !== undefined) parameters.barmanObjectName = o.plugin.barmanObjectName;
    if (o.plugin.serverName !== undefined) parameters.serverName = o.plugin.serverName;
    plugins.push({ name: pluginName, enabled: o.plugin.enabled ?? true, isWALArchiver: o.plugin.isWALArchiver ?? true, parameters });
  }
  plugins.push(...(o.otherPlugins ?? []));
  const externalClusters: Array<Record<string, unknown>> = [];
  const spec: Record<string, unknown> = {
    affinity: { podAntiAffinityType: 'preferred' },
    bootstrap: { initdb: { database: 'app', encoding: 'UTF8', localeCType: 'C', localeCollate: 'C', owner: 'app' } },
    enablePDB: true,
    enableSuperuserAccess: false,
    failoverDelay: 0,
    imageName: 'ghcr.io/cloudnative-pg/postgresql:15.18',
    instances: 3,
    logLevel: 'info',
    maxSyncReplicas: 0,
    minSyncReplicas: 0,
    monitoring: { customQueriesConfigMap: [{ key: 'queries', name: 'cnpg-default-monitoring' }], disableDefaultQueries: false, enablePodMonitor: false },
    postgresGID: 26,
    postgresUID: 26,
    postgresql: {
      parameters: { archive_mode: 'on', archive_timeout: '5min', dynamic_shared_memory_type: 'posix', full_page_writes: 'on', max_replication_slots: '32', max_worker_processes: '32', wal_keep_size: '512MB', wal_level: 'logical', wal_log_hints: 'on', wal_receiver_timeout: '5s', wal_sender_timeout: '5s' },
      syncReplicaElectionConstraint: { enabled: false },
    },
    primaryUpdateMethod: 'restart',
    primaryUpdateStrategy: 'unsupervised',
    replicationSlots: { highAvailability: { enabled: true, slotPrefix: '_cnpg_' }, synchronizeReplicas: { enabled: true }, updateInterval: 30 },
    resources: {},
    smartShutdownTimeout: 180,
    startDelay: 3600,
    stopDelay: 1800,
    storage: { resizeInUseVolumes: true, size: '1Gi' },
    switchoverDelay: 3600,
  };
  if (plugins.length) spec.plugins = plugins;
  if (o.recovery) {
    spec.bootstrap = { recovery: { source: o.recovery.source, database: 'app', owner: 'app', ...(o.recovery.recoveryTarget ? { recoveryTarget: o.recovery.recoveryTarget } : {}) } };
    externalClusters.push(externalPlugin(o.recovery.source, pluginName, o.recovery.barmanObjectName, o.recovery.serverName, false));
  }
  if (o.replica) {
    spec.replica = { enabled: o.replica.enabled ?? true, source: o.replica.source };
    if (!externalClusters.some((e) => e.name === o.replica?.source)) {
      externalClusters.push(externalPlugin(o.replica.source, pluginName, o.replica.barmanObjectName, o.replica.serverName, o.replica.connectionParameters ?? true));
    }
  }
  if (externalClusters.length) spec.externalClusters = externalClusters;
  if (o.walStorage) spec.walStorage = { resizeInUseVolumes: true, size: '1Gi' };
  if (o.inTreeBarmanObjectStore) spec.backup = { barmanObjectStore: { destinationPath: 's3://in-tree/', s3Credentials: { inheritFromIAMRole: true } }, target: 'prefer-standby' };
  const currentPrimary = o.currentPrimary ?? `${name}-1`;
  const obj: Record<string, unknown> = {
    metadata: {
      name, namespace, uid: o.uid ?? randomUUID(), generation: 1, resourceVersion: '123456', creationTimestamp: '2026-11-30T10:00:00Z',
      ...(o.annotations ? { annotations: o.annotations } : {}),
    },
    spec,
    status: {
      certificates: { expirations: {}, serverAltDNSNames: [`${name}-rw`, `${name}-rw.${namespace}`] },
      cloudNativePGCommitHash: '4b5e244a',
      cloudNativePGOperatorHash: 'abcdef',
      conditions: [
        { lastTransitionTime: '2026-11-30T10:01:00Z', message: 'Cluster is Ready', reason: 'ClusterIsReady', status: 'True', type: 'Ready' },
        { lastTransitionTime: '2026-11-30T10:02:00Z', message: 'Continuous archiving is working', reason: 'ContinuousArchivingSuccess', status: 'True', type: 'ContinuousArchiving' },
      ],
      currentPrimary,
      currentPrimaryTimestamp: '2026-11-30T10:00:30.000000Z',
      healthyPVC: [`${name}-1`, `${name}-2`, `${name}-3`],
      image: 'ghcr.io/cloudnative-pg/postgresql:15.18',
      instanceNames: [`${name}-1`, `${name}-2`, `${name}-3`],
      instances: 3,
      instancesStatus: { healthy: [`${name}-1`, `${name}-2`, `${name}-3`] },
      latestGeneratedNode: 3,
      managedRolesStatus: {},
      phase: currentPrimary === '' ? 'Setting up primary' : 'Cluster in healthy state',
      pluginStatus: [{ name: pluginName, version: '0.1.0', capabilities: ['TYPE_RECONCILER_HOOKS', 'TYPE_LIFECYCLE_SERVICE', 'TYPE_INSTANCE_SIDECAR_INJECTION'] }],
      readyInstances: 3,
      targetPrimary: o.targetPrimary ?? currentPrimary,
      targetPrimaryTimestamp: '2026-11-30T10:00:20.000000Z',
      timelineID: o.timelineID ?? 1,
      writeService: `${name}-rw`,
      readService: `${name}-r`,
    },
  };
  if (o.withoutTypeMeta) return obj;
  return { apiVersion: o.apiVersion ?? 'postgresql.cnpg.io/v1', kind: 'Cluster', ...obj };
}

function externalPlugin(name: string, pluginName: string, barmanObjectName: string, serverName: string | undefined, connection: boolean): Record<string, unknown> {
  const parameters: Record<string, string> = { barmanObjectName };
  if (serverName !== undefined) parameters.serverName = serverName;
  return {
    name,
    ...(connection ? { connectionParameters: { host: `${name}-rw`, user: 'streaming_replica', sslmode: 'verify-full', dbname: 'postgres' } } : {}),
    plugin: { name: pluginName, enabled: true, parameters },
  };
}

export function clusterJson(o: ClusterFixtureOptions = {}): Buffer {
  return Buffer.from(JSON.stringify(clusterObject(o)));
}

/** A Backup with method: plugin, as the instance manager reads it (apiVersion/kind set). */
export function backupObject(o: { name?: string; cluster?: string; namespace?: string; pluginName?: string; parameters?: Record<string, string>; uid?: string } = {}): Record<string, unknown> {
  const cluster = o.cluster ?? 'cluster-example';
  return {
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'Backup',
    metadata: {
      name: o.name ?? `${cluster}-backup-1`, namespace: o.namespace ?? 'default', uid: o.uid ?? randomUUID(), generation: 1,
      resourceVersion: '200000', creationTimestamp: '2026-11-30T11:00:00Z', labels: { 'cnpg.io/cluster': cluster },
    },
    spec: {
      cluster: { name: cluster },
      method: 'plugin',
      pluginConfiguration: { name: o.pluginName ?? PLUGIN, ...(o.parameters ? { parameters: o.parameters } : {}) },
      target: 'primary',
    },
    status: { phase: 'started', method: 'plugin', instanceID: { podName: `${cluster}-1`, ContainerID: 'containerd://abc', sessionID: 'f00' } },
  };
}
