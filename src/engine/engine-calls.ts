/**
 * The Engine's calls: each turns its options plus the settings in force into one service's input, runs it
 * on the engine's store, and returns the public result. Nothing here talks to a provider or PostgreSQL
 * directly; the services do.
 */
import { UsageError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { BarmanLayout } from '../repository/barman-layout.js';
import { BackupStatus } from '../domain/backup/backup-info.js';
import { parseLsn } from '../domain/wal/lsn.js';
import { parseRecoveryTime } from '../domain/recovery/recovery-time.js';
import { parseRecoveryPlan } from '../domain/recovery/recovery-target.js';
import { parseRetentionPolicy } from '../domain/retention/retention-policy.js';
import { getCodec, resolveLevel } from '../pipeline/codecs.js';
import { resolveConnection } from '../postgres/connection-options.js';
import { archiveWal } from '../services/archive-wal.js';
import { restoreWal } from '../services/restore-wal.js';
import { takeBackup } from '../services/take-backup.js';
import { restoreBackup, type RestoreInput } from '../services/restore-backup.js';
import { listBackups } from '../services/list-backups.js';
import { showBackup } from '../services/show-backup.js';
import { keepBackup } from '../services/keep-backup.js';
import { deleteBackups, type DeleteSelection } from '../services/delete-backups.js';
import { checkWalArchive } from '../services/check-wal-archive.js';
import { checkStore } from '../services/check-store.js';
import { checkConnectivity } from '../services/check-connectivity.js';
import { defaultSpoolDir } from '../services/wal-spool.js';
import { StorageError } from '../storage/errors.js';
import { PgstowError } from '../errors.js';
import type { EngineCore } from './open-engine.js';
import type { EngineSettings, PostgresSettings } from './settings.js';
import type {
  CatalogBackup, Engine, RecoveryWindow, RestoreBackupOptions, RestoreBackupResult, TakeBackupOptions, TakeBackupResult,
} from './types.js';

export interface CallContext {
  core: EngineCore;
  signal: AbortSignal;
  settings: EngineSettings;
  layout: BarmanLayout;
  log: Logger;
}

const MAX_ARCHIVE_LIMIT = 1024 ** 4;

export function engineCalls(core: EngineCore, description: string): Engine {
  const wal = (ctx: CallContext): Promise<import('../storage/object-store.js').ObjectStore> => ctx.core.store('wal');
  return {
    get settings() { return core.settings; },
    description,
    archiveWal: (walPath, o = {}) => core.run(o.signal, async (ctx) => {
      const w = ctx.settings.wal ?? {};
      const maxParallel = o.maxParallel ?? w.maxParallel ?? 1;
      const spoolDir = o.spoolDir ?? (maxParallel > 1 ? defaultSpoolDir('wal-archive-spool', ctx.settings.destination, ctx.settings.serverName, w.spoolDir) : undefined);
      const codec = w.compression ? getCodec(w.compression) : undefined;
      const kms = ctx.settings.provider === 'aws-s3' && w.encryption === 'aws:kms';
      return archiveWal({ store: await wal(ctx), layout: ctx.layout, log: ctx.log }, {
        walPath, codec, level: codec ? resolveLevel(codec, w.compressionLevel) : undefined, maxParallel, signal: ctx.signal,
        ...(spoolDir ? { spoolDir } : {}), ...(ctx.settings.tags ? { tags: ctx.settings.tags } : {}),
        ...(ctx.settings.historyTags ? { historyTags: ctx.settings.historyTags } : {}),
        // An SSE-KMS object's ETag is not its MD5.
        verifyMd5: !kms,
      });
    }),
    restoreWal: (walName, destPath, o = {}) => core.run(o.signal, async (ctx) => {
      const w = ctx.settings.wal ?? {};
      const maxParallel = o.maxParallel ?? w.maxParallel ?? 1;
      const spoolDir = o.spoolDir ?? (maxParallel > 1 ? defaultSpoolDir('wal-restore-spool', ctx.settings.destination, ctx.settings.serverName, w.spoolDir) : undefined);
      return restoreWal({ store: await wal(ctx), layout: ctx.layout, log: ctx.log }, {
        walName, destPath, maxParallel, noPartial: o.noPartial === true, signal: ctx.signal,
        ...(spoolDir ? { spoolDir } : {}), ...(w.segmentSize ? { segmentSize: w.segmentSize } : {}),
        ...(w.prefetchMissTtlSeconds !== undefined ? { missingMarkerTtlMs: w.prefetchMissTtlSeconds * 1000 } : {}),
      });
    }),
    takeBackup: (o = {}) => core.run(o.signal, (ctx) => runTakeBackup(ctx, o)),
    restoreBackup: (o) => core.run(o.signal, (ctx) => runRestoreBackup(ctx, o)),
    listBackups: (o = {}) => core.run(o.signal, async (ctx) => {
      const r = await listBackups({ store: await wal(ctx), layout: ctx.layout }, { withWal: o.withWal === true, signal: ctx.signal });
      return { serverName: r.catalog.serverName, backups: r.catalog.backups, unreadable: r.catalog.unreadable, incomplete: r.catalog.incomplete,
        recoveryWindow: recoveryWindow(r.catalog.backups), wal: r.wal };
    }),
    showBackup: (backupId, o = {}) => core.run(o.signal, async (ctx) => showBackup({ store: await wal(ctx), layout: ctx.layout }, { identifier: backupId, signal: ctx.signal })),
    keepBackup: (backupId, action, o = {}) => core.run(o.signal, async (ctx) => keepBackup({ store: await wal(ctx), layout: ctx.layout }, { identifier: backupId, action, signal: ctx.signal })),
    deleteBackups: (o = {}) => core.run(o.signal, async (ctx) => {
      const r = await deleteBackups({ store: await wal(ctx), layout: ctx.layout, log: ctx.log }, {
        selection: deleteSelection(ctx.settings, o.backupIds, o.retentionPolicy),
        minimumRedundancy: o.minimumRedundancy ?? ctx.settings.minimumRedundancy ?? 0, dryRun: o.dryRun === true, listWalKeys: o.listWalKeys === true,
        signal: ctx.signal, ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}), ...(o.now ? { now: o.now } : {}),
      });
      return { ...r, wal: r.wal.map((w) => ({ backupId: w.rule.backupId, reason: w.rule.reason, rule: w.rule, objects: w.objects, bytes: w.bytes, firstKey: w.firstKey, lastKey: w.lastKey, keys: w.keys })) };
    }),
    checkWalArchive: (o = {}) => core.run(o.signal, async (ctx) => {
      const r = await checkWalArchive({ store: await wal(ctx), layout: ctx.layout }, { signal: ctx.signal, ...(o.timeline !== undefined ? { timeline: o.timeline } : {}) });
      return { bucketMissing: r.bucketMissing };
    }),
    checkStore: (o = {}) => core.run(o.signal, async (ctx) => {
      const r = await checkStore({ store: await wal(ctx), layout: ctx.layout }, { signal: ctx.signal });
      return { ...r, steps: r.steps.map((s) => ({ step: s.step, status: s.status, detail: s.detail, ...(s.error instanceof PgstowError ? { code: s.error.code } : {}) })) };
    }),
    checkConnectivity: (o = {}) => core.run(o.signal, async (ctx) => {
      try {
        await checkConnectivity(await wal(ctx), ctx.layout, o.scope ?? 'wals', ctx.signal);
      } catch (err) {
        if (!(o.missingBucketOk && err instanceof StorageError && err.code === 'ERR_BUCKET_NOT_FOUND')) throw err;
      }
    }),
    reconfigure: (settings) => core.reconfigure(settings),
    close: () => core.close(),
  };
}

function deleteSelection(settings: EngineSettings, ids: readonly string[] | undefined, policy: string | undefined): DeleteSelection {
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

async function runTakeBackup(ctx: CallContext, o: TakeBackupOptions): Promise<TakeBackupResult> {
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
    ...(tags ? { tags } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}),
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

async function runRestoreBackup(ctx: CallContext, o: RestoreBackupOptions): Promise<RestoreBackupResult> {
  const r = await restoreBackup({ store: await ctx.core.store('wal'), layout: ctx.layout, log: ctx.log, signal: ctx.signal }, restoreInput(ctx.settings, o));
  return {
    backupId: r.backup.backupId, backupName: r.backup.backupName ?? null, status: r.backup.status, objects: r.files.length,
    downloadedBytes: r.downloadedBytes, writtenBytes: r.writtenBytes, members: r.members, seconds: r.seconds, tablespaces: r.tablespaces,
    ...(r.recoverySettings ? { recoverySettings: r.recoverySettings } : {}),
  };
}
