/**
 * The Engine's backup calls (take, restore, list, delete): options plus settings → the backup services' inputs,
 * and their results → the public types. Loaded by engine-calls on the first backup call, so that a WAL call
 * never loads the recovery-target, retention or PostgreSQL client code.
 */
import { UsageError } from '../errors.js';
import { BackupStatus } from '../domain/backup/backup-info.js';
import { parseLsn } from '../domain/wal/lsn.js';
import { parseRecoveryTime } from '../domain/recovery/recovery-time.js';
import { parseRecoveryPlan } from '../domain/recovery/recovery-target.js';
import { parseRetentionPolicy } from '../domain/retention/retention-policy.js';
import { resolveConnection } from '../postgres/connection-options.js';
import { takeBackup } from '../services/take-backup.js';
import { restoreBackup, type RestoreInput } from '../services/restore-backup.js';
import type { DeleteSelection } from '../services/delete-backups.js';
import type { CallContext } from './engine-calls.js';
import type { EngineSettings, PostgresSettings } from './settings.js';
import type {
  CatalogBackup, RecoveryWindow, RestoreBackupOptions, RestoreBackupResult, TakeBackupOptions, TakeBackupResult,
} from './types.js';

const MAX_ARCHIVE_LIMIT = 1024 ** 4;

export function deleteSelection(settings: EngineSettings, ids: readonly string[] | undefined, policy: string | undefined): DeleteSelection {
  if (ids && ids.length > 0) {
    if (policy !== undefined) throw new UsageError('deleteBackups: give backupIds or a retentionPolicy, not both');
    return { kind: 'ids', identifiers: ids };
  }
  const text = policy ?? settings.retentionPolicy;
  if (text === undefined) throw new UsageError('deleteBackups: no backupIds, no retentionPolicy, and settings.retentionPolicy is not set');
  return { kind: 'policy', policy: parseRetentionPolicy(text) };
}

/** The recoverability fields of CloudNativePG's ObjectStore status, from the catalog. */
export function recoveryWindow(backups: readonly CatalogBackup[]): RecoveryWindow {
  const done = backups.filter((b) => b.info.status === BackupStatus.DONE && b.info.endTime);
  const failed = backups.filter((b) => b.info.status === BackupStatus.FAILED && (b.info.endTime ?? b.info.beginTime));
  const last = done.at(-1);
  const lastFailed = failed.at(-1);
  return {
    firstRecoverabilityPoint: done[0]?.info.endTime?.toDate() ?? null,
    lastSuccessfulBackupTime: last?.info.endTime?.toDate() ?? null,
    lastSuccessfulBackupId: last?.id ?? null,
    lastSuccessfulBackupName: last?.info.backupName ?? null,
    lastFailedBackupTime: (lastFailed?.info.endTime ?? lastFailed?.info.beginTime)?.toDate() ?? null,
  };
}

function connectionOf(pg: PostgresSettings | undefined): ReturnType<typeof resolveConnection> {
  const p = pg ?? {};
  const env: Record<string, string | undefined> = { ...p.libpqEnv };
  if (p.password !== undefined) env.PGPASSWORD = typeof p.password === 'string' ? p.password : p.password.reveal();
  return resolveConnection({
    ...(p.host !== undefined ? { host: p.host } : {}), ...(p.port !== undefined ? { port: String(p.port) } : {}),
    ...(p.user !== undefined ? { user: p.user } : {}), ...(p.dbname !== undefined ? { dbname: p.dbname } : {}),
  }, env);
}

