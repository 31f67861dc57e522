/**
 * Backup (`Backup` resources with method: plugin): an online base backup of the pod's own PostgreSQL, taken
 * in-process through the engine, connecting as CNPG's sidecar does (PGHOST/PGPORT of the pod, user postgres),
 * with the ObjectStore's data settings (immediateCheckpoint, jobs, compression). The call lasts as long as the
 * backup (CNPG sets no deadline on the socket). `Backup.spec.pluginConfiguration.parameters` are honoured
 * (barmanObjectName, serverName: another store for this one backup, #611). The result carries every field
 * CNPG copies into Backup.status, and metadata with the cluster UID and plugin name (Backup cleanup matches them).
 */
import { VERSION } from '../../version.js';
import { parseClusterDefinition, parseJsonObject } from '../cluster-definition.js';
import type { PluginLogger } from '../json-logger.js';
import { requireOwnStore, resolvePluginConfig, type StoreRef } from '../plugin-config.js';
import type { PodEnvironment } from '../plugin-options.js';
import type { BackupRequest, BackupResult } from '../protocol/messages.js';
import { service, type ServedService } from '../protocol/service-types.js';
import type { EngineRegistry } from './engine-registry.js';
import type { StatusReporter } from './status-reporter.js';
import type { Telemetry } from './telemetry.js';

export interface BackupServiceDeps {
  pluginName: string;
  pod: PodEnvironment;
  registry: EngineRegistry;
  telemetry: Telemetry;
  status: StatusReporter;
  log: PluginLogger;
  now?: () => Date;
}

export function backupService(deps: BackupServiceDeps): ServedService<'Backup'> {
  return service('Backup', 'TYPE_BACKUP_SERVICE', {
    GetCapabilities: () => ({ capabilities: [{ rpc: { type: 'TYPE_BACKUP' } }] }),
    Backup: (req, ctx) => backup(deps, req, ctx.signal),
  });
}

/** Barman's name CNPG uses for plugin backups: backup-YYYYMMDDHHMMSS (UTC). */
export function backupNameFor(at: Date): string {
  return `backup-${at.toISOString().replace(/[-:T]/g, '').slice(0, 14)}`;
}

/** The store for this backup: the Backup's parameters override the Cluster's (#611). */
export function backupStoreRef(own: StoreRef | undefined, parameters: Readonly<Record<string, string>>, clusterName: string): StoreRef | undefined {
  const name = parameters.barmanObjectName;
  if (!name) return own && parameters.serverName ? { ...own, serverName: parameters.serverName, origin: 'Backup.spec.pluginConfiguration.parameters' } : own;
  return { objectStoreName: name, serverName: parameters.serverName || own?.serverName || clusterName, origin: 'Backup.spec.pluginConfiguration.parameters' };
}

async function backup(deps: BackupServiceDeps, req: BackupRequest, signal: AbortSignal): Promise<BackupResult> {
  const cluster = parseClusterDefinition(req.cluster_definition, { defaultGroup: deps.pod.cnpgGroup, defaultVersion: deps.pod.cnpgVersion });
  const backupObject = parseJsonObject(req.backup_definition, 'backup_definition');
  const backupResource = String((backupObject.metadata as Record<string, unknown> | undefined)?.name ?? '');
  const config = resolvePluginConfig(cluster, deps.pluginName);
  const ref = backupStoreRef(config.own, req.parameters ?? {}, cluster.name) ?? requireOwnStore(config, cluster, `backup ${backupResource}`);
  const log = deps.log.child({ backup: backupResource, objectStore: ref.objectStoreName, serverName: ref.serverName });
  const name = backupNameFor((deps.now ?? (() => new Date()))());
  const lease = await deps.registry.acquire(cluster.namespace, ref);
  const started = Date.now();
  try {
    log.info(`starting base backup ${name} of the local PostgreSQL into ${lease.engine.description}`);
    const r = await lease.engine.takeBackup({
      name, signal,
      postgres: { ...(deps.pod.pgHost ? { host: deps.pod.pgHost } : {}), port: deps.pod.pgPort, user: 'postgres', dbname: 'postgres' },
    });
    const seconds = (Date.now() - started) / 1000;
    deps.telemetry.lastBackup = { name, backupId: r.backupId, endTime: r.endTime, durationSeconds: seconds, sizeBytes: r.stats.storedBytes };
    log.info(`backup ${r.backupId} (${name}) done: WAL ${r.beginWal}..${r.endWal}, ${r.stats.storedBytes} bytes stored in ${seconds.toFixed(1)} s`);
    deps.status.update(cluster.namespace, ref.objectStoreName, ref.serverName, {
      lastSuccessfulBackupTime: r.endTime.toISOString(), lastSuccessfulBackupName: name,
      lastBackupDurationSeconds: Math.round(seconds * 1000) / 1000, lastBackupSizeBytes: r.stats.storedBytes,
    }, { immediate: true });
    return {
      backup_id: r.backupId, backup_name: name,
      started_at: Math.floor(r.beginTime.getTime() / 1000), stopped_at: Math.floor(r.endTime.getTime() / 1000),
      begin_wal: r.beginWal, end_wal: r.endWal, begin_lsn: r.beginLsn, end_lsn: r.endLsn,
      backup_label_file: Buffer.from(r.backupLabel, 'utf8'), tablespace_map_file: Buffer.alloc(0),
      instance_id: deps.pod.podName ?? '', online: true,
      metadata: {
        timeline: String(r.timeline), version: VERSION, name: deps.pluginName, displayName: 'pgstow',
        clusterUID: cluster.uid, pluginName: deps.pluginName, barmanObjectName: ref.objectStoreName, serverName: ref.serverName,
      },
    };
  } catch (err) {
    const at = new Date();
    deps.telemetry.lastFailedBackupAt = at;
    deps.status.update(cluster.namespace, ref.objectStoreName, ref.serverName, { lastFailedBackupTime: at.toISOString() }, { immediate: true });
    throw err;
  } finally {
    lease.release();
  }
}
