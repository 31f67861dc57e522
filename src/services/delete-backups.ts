/**
 * Deletes backups by id/name or by retention policy, with Barman's rules for which backups and which WAL
 * files go (barman-cloud-backup-delete), and an order that makes an interrupted run safe and resumable:
 *
 *   1. every target's backup.info is rewritten with status FAILED + DELETION_IN_PROGRESS_ERROR, so no reader
 *      (pgstow, Barman, CloudNativePG) ever lists a partly deleted backup as DONE;
 *   2. the targets' data objects (tars, …) are deleted, in batches;
 *   3. the WAL listing is streamed once and every WAL a rule removes is deleted, in batches;
 *   4. the targets' backup.info objects are deleted last.
 *
 * A re-run (any delete, even one that selects nothing else) picks up backups left in step 1–4 and finishes
 * them. Runs without taking a backup, so retention can be scheduled on its own.
 */
import { OperationError } from '../errors.js';
import { BackupStatus, serializeBackupInfo } from '../domain/backup/backup-info.js';
import { pythonListRepr } from '../domain/backup/barman-output.js';
import { applyRetention, type RetentionDecision, type RetentionResult } from '../domain/retention/apply-retention.js';
import type { RetentionPolicy } from '../domain/retention/retention-policy.js';
import { planWalCleanup, walMatchesRule, type CleanupBackup, type WalCleanupRule } from '../domain/retention/wal-cleanup.js';
import type { BarmanLayout } from '../repository/barman-layout.js';
import {
  DELETION_IN_PROGRESS_ERROR, describeUnreadable, isDeletionInProgress, listWals, loadCatalog, resolveBackupId,
  type BackupCatalog, type CatalogBackup,
} from '../repository/backup-catalog.js';
import type { ObjectStore } from '../storage/object-store.js';
import { silentLogger, type Logger } from '../logger.js';
import { cleanupGarbage, DEFAULT_GARBAGE_AGE_MS, describeRemoval, type Removal } from './cleanup-garbage.js';

export interface DeleteDeps {
  store: ObjectStore;
  layout: BarmanLayout;
  /** Warnings Barman would log (missing backup, raised redundancy…) and progress for -v. */
  log?: Logger;
}

/** Backups by id, name or shortcut (each resolved like Barman's -b), or every backup a policy makes obsolete. */
export type DeleteSelection = { kind: 'ids'; identifiers: readonly string[] } | { kind: 'policy'; policy: RetentionPolicy };

export interface DeleteInput {
  selection: DeleteSelection;
  minimumRedundancy?: number;
  dryRun?: boolean;
  /** Keys per delete request (clamped to 1…store maximum). */
  batchSize?: number;
  now?: Date;
  signal?: AbortSignal;
  /**
   * Dry runs only: keep every WAL key to print Barman's "Skipping deletion of objects [...]" lines. Off, a dry
   * run keeps counts and the first/last key per rule, so a plan over 200,000 WAL files stays small.
   */
  listWalKeys?: boolean;
  /** Age past which abandoned uploads, orphans and FAILED backups are removed too (default 24 h; cleanup-garbage.ts). */
  garbageAgeMs?: number;
  /** Also remove FAILED backups (default true; the barman-cloud drop-in leaves them, as Barman). */
  removeFailed?: boolean;
}

export interface BackupPlan {
  readonly id: string;
  readonly status: string;
  /** Retention status (policy runs) or "DELETE"/"RESUME" for id runs and unfinished deletes. */
  readonly retention: string;
  readonly delete: boolean;
  readonly reason: string;
  /** Keys deleted with the backup (data objects then backup.info), in Barman's order. */
  readonly objects: readonly string[];
  readonly bytes: number;
}

export interface WalPlan {
  readonly rule: WalCleanupRule;
  /** Filled by a dry run with listWalKeys (keys in listing order); counts always. */
  readonly keys: string[];
  objects: number;
  bytes: number;
  /** First and last key the rule matched, in listing order (null when none). */
  firstKey: string | null;
  lastKey: string | null;
}

