/**
 * Background work of the sidecar on the current primary, every ObjectStore
 * `instanceSidecarConfiguration.retentionPolicyIntervalSeconds` (default 1800 s; 300 s after a failure):
 * apply `retentionPolicy` (each backup's verdict and reason logged), write the recovery window into
 * ObjectStore.status, and delete this Cluster's `Backup` resources whose backup is gone from the store
 * (matched by the cluster UID and plugin name CNPG copied into status.pluginMetadata). Standbys do nothing.
 */
import { errorMessage } from '../../errors.js';
import { parseClusterDefinition, type ClusterView } from '../cluster-definition.js';
import type { PluginLogger } from '../json-logger.js';
import type { KubeApi, KubeObject } from '../kube/kube-api.js';
import { resolvePluginConfig, type StoreRef } from '../plugin-config.js';
import type { PodEnvironment } from '../plugin-options.js';
import type { EngineRegistry } from './engine-registry.js';
import type { RecoveryWindow } from './engine-port.js';
import type { StatusReporter, RecoveryWindowFields } from './status-reporter.js';

export const DEFAULT_INTERVAL_SECONDS = 1800;
export const RETRY_INTERVAL_SECONDS = 300;

export interface MaintenanceDeps {
  pluginName: string;
  pod: PodEnvironment;
  kube: KubeApi;
  registry: EngineRegistry;
  status: StatusReporter;
  log: PluginLogger;
}

export interface MaintenanceOutcome {
  /** Why nothing was done, when nothing was. */
  skipped?: string;
  deletedBackups: string[];
  deletedResources: string[];
  /** Seconds until the next pass. */
  nextInSeconds: number;
}

/** One pass. Never throws: a failure is logged and the next pass comes sooner. */
export async function runMaintenance(deps: MaintenanceDeps, signal?: AbortSignal, now: Date = new Date()): Promise<MaintenanceOutcome> {
  const out: MaintenanceOutcome = { deletedBackups: [], deletedResources: [], nextInSeconds: DEFAULT_INTERVAL_SECONDS };
  const { pod } = deps;
  if (!pod.namespace || !pod.clusterName || !pod.podName) return { ...out, skipped: 'NAMESPACE, CLUSTER_NAME or POD_NAME is not set' };
  try {
    const raw = await deps.kube.getCustom(pod.cnpgGroup, pod.cnpgVersion, 'clusters', pod.namespace, pod.clusterName);
    if (!raw) return { ...out, skipped: `Cluster ${pod.namespace}/${pod.clusterName} not found` };
    const cluster = parseClusterDefinition(JSON.stringify(raw), { defaultGroup: pod.cnpgGroup, defaultVersion: pod.cnpgVersion });
    if (cluster.status.currentPrimary !== pod.podName) return { ...out, skipped: `not the current primary (${cluster.status.currentPrimary || 'none'})` };
    const own = resolvePluginConfig(cluster, deps.pluginName).own;
    if (!own) return { ...out, skipped: `the Cluster names no barmanObjectName for ${deps.pluginName}` };
    const lease = await deps.registry.acquire(cluster.namespace, own);
    try {
      const spec = (lease.objectStore.spec ?? {}) as { retentionPolicy?: string; instanceSidecarConfiguration?: { retentionPolicyIntervalSeconds?: number } };
      const interval = spec.instanceSidecarConfiguration?.retentionPolicyIntervalSeconds;
      out.nextInSeconds = typeof interval === 'number' && interval > 0 ? interval : DEFAULT_INTERVAL_SECONDS;
      if (spec.retentionPolicy) out.deletedBackups = await applyRetention(deps, lease.engine, spec.retentionPolicy, own, signal, now);
      const { backups, recoveryWindow } = await lease.engine.listBackups(signal ? { signal } : {});
      const fields = windowFields(recoveryWindow);
      deps.status.update(cluster.namespace, own.objectStoreName, own.serverName, fields.set, { immediate: true, unset: fields.unset });
      out.deletedResources = await deleteOrphanBackups(deps, cluster, own, new Set(backups.map((b) => b.id)));
    } finally {
      lease.release();
    }
    return out;
  } catch (err) {
    deps.log.warning(`background maintenance failed (retrying in ${RETRY_INTERVAL_SECONDS} s): ${errorMessage(err)}`, { code: 'W_PLUGIN_MAINTENANCE' });
    return { ...out, nextInSeconds: RETRY_INTERVAL_SECONDS, skipped: errorMessage(err) };
  }
}