export async function runTakeBackup(ctx: CallContext, o: TakeBackupOptions): Promise<TakeBackupResult> {
  const d = ctx.settings.data ?? {};
  let maxArchiveSize = o.maxArchiveSize ?? d.maxArchiveSize;
  if (maxArchiveSize !== undefined && maxArchiveSize > MAX_ARCHIVE_LIMIT) {
    ctx.log.warning('WARN_OPTION_CLAMPED', 'max archive size is above the 1 TiB limit: using 1 TiB');
    maxArchiveSize = MAX_ARCHIVE_LIMIT;
  }
  const tags = o.tags ?? ctx.settings.tags;
  const maxBandwidth = o.maxBandwidth ?? d.maxBandwidth;
  const level = o.compressionLevel ?? d.compressionLevel;
  const r = await takeBackup({ store: await ctx.core.store('data'), layout: ctx.layout }, {
    connection: await connectionOf(o.postgres ?? ctx.settings.postgres), compression: o.compression ?? d.compression ?? 'none',
    jobs: o.jobs ?? d.jobs ?? 2, immediateCheckpoint: o.immediateCheckpoint ?? d.immediateCheckpoint ?? false, log: ctx.log, signal: ctx.signal,
    ...(maxArchiveSize !== undefined ? { maxArchiveSize } : {}), ...(maxBandwidth !== undefined ? { maxBandwidth } : {}),
    ...(level !== undefined ? { compressionLevel: level } : {}), ...(o.name !== undefined ? { name: o.name } : {}),
    ...(tags ? { tags } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}), memory: ctx.core.memory,
    ...(o.garbageAgeMs !== undefined ? { garbageAgeMs: o.garbageAgeMs } : {}), ...(o.removeFailed !== undefined ? { removeFailed: o.removeFailed } : {}),
  });
  const i = r.info;
  return {
    backupId: r.backupId, backupName: i.backupName, beginTime: (i.beginTime as NonNullable<typeof i.beginTime>).toDate(), endTime: (i.endTime as NonNullable<typeof i.endTime>).toDate(),
    beginWal: i.beginWal ?? '', endWal: i.endWal ?? '', beginLsn: i.beginXlog ?? '', endLsn: i.endXlog ?? '', timeline: i.timeline ?? 0,
    postgresVersion: i.version ?? 0, systemId: i.systemid ?? '', backupLabel: typeof i.backupLabel === 'string' ? i.backupLabel : String(i.backupLabel ?? ''),
    info: i, manifest: r.manifest, stats: r.stats,
  };
}

/** Options → the restore service's input: relocations, `auto` criteria, and the recovery plan. */
export function restoreInput(settings: EngineSettings, o: RestoreBackupOptions): RestoreInput {
  const input: RestoreInput = { backupId: o.backupId, recoveryDir: o.destination, tablespaceRelocations: new Map(Object.entries(o.tablespaces ?? {})) };
  const jobs = o.jobs ?? settings.data?.jobs;
  if (jobs !== undefined) input.jobs = jobs;
  if (o.streamsPerObject !== undefined) input.streamsPerObject = o.streamsPerObject;
  if (o.partSize !== undefined) input.partSize = o.partSize;
  if (o.onProgress) input.onProgress = o.onProgress;
  if (o.allowUnverified) input.allowUnverified = true;
  if (o.backupId === 'auto' && o.auto) {
    input.auto = {};
    if (o.auto.targetTli !== undefined) input.auto.targetTli = o.auto.targetTli;
    if (o.auto.targetLsn !== undefined) input.auto.targetLsn = parseLsn(o.auto.targetLsn);
    if (o.auto.targetTime !== undefined) input.auto.targetTime = parseRecoveryTime(o.auto.targetTime);
  }
  const r = o.recovery;
  const plan = r ? parseRecoveryPlan({ time: r.time, lsn: r.lsn, xid: r.xid, name: r.name, immediate: r.immediate, latest: r.latest, timeline: r.timeline, action: r.action, exclusive: r.exclusive }) : undefined;
  if (plan && r) {
    input.recovery = { plan, restoreCommand: r.restoreCommand };
    // `auto` with a PITR target: the target also chooses the backup.
    if (o.backupId === 'auto' && !input.auto) {
      input.auto = {};
      if (plan.target.kind === 'time') input.auto.targetTime = plan.target.time;
      if (plan.target.kind === 'lsn') input.auto.targetLsn = plan.target.lsn;
    }
  }
  return input;
}

export async function runRestoreBackup(ctx: CallContext, o: RestoreBackupOptions): Promise<RestoreBackupResult> {
  const r = await restoreBackup({ store: await ctx.core.store('wal'), layout: ctx.layout, log: ctx.log, signal: ctx.signal },
    { ...restoreInput(ctx.settings, o), memory: ctx.core.memory });
  return {
    backupId: r.backup.backupId, backupName: r.backup.backupName ?? null, beginWal: r.backup.beginWal ?? null, status: r.backup.status, objects: r.files.length,
    downloadedBytes: r.downloadedBytes, writtenBytes: r.writtenBytes, members: r.members, seconds: r.seconds, tablespaces: r.tablespaces,
    ...(r.recoverySettings ? { recoverySettings: r.recoverySettings } : {}),
  };
}