export interface DeleteResult {
  readonly policy: string | null;
  readonly pointOfRecoverability: Date | null;
  readonly minimumRedundancy: number;
  readonly backups: readonly BackupPlan[];
  readonly wal: readonly WalPlan[];
  readonly dryRun: boolean;
  /** Barman's "Skipping deletion of objects [...] due to --dry-run option" lines (dry runs). */
  readonly dryRunLines: readonly string[];
  readonly deletedObjects: number;
  readonly deletedBytes: number;
  /** Garbage removed besides (or, dry run, that would be): abandoned uploads, orphan and FAILED backups. */
  readonly removed: readonly Removal[];
}

/** What a delete will remove and why, decided from the catalog before anything is touched. */
export interface DeletionPlan {
  readonly policy: string | null;
  readonly pointOfRecoverability: Date | null;
  readonly minimumRedundancy: number;
  /** Every backup of the catalog with its decision. */
  readonly backups: readonly BackupPlan[];
  /** One WAL rule per target (counted while the WAL listing streams). */
  readonly wal: readonly WalPlan[];
  /** Ids to delete, sorted. */
  readonly targets: readonly string[];
  readonly byId: ReadonlyMap<string, CatalogBackup>;
  /** The catalog the plan was made from (the garbage sweep after the delete reads it). */
  readonly catalog: BackupCatalog;
  /**
   * Ids named with -b that the catalog cannot list as backups: killed before backup.info (orphans) or with an
   * unreadable backup.info. Their objects go, WAL stays (no begin/end to judge by).
   */
  readonly damaged: readonly string[];
}

type Decision = { retention: string; reason: string; delete: boolean };

export async function deleteBackups(deps: DeleteDeps, input: DeleteInput): Promise<DeleteResult> {
  return executeDeletion(deps, await planDeletion(deps, input), input);
}

/** Reads the catalog and decides (Barman's rules, plus finishing interrupted deletes); deletes nothing. */
export async function planDeletion(deps: DeleteDeps, input: DeleteInput): Promise<DeletionPlan> {
  const { store, layout } = deps;
  const log = deps.log ?? silentLogger;
  const minimumRedundancy = input.minimumRedundancy ?? 0;
  const catalog = await loadCatalog(store, layout, input.signal ? { signal: input.signal } : {});
  const damaged = input.selection.kind === 'ids' ? input.selection.identifiers.filter((id) => isDamaged(catalog, id)) : [];
  if (catalog.unreadable.some((u) => !damaged.includes(u.id))) {
    throw new OperationError('ERR_CATALOG_UNREADABLE',
      `Cannot read the following backups: ${describeUnreadable(catalog.unreadable.filter((u) => !damaged.includes(u.id)))}. Unsafe to proceed with deletion due to failure reading backup catalog`);
  }
  const reasons = new Map<string, Decision>();
  let retention: RetentionResult | null = null;
  let targets: string[];
  if (input.selection.kind === 'ids') {
    const identifiers = input.selection.identifiers.filter((id) => !damaged.includes(id));
    targets = selectByIds(catalog, identifiers, minimumRedundancy, reasons, log);
  } else {
    retention = applyRetention(
      catalog.backups.map((b) => ({ id: b.id, status: b.info.status, endTime: b.info.endTime?.toDate() ?? null, keep: b.keep })),
      input.selection.policy, input.now ?? new Date(), minimumRedundancy);
    for (const w of retention.warnings) log.warning('WARN_RETENTION', w);
    for (const d of retention.decisions) reasons.set(d.id, { retention: d.status, reason: d.reason, delete: d.delete });
    targets = retention.decisions.filter((d: RetentionDecision) => d.delete).map((d) => d.id);
  }
  // Backups a previous run started to delete are always finished.
  for (const b of catalog.backups.filter((x) => isDeletionInProgress(x.info))) {
    if (!targets.includes(b.id)) targets.push(b.id);
    reasons.set(b.id, { retention: 'RESUME', reason: 'an earlier delete was interrupted: finishing it', delete: true });
  }
  targets.sort();
  const backups: BackupPlan[] = catalog.backups.map((b) => {
    const r = reasons.get(b.id) ?? { retention: '-', reason: 'not selected', delete: false };
    const bytes = r.delete ? b.dataObjects.reduce((n, o) => n + o.size, 0) : 0;
    return { id: b.id, status: b.info.status, retention: r.retention, delete: r.delete, reason: r.reason, objects: r.delete ? deletionKeys(b) : [], bytes };
  });
  // Deleting by id skips WAL a standalone keep still needs; a policy keeps those backups anyway.
  const rules = planWalCleanup(catalog.backups.map(cleanupView), targets, input.selection.kind === 'ids');
  return {
    policy: retention?.policy ?? null, pointOfRecoverability: retention?.pointOfRecoverability ?? null, minimumRedundancy, backups, targets,
    wal: rules.map((rule) => ({ rule, keys: [], objects: 0, bytes: 0, firstKey: null, lastKey: null })),
    byId: new Map(catalog.backups.map((b) => [b.id, b])), catalog, damaged,
  };
}

