/**
 * The Engine's calls: each turns its options plus the settings in force into one service's input, runs it
 * on the engine's store, and returns the public result. Nothing here talks to a provider or PostgreSQL
 * directly; the services do. Each service module is loaded on its call's first use: archive_command pays
 * for archive-wal only, never for the backup's PostgreSQL client or the restore's tar reader.
 */
import type { Logger } from '../logger.js';
import type { BarmanLayout } from '../repository/barman-layout.js';
import { getCodec, resolveLevel } from '../pipeline/codecs.js';
import { defaultSpoolDir } from '../services/wal-spool.js';
import { StorageError } from '../storage/errors.js';
import { PgstowError } from '../errors.js';
import type { EngineCore } from './open-engine.js';
import type { EngineSettings } from './settings.js';
import type { ArchiveWalOptions, ArchiveWalResult, Engine } from './types.js';

export interface CallContext {
  core: EngineCore;
  signal: AbortSignal;
  settings: EngineSettings;
  layout: BarmanLayout;
  log: Logger;
}

const backupCalls = (): Promise<typeof import('./backup-calls.js')> => import('./backup-calls.js');

async function runArchiveWal(ctx: CallContext, walPath: string, o: ArchiveWalOptions): Promise<ArchiveWalResult> {
  const w = ctx.settings.wal ?? {};
  const maxParallel = o.maxParallel ?? w.maxParallel ?? 1;
  const spoolDir = o.spoolDir ?? (maxParallel > 1 ? defaultSpoolDir('wal-archive-spool', ctx.settings.destination, ctx.settings.serverName, w.spoolDir) : undefined);
  const codec = w.compression ? getCodec(w.compression) : undefined;
  const kms = ctx.settings.provider === 'aws-s3' && w.encryption === 'aws:kms';
  const { archiveWal } = await import('../services/archive-wal.js');
  const level = codec ? resolveLevel(codec, w.compressionLevel) : undefined;
  if (codec && typeof w.compressionLevel === 'number' && level !== w.compressionLevel) {
    // Barman (>= 3.14) uses the nearest level its codec has for an integer out of range; so does pgstow, saying so.
    ctx.log.warning('WARN_OPTION_CLAMPED', `--compression-level ${w.compressionLevel} is out of range for ${codec.name} (${codec.levels.min} to ${codec.levels.max}): using ${String(level)}`);
  }
  return archiveWal({ store: await ctx.core.store('wal'), layout: ctx.layout, log: ctx.log }, {
    walPath, codec, level, maxParallel, signal: ctx.signal,
    ...(spoolDir ? { spoolDir } : {}), ...(ctx.settings.tags ? { tags: ctx.settings.tags } : {}),
    ...(ctx.settings.historyTags ? { historyTags: ctx.settings.historyTags } : {}),
    // An SSE-KMS object's ETag is not its MD5.
    verifyMd5: !kms, memory: ctx.core.memory,
    // Archive-ahead outlives the call: tracked by the engine (close() waits, its signal aborts them).
    ...(o.ahead === 'background' ? { background: { run: (work: (signal: AbortSignal) => Promise<unknown>) => ctx.core.run(undefined, (c) => work(c.signal)), ahead: ctx.core.walAhead } } : {}),
  });
}