async function applyRetention(deps: MaintenanceDeps, engine: Awaited<ReturnType<EngineRegistry['acquire']>>['engine'], policy: string, own: StoreRef, signal: AbortSignal | undefined, now: Date): Promise<string[]> {
  const result = await engine.deleteBackups({ retentionPolicy: policy, now, ...(signal ? { signal } : {}) });
  for (const b of result.backups) {
    deps.log.info(`retention ${result.policy ?? policy}: backup ${b.id} is ${b.retention}${b.delete ? ' (deleted)' : ''}: ${b.reason}`, { serverName: own.serverName, backupId: b.id });
  }
  for (const w of result.wal) {
    if (w.objects > 0) deps.log.info(`retention: ${w.objects} WAL file(s) deleted (${w.firstKey} .. ${w.lastKey})`, { serverName: own.serverName });
  }
  return result.backups.filter((b) => b.delete).map((b) => b.id);
}

function windowFields(w: RecoveryWindow): { set: RecoveryWindowFields; unset: Array<keyof RecoveryWindowFields> } {
  const set: RecoveryWindowFields = {};
  const unset: Array<keyof RecoveryWindowFields> = [];
  const put = (k: 'firstRecoverabilityPoint' | 'lastSuccessfulBackupTime' | 'lastFailedBackupTime', d: Date | null): void => {
    if (d) set[k] = d.toISOString(); else unset.push(k);
  };
  put('firstRecoverabilityPoint', w.firstRecoverabilityPoint);
  put('lastSuccessfulBackupTime', w.lastSuccessfulBackupTime);
  // A failed backup stays recorded in status even once its backup.info is gone.
  if (w.lastFailedBackupTime) set.lastFailedBackupTime = w.lastFailedBackupTime.toISOString();
  if (w.lastSuccessfulBackupName) set.lastSuccessfulBackupName = w.lastSuccessfulBackupName;
  return { set, unset };
}

/** Completed plugin Backups of this Cluster (same UID, same plugin, same store) whose backup id is gone. */
async function deleteOrphanBackups(deps: MaintenanceDeps, cluster: ClusterView, own: StoreRef, ids: ReadonlySet<string>): Promise<string[]> {
  const items = await deps.kube.list(cluster.group, cluster.version, 'backups', cluster.namespace, `cnpg.io/cluster=${cluster.name}`);
  const deleted: string[] = [];
  for (const b of items) {
    if (!isOrphan(b, cluster, own, deps.pluginName, ids)) continue;
    const name = String(b.metadata?.name);
    if (await deps.kube.delete(cluster.group, cluster.version, 'backups', cluster.namespace, name)) {
      deps.log.info(`deleted Backup ${cluster.namespace}/${name}: backup ${String((b.status as Record<string, unknown>).backupId)} is no longer in ${own.objectStoreName} (server ${own.serverName})`);
      deleted.push(name);
    }
  }
  return deleted;
}

export function isOrphan(b: KubeObject, cluster: ClusterView, own: StoreRef, pluginName: string, ids: ReadonlySet<string>): boolean {
  const spec = (b.spec ?? {}) as Record<string, unknown>;
  const status = (b.status ?? {}) as Record<string, unknown>;
  const meta = (status.pluginMetadata ?? {}) as Record<string, unknown>;
  if (spec.method !== 'plugin' || status.phase !== 'completed' || typeof status.backupId !== 'string') return false;
  if (meta.clusterUID !== cluster.uid || meta.pluginName !== pluginName) return false;
  // A backup taken into another store (Backup parameters) is not in this catalog: never judged from it.
  if ((meta.barmanObjectName ?? own.objectStoreName) !== own.objectStoreName || (meta.serverName ?? own.serverName) !== own.serverName) return false;
  return !ids.has(status.backupId);
}

/** Runs passes until `signal` aborts; the first after `initialDelayMs`. */
export function startMaintenanceLoop(deps: MaintenanceDeps, signal: AbortSignal, initialDelayMs: number): Promise<void> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let running: Promise<unknown> = Promise.resolve();
    const schedule = (ms: number): void => {
      timer = setTimeout(() => {
        running = runMaintenance(deps, signal).then((o) => {
          if (o.skipped) deps.log.debug(`background maintenance: ${o.skipped}`);
          if (!signal.aborted) schedule(o.nextInSeconds * 1000);
        });
      }, ms);
    };
    signal.addEventListener('abort', () => { if (timer) clearTimeout(timer); void running.then(() => resolve()); }, { once: true });
    if (!signal.aborted) schedule(initialDelayMs);
    else resolve();
  });
}