function isDamaged(catalog: BackupCatalog, id: string): boolean {
  return catalog.incomplete.some((o) => o.id === id) || catalog.unreadable.some((u) => u.id === id);
}

/** Barman's -b: each identifier resolved; a kept backup or too few left refuses the whole delete. */
function selectByIds(catalog: BackupCatalog, identifiers: readonly string[], minimumRedundancy: number, reasons: Map<string, Decision>, log: Logger): string[] {
  const targets: string[] = [];
  for (const identifier of identifiers) {
    const id = resolveBackupId(catalog, identifier);
    const backup = catalog.backups.find((b) => b.id === id);
    if (!backup) {
      log.warning('WARN_BACKUP_MISSING', `Backup ${id} does not exist`);
      continue;
    }
    if (backup.keep !== null) {
      throw new OperationError('ERR_BACKUP_KEPT',
        `Skipping delete of backup ${id} for server ${catalog.serverName} as it has a current keep request. If you really want to delete this backup please remove the keep and try again.`);
    }
    const redundancy = catalog.backups.length - targets.length;
    if (minimumRedundancy > 0 && minimumRedundancy >= redundancy) {
      throw new OperationError('ERR_MINIMUM_REDUNDANCY',
        `Skipping delete of backup ${id} for server ${catalog.serverName} due to minimum redundancy requirements (minimum redundancy = ${minimumRedundancy}, current redundancy = ${redundancy})`);
    }
    if (!targets.includes(id)) targets.push(id);
    reasons.set(id, { retention: 'DELETE', reason: 'requested by id', delete: true });
  }
  return targets;
}

/** Carries the plan out (or, with dryRun, only counts the WAL it would remove), in the resumable order above. */
type ExecuteInput = Pick<DeleteInput, 'dryRun' | 'batchSize' | 'signal' | 'listWalKeys' | 'garbageAgeMs' | 'removeFailed'>;

export async function executeDeletion(deps: DeleteDeps, plan: DeletionPlan, input: ExecuteInput): Promise<DeleteResult> {
  const wal = plan.wal.map((w) => ({ ...w, keys: [...w.keys] }));
  const result = {
    policy: plan.policy, pointOfRecoverability: plan.pointOfRecoverability, minimumRedundancy: plan.minimumRedundancy,
    backups: plan.backups, wal, dryRun: input.dryRun ?? false, dryRunLines: [] as string[], deletedObjects: 0, deletedBytes: 0,
    removed: [] as Removal[],
  };
  for (const id of plan.damaged) {
    const r = await removeDamaged(deps, plan.catalog, id, input);
    result.removed.push(...r.removed);
    result.deletedObjects += r.objects;
    result.deletedBytes += r.bytes;
  }
  if (plan.targets.length > 0) await deleteTargets(deps, plan, wal, input, result);
  // Killed and failed backups' leftovers go too, and are reported (retention used to keep them forever).
  result.removed.push(...await sweepGarbage(deps, plan, input));
  return result;
}

async function deleteTargets(deps: DeleteDeps, plan: DeletionPlan, wal: WalPlan[], input: ExecuteInput,
  result: { dryRunLines: string[]; deletedObjects: number; deletedBytes: number }): Promise<void> {
  if (input.dryRun) {
    const keep = input.listWalKeys ?? false;
    await streamWal(deps.store, deps.layout, wal, input.signal, async (p, key) => { if (keep) p.keys.push(key); });
    if (!keep) return;
    for (const id of plan.targets) {
      result.dryRunLines.push(`Skipping deletion of objects ${pythonListRepr(deletionKeys(plan.byId.get(id)!))} due to --dry-run option`);
      const p = wal.find((x) => x.rule.backupId === id);
      if (p && p.keys.length) result.dryRunLines.push(`Skipping deletion of objects ${pythonListRepr([...p.keys].sort())} due to --dry-run option`);
    }
    return;
  }
  const counts = await removeTargets(deps, plan, wal, input);
  result.deletedObjects += counts.deletedObjects;
  result.deletedBytes += counts.deletedBytes;
}

