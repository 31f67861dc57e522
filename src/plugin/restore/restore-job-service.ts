/**
 * RestoreJobHooks.Restore, in the `full-recovery` Job of a Cluster bootstrapped with `recovery.source` naming
 * an external cluster served by this plugin: first the empty-archive check on the new Cluster's own store (a
 * new cluster must not write into an archive in use), then PGDATA laid down from the chosen backup (the one of
 * recoveryTarget.backupID, else the newest DONE one ending before targetTime / targetLSN, else the latest),
 * the backup's first WAL proved present in the archive, pg_wal moved to the WAL volume when the Cluster has
 * walStorage, and the configuration CNPG appends to custom.conf: the wal-restore restore_command that comes
 * back to this sidecar's WAL service, and promotion at the end of recovery.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { errorMessage, OperationError } from '../../errors.js';
import { parseClusterDefinition, type ClusterView, type RecoveryTargetSpec } from '../cluster-definition.js';
import type { PluginLogger } from '../json-logger.js';
import { resolvePluginConfig } from '../plugin-config.js';
import { PluginConfigError } from '../plugin-errors.js';
import type { PodEnvironment } from '../plugin-options.js';
import type { RestoreRequest, RestoreResponse } from '../protocol/messages.js';
import { service, type ServedService } from '../protocol/service-types.js';
import type { EngineRegistry } from '../instance/engine-registry.js';
import type { PortEngine } from '../instance/engine-port.js';
import { SKIP_EMPTY_CHECK_ANNOTATION } from '../instance/wal-service.js';

/** What CNPG's instance manager runs for a plugin restore (restore_command of the recovering PostgreSQL). */
export const CNPG_RESTORE_COMMAND = '/controller/manager wal-restore --log-destination /controller/log/postgres.json %f %p';

export interface RestoreJobDeps {
  pluginName: string;
  pod: PodEnvironment;
  registry: EngineRegistry;
  log: PluginLogger;
}

export function restoreJobService(deps: RestoreJobDeps): ServedService<'RestoreJobHooks'> {
  return service('RestoreJobHooks', 'TYPE_RESTORE_JOB', {
    GetCapabilities: () => ({ capabilities: [{ kind: 'KIND_RESTORE' }] }),
    Restore: (req, ctx) => restore(deps, req, ctx.signal),
  });
}

async function restore(deps: RestoreJobDeps, req: RestoreRequest, signal: AbortSignal): Promise<RestoreResponse> {
  const cluster = parseClusterDefinition(req.cluster_definition, { defaultGroup: deps.pod.cnpgGroup, defaultVersion: deps.pod.cnpgVersion });
  const config = resolvePluginConfig(cluster, deps.pluginName);
  const source = config.recovery;
  if (!source) {
    throw new PluginConfigError(`Cluster ${cluster.namespace}/${cluster.name}: spec.bootstrap.recovery.source does not name an external cluster using plugin ${deps.pluginName}`, 'spec.bootstrap.recovery.source');
  }
  const check = req.check_empty_wal_archive ?? cluster.annotations[SKIP_EMPTY_CHECK_ANNOTATION] !== 'enabled';
  if (check && config.own) {
    const own = await deps.registry.acquire(cluster.namespace, config.own);
    try {
      await own.engine.checkWalArchive({ signal });
      deps.log.info(`the new cluster's WAL archive (ObjectStore ${config.own.objectStoreName}, server ${config.own.serverName}) is empty`);
    } finally {
      own.release();
    }
  }
  const lease = await deps.registry.acquire(cluster.namespace, source);
  try {
    const log = deps.log.child({ objectStore: source.objectStoreName, serverName: source.serverName });
    const { backupId, auto } = backupChoice(cluster.recovery?.recoveryTarget);
    log.info(`restoring ${backupId === 'auto' ? 'the backup matching the recovery target' : `backup ${backupId}`} into ${deps.pod.pgdata}`);
    const r = await lease.engine.restoreBackup({ backupId, destination: deps.pod.pgdata, ...(auto ? { auto } : {}), signal });
    log.info(`restored backup ${r.backupId}: ${r.members} files, ${r.writtenBytes} bytes in ${r.seconds.toFixed(1)} s`);
    if (r.beginWal) await proveWalPresent(lease.engine, r.beginWal, deps.pod.spoolDirectory, signal);
    if (cluster.hasWalStorage) await moveWalToVolume(deps.pod.pgdata, walVolumeDir(deps.pod.pgdata), log);
    return { restore_config: `recovery_target_action = 'promote'\nrestore_command = '${CNPG_RESTORE_COMMAND}'\n`, envs: [] };
  } finally {
    lease.release();
  }
}

/** recoveryTarget → the backup to restore (CNPG's rules: backupID, else by time/LSN, else the latest). */
export function backupChoice(t: RecoveryTargetSpec | undefined): { backupId: string; auto?: { targetTime?: string; targetLsn?: string; targetTli?: number | 'latest' } } {
  if (t?.backupID) return { backupId: t.backupID };
  if (t?.targetTime || t?.targetLSN) {
    const auto: { targetTime?: string; targetLsn?: string; targetTli?: number | 'latest' } = {};
    if (t.targetTime) auto.targetTime = t.targetTime;
    else if (t.targetLSN) auto.targetLsn = t.targetLSN;
    if (t.targetTLI && /^\d+$/.test(t.targetTLI)) auto.targetTli = Number(t.targetTLI);
    return { backupId: 'auto', auto };
  }
  return { backupId: 'latest' };
}

/** CNPG checks "the presence of the first needed WAL" before recovery: a backup without its WAL cannot start. */
async function proveWalPresent(engine: PortEngine, walName: string, spool: string, signal: AbortSignal): Promise<void> {
  const dir = path.join(spool, 'restore-check');
  await fsp.mkdir(dir, { recursive: true });
  const file = path.join(dir, walName);
  try {
    await engine.restoreWal(walName, file, { maxParallel: 1, signal });
  } catch (err) {
    throw new OperationError('ERR_BACKUP_WAL_MISSING', `the backup's first WAL file ${walName} cannot be restored from ${engine.description}: ${errorMessage(err)}`, { cause: err });
  } finally {
    await fsp.rm(file, { force: true });
  }
}

/** The pod's WAL volume: /var/lib/postgresql/wal/pg_wal beside /var/lib/postgresql/data/pgdata. */
export function walVolumeDir(pgdata: string): string {
  return path.join(path.dirname(path.dirname(pgdata)), 'wal', 'pg_wal');
}

/** Moves PGDATA/pg_wal's content to the WAL volume and leaves a symlink, as CNPG lays it out. */
export async function moveWalToVolume(pgdata: string, walDir: string, log: PluginLogger): Promise<void> {
  const inData = path.join(pgdata, 'pg_wal');
  const st = await fsp.lstat(inData);
  if (st.isSymbolicLink()) return;
  await fsp.mkdir(walDir, { recursive: true, mode: 0o700 });
  for (const name of await fsp.readdir(inData)) {
    const from = path.join(inData, name);
    const to = path.join(walDir, name);
    try {
      await fsp.rename(from, to);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      await fsp.cp(from, to, { recursive: true, preserveTimestamps: true });
      await fsp.rm(from, { recursive: true, force: true });
    }
  }
  await fsp.rmdir(inData);
  await fsp.symlink(walDir, inData);
  log.info(`pg_wal moved to the WAL volume ${walDir}`);
}

export type { ClusterView };