export function engineCalls(core: EngineCore, description: string): Engine {
  const wal = (ctx: CallContext): Promise<import('../storage/object-store.js').ObjectStore> => ctx.core.store('wal');
  return {
    get settings() { return core.settings; },
    description,
    archiveWal: (walPath, o = {}) => core.run(o.signal, (ctx) => runArchiveWal(ctx, walPath, o)),
    restoreWal: (walName, destPath, o = {}) => core.run(o.signal, async (ctx) => {
      const w = ctx.settings.wal ?? {};
      const maxParallel = o.maxParallel ?? w.maxParallel ?? 1;
      const spoolDir = o.spoolDir ?? (maxParallel > 1 ? defaultSpoolDir('wal-restore-spool', ctx.settings.destination, ctx.settings.serverName, w.spoolDir) : undefined);
      const { restoreWal } = await import('../services/restore-wal.js');
      const pacer = ctx.core.memory.pacer;
      return restoreWal({ store: await wal(ctx), layout: ctx.layout, log: ctx.log, ...(pacer ? { pacer } : {}) }, {
        walName, destPath, maxParallel, noPartial: o.noPartial === true, signal: ctx.signal, memory: ctx.core.memory,
        ...(spoolDir ? { spoolDir } : {}), ...(w.segmentSize ? { segmentSize: w.segmentSize } : {}),
        ...(w.prefetchMissTtlSeconds !== undefined ? { missingMarkerTtlMs: w.prefetchMissTtlSeconds * 1000 } : {}),
      });
    }),
    takeBackup: (o = {}) => core.run(o.signal, async (ctx) => (await backupCalls()).runTakeBackup(ctx, o)),
    restoreBackup: (o) => core.run(o.signal, async (ctx) => (await backupCalls()).runRestoreBackup(ctx, o)),
    listBackups: (o = {}) => core.run(o.signal, async (ctx) => {
      const { listBackups } = await import('../services/list-backups.js');
      const r = await listBackups({ store: await wal(ctx), layout: ctx.layout }, { withWal: o.withWal === true, signal: ctx.signal });
      return { serverName: r.catalog.serverName, backups: r.catalog.backups, unreadable: r.catalog.unreadable, incomplete: r.catalog.incomplete,
        recoveryWindow: (await backupCalls()).recoveryWindow(r.catalog.backups), wal: r.wal };
    }),
    showBackup: (backupId, o = {}) => core.run(o.signal, async (ctx) => {
      const { showBackup } = await import('../services/show-backup.js');
      return showBackup({ store: await wal(ctx), layout: ctx.layout }, { identifier: backupId, signal: ctx.signal });
    }),
    keepBackup: (backupId, action, o = {}) => core.run(o.signal, async (ctx) => {
      const { keepBackup } = await import('../services/keep-backup.js');
      return keepBackup({ store: await wal(ctx), layout: ctx.layout }, { identifier: backupId, action, signal: ctx.signal });
    }),
    deleteBackups: (o = {}) => core.run(o.signal, async (ctx) => {
      const { deleteBackups } = await import('../services/delete-backups.js');
      const r = await deleteBackups({ store: await wal(ctx), layout: ctx.layout, log: ctx.log }, {
        selection: (await backupCalls()).deleteSelection(ctx.settings, o.backupIds, o.retentionPolicy),
        minimumRedundancy: o.minimumRedundancy ?? ctx.settings.minimumRedundancy ?? 0, dryRun: o.dryRun === true, listWalKeys: o.listWalKeys === true,
        signal: ctx.signal, ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}), ...(o.now ? { now: o.now } : {}),
        ...(o.garbageAgeMs !== undefined ? { garbageAgeMs: o.garbageAgeMs } : {}), ...(o.removeFailed !== undefined ? { removeFailed: o.removeFailed } : {}),
      });
      return { ...r, wal: r.wal.map((w) => ({ backupId: w.rule.backupId, reason: w.rule.reason, rule: w.rule, objects: w.objects, bytes: w.bytes, firstKey: w.firstKey, lastKey: w.lastKey, keys: w.keys })) };
    }),
    checkWalArchive: (o = {}) => core.run(o.signal, async (ctx) => {
      const { checkWalArchive } = await import('../services/check-wal-archive.js');
      const r = await checkWalArchive({ store: await wal(ctx), layout: ctx.layout }, { signal: ctx.signal, ...(o.timeline !== undefined ? { timeline: o.timeline } : {}) });
      return { bucketMissing: r.bucketMissing, ...(r.bucketCreated ? { bucketCreated: true } : {}) };
    }),
    checkStore: (o = {}) => core.run(o.signal, async (ctx) => {
      const { checkStore } = await import('../services/check-store.js');
      const r = await checkStore({ store: await wal(ctx), layout: ctx.layout }, { signal: ctx.signal });
      return { ...r, steps: r.steps.map((s) => ({ step: s.step, status: s.status, detail: s.detail, ...(s.error instanceof PgstowError ? { code: s.error.code } : {}) })) };
    }),
    checkConnectivity: (o = {}) => core.run(o.signal, async (ctx) => {
      try {
        const { checkConnectivity } = await import('../services/check-connectivity.js');
        await checkConnectivity(await wal(ctx), ctx.layout, o.scope ?? 'wals', ctx.signal);
      } catch (err) {
        if (!(o.missingBucketOk && err instanceof StorageError && err.code === 'ERR_BUCKET_NOT_FOUND')) throw err;
      }
    }),
    reconfigure: (settings) => core.reconfigure(settings),
    close: () => core.close(),
  };
}