async function sweepGarbage(deps: DeleteDeps, plan: DeletionPlan, input: ExecuteInput): Promise<Removal[]> {
  const log = deps.log ?? silentLogger;
  const dryRun = input.dryRun ?? false;
  const warn = (m: string): void => log.warning('WARN_GARBAGE_REMOVED', m);
  const removed = await cleanupGarbage(deps, plan.catalog, {
    dryRun, skip: new Set([...plan.targets, ...plan.damaged]), includeFailed: input.removeFailed !== false, warn,
    ...(input.garbageAgeMs !== undefined ? { olderThanMs: input.garbageAgeMs } : {}), ...(input.signal ? { signal: input.signal } : {}),
  });
  for (const r of removed) warn(describeRemoval(r, dryRun));
  return removed;
}

/**
 * `-b ID` for a backup the catalog cannot list as one: without backup.info (killed before its last step) or with
 * an unreadable one. Its objects go (and its unfinished uploads), WAL is left alone (no begin/end to judge by);
 * an orphan something wrote to within the garbage age may be a running backup and is refused.
 */
async function removeDamaged(deps: DeleteDeps, catalog: BackupCatalog, identifier: string, input: ExecuteInput): Promise<{ removed: Removal[]; objects: number; bytes: number }> {
  const { store, layout } = deps;
  const opts = input.signal ? { signal: input.signal } : {};
  const orphan = catalog.incomplete.find((o) => o.id === identifier);
  const unreadable = catalog.unreadable.find((u) => u.id === identifier);
  const keys = orphan ? orphan.objects.map((o) => o.key) : [...(unreadable?.objects ?? []).map((o) => o.key), unreadable?.backupInfoKey as string];
  const objects = orphan?.objects ?? unreadable?.objects ?? [];
  const bytes = objects.reduce((n, o) => n + o.size, 0);
  const age = input.garbageAgeMs ?? DEFAULT_GARBAGE_AGE_MS;
  const uploads = [];
  if (store.listIncompleteUploads) for await (const u of store.listIncompleteUploads(layout.backupPrefix(identifier), opts)) uploads.push(u);
  const newest = Math.max(0, ...objects.map((o) => o.lastModified?.getTime() ?? 0), ...uploads.map((u) => u.lastActivity.getTime()));
  if (orphan && Date.now() - newest < age) {
    throw new OperationError('ERR_BACKUP_IN_PROGRESS', `backup ${identifier} has no backup.info and was written to ${Math.round((Date.now() - newest) / 1000)} s ago: `
      + `it may still be running; nothing was deleted (it is removed once nothing touched it for ${Math.round(age / 1000)} s; --orphan-age sets that)`);
  }
  const why = orphan ? 'it has no backup.info (a backup killed before its end)' : `its backup.info is unreadable (${unreadable?.error})`;
  const removed: Removal[] = [{ kind: orphan ? 'orphan backup' : 'failed backup', name: identifier, keys, bytes, reason: why }];
  for (const u of uploads) removed.push({ kind: 'upload', name: u.key, keys: [u.key], bytes: u.size ?? 0, reason: `unfinished upload of backup ${identifier}` });
  if (!input.dryRun) {
    for (const u of uploads) await store.abortIncompleteUpload?.(u, opts);
    await deleteInBatches(store, keys, store.capabilities.maxBatchDelete, input.signal);
  }
  for (const r of removed) (deps.log ?? silentLogger).warning('WARN_GARBAGE_REMOVED', `${describeRemoval(r, input.dryRun)}; WAL files are left as they are`);
  return { removed, objects: input.dryRun ? 0 : keys.length, bytes: input.dryRun ? 0 : bytes };
}

