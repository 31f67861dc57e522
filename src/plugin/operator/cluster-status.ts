/**
 * What SetStatusInCluster publishes in `Cluster.status.pluginStatus[<plugin>].status`, shown by `kubectl cnpg
 * status` under the plugin: archiving (last archived WAL, its time and age, the last failure), the first
 * recoverability point and the recovery window, the last backup. Read from the ObjectStore status the instance
 * sidecar writes for the Cluster's serverName (CONTRACTS.md "ObjectStore status").
 *
 * CNPG re-reconciles a Cluster 5 s after this object changes, so nothing in it changes on its own from one
 * reconcile to the next: ages are coarse (whole minutes, then hours, then days), computed when CNPG asks.
 */
import type { ServerRecoveryWindow } from '../server-recovery-window.js';

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Json : {});

export type ServerStatus = ServerRecoveryWindow;

/** The serverRecoveryWindow entry of one server, or undefined when the sidecar has written none yet. */
export function serverStatus(objectStore: Json, serverName: string): ServerStatus | undefined {
  const entry = obj(obj(obj(objectStore.status).serverRecoveryWindow)[serverName]);
  return Object.keys(entry).length ? entry as ServerStatus : undefined;
}

/** "45s" → "<1m", then "17m", "5h", "12d": changes at most once a minute, then once an hour, then once a day. */
export function coarseAge(fromIso: string | undefined, now: Date): string | undefined {
  if (!fromIso) return undefined;
  const t = Date.parse(fromIso);
  if (Number.isNaN(t)) return undefined;
  const s = Math.max(0, Math.floor((now.getTime() - t) / 1000));
  if (s < 60) return '<1m';
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

const later = (a: string | undefined, b: string | undefined): boolean => a !== undefined && (b === undefined || Date.parse(a) > Date.parse(b));

function put(out: Json, key: string, value: unknown): void {
  if (value !== undefined && value !== '') out[key] = value;
}

/** The status object for one Cluster; `{}` when the Cluster archives through no ObjectStore of this plugin. */
export function clusterPluginStatus(store: { name: string; serverName: string; object: Json } | undefined, now: Date): Json {
  if (!store) return {};
  const out: Json = { objectStore: store.name, serverName: store.serverName };
  const s = serverStatus(store.object, store.serverName);
  if (!s) {
    out.archiving = 'no status yet from the instance sidecar';
    return out;
  }
  const failing = later(s.lastArchiveFailureTime, s.lastArchivedWALTime);
  out.archiving = failing ? 'failing' : s.lastArchivedWALTime ? 'ok' : 'no WAL archived yet';
  put(out, 'lastArchivedWAL', s.lastArchivedWAL);
  put(out, 'lastArchivedWALTime', s.lastArchivedWALTime);
  put(out, 'lastArchivedWALAge', coarseAge(s.lastArchivedWALTime, now));
  put(out, 'lastArchiveFailureTime', s.lastArchiveFailureTime);
  if (failing) put(out, 'lastArchiveFailure', s.lastArchiveFailure);
  put(out, 'firstRecoverabilityPoint', s.firstRecoverabilityPoint);
  put(out, 'recoveryWindow', coarseAge(s.firstRecoverabilityPoint, now));
  put(out, 'lastSuccessfulBackup', s.lastSuccessfulBackupName);
  put(out, 'lastSuccessfulBackupTime', s.lastSuccessfulBackupTime);
  put(out, 'lastSuccessfulBackupAge', coarseAge(s.lastSuccessfulBackupTime, now));
  put(out, 'lastBackupDurationSeconds', s.lastBackupDurationSeconds);
  put(out, 'lastBackupSizeBytes', s.lastBackupSizeBytes);
  put(out, 'lastFailedBackupTime', s.lastFailedBackupTime);
  return out;
}
