/**
 * Which ObjectStore (and server name) this plugin uses for what, from the Cluster alone — CNPG never fills
 * the WAL requests' `parameters`:
 *   own store        spec.plugins[name == plugin].parameters {barmanObjectName, serverName = Cluster name}
 *   recovery source  spec.bootstrap.recovery.source → spec.externalClusters[].plugin (this plugin)
 *   replica source   spec.replica.source → spec.externalClusters[].plugin (this plugin)
 * A source's serverName defaults to the *Cluster's* name, as plugin-barman-cloud does (not the external
 * cluster's name, which in-tree barmanObjectStore uses); docs/cnpg-plugin.md says so.
 */
import { isReplicaCluster, type ClusterView, type PluginEntry } from './cluster-definition.js';
import { PluginConfigError } from './plugin-errors.js';

export const DEFAULT_PLUGIN_NAME = 'barman-cloud.cloudnative-pg.io';

export interface StoreRef {
  /** ObjectStore name, in the Cluster's namespace. */
  objectStoreName: string;
  serverName: string;
  /** The Cluster field it came from, for messages. */
  origin: string;
}

export interface PluginConfig {
  pluginName: string;
  /** spec.plugins entry of this plugin, enabled, with a barmanObjectName. */
  own?: StoreRef & { isWALArchiver: boolean };
  /** The entry exists (even without barmanObjectName). */
  ownEntry?: PluginEntry;
  recovery?: StoreRef & { source: string };
  replicaSource?: StoreRef & { source: string; hasConnectionParameters: boolean };
}

export function resolvePluginConfig(cluster: ClusterView, pluginName: string): PluginConfig {
  const out: PluginConfig = { pluginName };
  const i = cluster.plugins.findIndex((p) => p.name === pluginName && p.enabled);
  const entry = cluster.plugins[i];
  if (entry) {
    out.ownEntry = entry;
    const objectStoreName = entry.parameters.barmanObjectName;
    if (objectStoreName) {
      out.own = {
        objectStoreName,
        serverName: entry.parameters.serverName || cluster.name,
        origin: `spec.plugins[${i}]`,
        isWALArchiver: entry.isWALArchiver,
      };
    }
  }
  const recovery = sourceRef(cluster, cluster.recovery?.source, pluginName, 'spec.bootstrap.recovery.source');
  if (recovery) out.recovery = { ...recovery.ref, source: recovery.source };
  if (cluster.replica?.source) {
    const replica = sourceRef(cluster, cluster.replica.source, pluginName, 'spec.replica.source');
    if (replica) out.replicaSource = { ...replica.ref, source: replica.source, hasConnectionParameters: replica.hasConnectionParameters };
  }
  return out;
}

function sourceRef(cluster: ClusterView, source: string | undefined, pluginName: string, field: string):
  { ref: StoreRef; source: string; hasConnectionParameters: boolean } | undefined {
  if (!source) return undefined;
  const i = cluster.externalClusters.findIndex((e) => e.name === source);
  const ext = cluster.externalClusters[i];
  const plugin = ext?.plugin;
  if (!ext || !plugin || plugin.name !== pluginName || !plugin.enabled) return undefined;
  const objectStoreName = plugin.parameters.barmanObjectName;
  if (!objectStoreName) {
    throw new PluginConfigError(`external cluster "${source}" (${field}) uses plugin ${pluginName} without a barmanObjectName parameter`, `spec.externalClusters[${i}].plugin.parameters`);
  }
  return {
    source,
    hasConnectionParameters: ext.hasConnectionParameters,
    ref: { objectStoreName, serverName: plugin.parameters.serverName || cluster.name, origin: `spec.externalClusters[${i}].plugin` },
  };
}

/** The own store, or an error naming what is missing (archive, backup). */
export function requireOwnStore(config: PluginConfig, cluster: ClusterView, what: string): NonNullable<PluginConfig['own']> {
  if (config.own) return config.own;
  if (config.ownEntry) {
    throw new PluginConfigError(`${what}: the ${config.pluginName} entry of Cluster ${cluster.namespace}/${cluster.name} has no barmanObjectName parameter`, 'spec.plugins[].parameters.barmanObjectName');
  }
  throw new PluginConfigError(`${what}: Cluster ${cluster.namespace}/${cluster.name} does not enable plugin ${config.pluginName} in spec.plugins`);
}

/**
 * plugin-barman-cloud #606: CNPG sends Archive to every WAL-capable plugin. Archive only when this plugin is
 * the WAL archiver, or when nothing else is (no plugin flagged isWALArchiver, no in-tree barmanObjectStore).
 */
export function archivesWal(config: PluginConfig, cluster: ClusterView): { archive: boolean; reason: string } {
  if (!config.own) return { archive: false, reason: 'no barmanObjectName for this plugin in spec.plugins' };
  if (config.own.isWALArchiver) return { archive: true, reason: 'isWALArchiver' };
  const other = cluster.plugins.find((p) => p.enabled && p.isWALArchiver && p.name !== config.pluginName);
  if (other) return { archive: false, reason: `plugin ${other.name} is the WAL archiver (isWALArchiver)` };
  if (cluster.hasInTreeBarmanObjectStore) return { archive: false, reason: 'spec.backup.barmanObjectStore archives WAL (in-tree)' };
  return { archive: true, reason: 'no WAL archiver is designated' };
}

export type RestoreRole = 'own' | 'recovery' | 'replica-source';

export interface RestoreStoreChoice {
  ref: StoreRef;
  role: RestoreRole;
  /** PostgreSQL can switch to streaming when the archive runs out: the end-of-WAL flag may be used. */
  streamingPossible: boolean;
}

/**
 * Where WAL.Restore reads from (plugin-barman-cloud's rule): the designated primary of a replica cluster reads
 * the replica source; a pod of a Cluster without a current primary (the recovery Job) reads the recovery
 * source; everyone else the own store.
 */
export function chooseRestoreStore(config: PluginConfig, cluster: ClusterView, podName: string): RestoreStoreChoice {
  const current = cluster.status.currentPrimary;
  if (current !== '' && current === podName && config.replicaSource && isReplicaCluster(cluster)) {
    return { ref: config.replicaSource, role: 'replica-source', streamingPossible: config.replicaSource.hasConnectionParameters };
  }
  if (current === '') {
    if (config.recovery) return { ref: config.recovery, role: 'recovery', streamingPossible: false };
    if (config.replicaSource) return { ref: config.replicaSource, role: 'replica-source', streamingPossible: false };
  }
  const ref = config.own ?? (current === '' ? undefined : config.replicaSource);
  if (!ref) {
    throw new PluginConfigError(`no object store to restore WAL from: Cluster ${cluster.namespace}/${cluster.name} names no barmanObjectName for plugin ${config.pluginName} (spec.plugins, or externalClusters[].plugin for a recovery or replica source)`);
  }
  return { ref, role: ref === config.own ? 'own' : 'replica-source', streamingPossible: current !== podName || (isReplicaCluster(cluster) && Boolean(config.replicaSource?.hasConnectionParameters)) };
}