/** 1 mark, 2 data objects, 3 WAL (streamed), 4 backup.info: an interruption anywhere is finished by a re-run. */
async function removeTargets(deps: DeleteDeps, plan: DeletionPlan, wal: WalPlan[], input: Pick<DeleteInput, 'batchSize' | 'signal'>): Promise<{ deletedObjects: number; deletedBytes: number }> {
  const { store } = deps;
  const log = deps.log ?? silentLogger;
  const signal = input.signal;
  const batch = Math.max(1, Math.min(input.batchSize ?? store.capabilities.maxBatchDelete, store.capabilities.maxBatchDelete));
  const targets = plan.targets.map((id) => plan.byId.get(id)!);
  for (const b of targets) {
    // A partly deleted backup must never be listed as DONE.
    if (isDeletionInProgress(b.info)) continue;
    const marked = { ...b.info, status: BackupStatus.FAILED, error: DELETION_IN_PROGRESS_ERROR };
    await store.put(b.backupInfoKey, Buffer.from(serializeBackupInfo(marked, { includeNewerKeys: hasNewerKeys(b) })), signal ? { signal } : {});
    log.info(`Marked backup ${b.id} as being deleted`);
  }
  const dataKeys = targets.flatMap((b) => b.dataObjects.map((o) => o.key));
  await deleteInBatches(store, dataKeys, batch, signal);
  let deletedObjects = dataKeys.length;
  let deletedBytes = targets.reduce((n, b) => n + b.dataObjects.reduce((m, o) => m + o.size, 0), 0);
  log.info(`Deleted ${dataKeys.length} data objects of ${targets.length} backup(s)`);
  let pending: string[] = [];
  await streamWal(store, deps.layout, wal, signal, async (_p, key) => {
    pending.push(key);
    if (pending.length >= batch) {
      const chunk = pending;
      pending = [];
      await store.delete(chunk, signal ? { signal } : {});
    }
  });
  if (pending.length) await store.delete(pending, signal ? { signal } : {});
  for (const p of wal) { deletedObjects += p.objects; deletedBytes += p.bytes; }
  await deleteInBatches(store, targets.map((b) => b.backupInfoKey), batch, signal);
  return { deletedObjects: deletedObjects + targets.length, deletedBytes };
}

/** Data objects in Barman's order (PGDATA, then tablespaces by oid, extra volumes sorted), then backup.info. */
export function deletionKeys(b: CatalogBackup): string[] {
  const prefix = b.backupInfoKey.slice(0, -'backup.info'.length);
  const rank = (key: string): [number, string] => {
    const name = key.slice(prefix.length);
    const m = /^(data|\d+)(_\d{4})?\.tar/.exec(name);
    if (!m) return [Number.MAX_SAFE_INTEGER, name];
    const group = m[1] === 'data' ? -1 : Number(m[1]);
    // Main volume first ("data.tar" < "data_0001.tar" by the `_` marker), extras in path order.
    return [group, (m[2] ? '1' : '0') + name];
  };
  const keys = b.dataObjects.map((o) => o.key).sort((x, y) => {
    const [gx, nx] = rank(x);
    const [gy, ny] = rank(y);
    return gx !== gy ? gx - gy : nx < ny ? -1 : nx > ny ? 1 : 0;
  });
  return [...keys, b.backupInfoKey];
}

function cleanupView(b: CatalogBackup): CleanupBackup {
  return { id: b.id, status: b.info.status, timeline: b.info.timeline, beginWal: b.info.beginWal, endWal: b.info.endWal, keep: b.keep };
}

function hasNewerKeys(b: CatalogBackup): boolean {
  const i = b.info;
  return i.childrenBackupIds !== null || i.clusterSize !== null || i.dataChecksums !== null || i.encryption !== null || i.parentBackupId !== null || i.summarizeWal !== null;
}

async function streamWal(store: ObjectStore, layout: BarmanLayout, plans: WalPlan[], signal: AbortSignal | undefined, onMatch: (plan: WalPlan, key: string) => Promise<void>): Promise<void> {
  const active = plans.filter((p) => p.rule.remove);
  if (!active.length) return;
  for await (const w of listWals(store, layout, signal)) {
    // The first rule that removes a WAL owns it: Barman drops it from its cache after that deletion.
    const plan = active.find((p) => walMatchesRule(p.rule, w.name));
    if (!plan) continue;
    plan.objects++;
    plan.bytes += w.size;
    plan.firstKey ??= w.key;
    plan.lastKey = w.key;
    await onMatch(plan, w.key);
  }
}

async function deleteInBatches(store: ObjectStore, keys: readonly string[], batch: number, signal?: AbortSignal): Promise<void> {
  for (let i = 0; i < keys.length; i += batch) await store.delete(keys.slice(i, i + batch), signal ? { signal } : {});
}

export type { BackupCatalog };
