/**
 * Which WAL files go with a deleted backup — Barman's rules (BackupManager.should_remove_wals and
 * barman-cloud-backup-delete's _remove_wals_for_backup, 3.4…3.17), as pure data so the delete service can
 * stream the WAL listing once and test every name against every rule.
 *
 *  - Walk older backups (status DONE or WAITING_FOR_WALS): none → remove; a keep:standalone one → protect
 *    its [begin_wal, end_wal] and go on (or keep everything when deleting by id); anything else → keep
 *    everything (PITR from that older backup must stay possible).
 *  - Remove names (suffix-less, string comparison) below `until.begin_wal`, where `until` is the next newer
 *    backup or the deleted one; never history files; never on timelines of other backups except until's.
 */
import { BackupStatus } from '../backup/backup-info.js';

export interface CleanupBackup {
  readonly id: string;
  readonly status: string;
  readonly timeline: number | null;
  readonly beginWal: string | null;
  readonly endWal: string | null;
  /** Raw keep annotation value or null. */
  readonly keep: string | null;
}

export interface WalCleanupRule {
  readonly backupId: string;
  /** False: this deletion removes no WAL. */
  readonly remove: boolean;
  /** Names strictly below this are removed (the next backup's begin_wal, or the deleted one's). */
  readonly until: string | null;
  readonly untilBackupId: string | null;
  readonly protectedTimelines: readonly number[];
  readonly protectedRanges: ReadonlyArray<readonly [string, string]>;
  readonly reason: string;
}

const COPY_DONE: ReadonlySet<string> = new Set([BackupStatus.DONE, BackupStatus.WAITING_FOR_WALS]);

/** The rule for deleting `targetId` from `backups` (the catalog as it is at that moment, target included). */
export function walCleanupRule(backups: readonly CleanupBackup[], targetId: string, skipIfStandalone: boolean): WalCleanupRule {
  const sorted = [...backups].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const idx = sorted.findIndex((b) => b.id === targetId);
  const target = sorted[idx];
  const none = (reason: string): WalCleanupRule => ({ backupId: targetId, remove: false, until: null, untilBackupId: null, protectedTimelines: [], protectedRanges: [], reason });
  if (!target) return none('backup not in the catalog');

  const ranges: Array<readonly [string, string]> = [];
  for (let i = idx - 1; i >= 0; i--) {
    const prev = sorted[i]!;
    if (!COPY_DONE.has(prev.status)) continue;
    if (prev.keep === 'standalone') {
      if (skipIfStandalone) return none(`older backup ${prev.id} is keep:standalone and the backup is deleted by id: WAL kept`);
      if (prev.beginWal !== null && prev.endWal !== null) ranges.push([prev.beginWal, prev.endWal]);
      continue;
    }
    return none(`older backup ${prev.id} still needs the WAL for point-in-time recovery`);
  }

  const next = sorted.slice(idx + 1).find((b) => COPY_DONE.has(b.status));
  const until = next ?? target;
  const timelines = new Set<number>();
  for (const b of sorted) if (b !== target && b.timeline !== null) timelines.add(b.timeline);
  if (until.timeline !== null) timelines.delete(until.timeline);
  if (until.beginWal === null) return none(`backup ${until.id} has no begin_wal`);
  return {
    backupId: targetId,
    remove: true,
    until: until.beginWal,
    untilBackupId: until.id,
    protectedTimelines: [...timelines].sort((a, b) => a - b),
    protectedRanges: ranges,
    reason: next
      ? `no older backup needs them: WAL before ${until.beginWal} (begin of ${until.id}) is removed`
      : `no backup left after it: WAL before its own begin ${until.beginWal} is removed`,
  };
}

/** True if the rule removes this WAL (suffix-less name: segment, .partial, .backup or .history). */
export function walMatchesRule(rule: WalCleanupRule, walName: string): boolean {
  if (!rule.remove || rule.until === null) return false;
  if (walName.endsWith('.history')) return false;
  if (rule.protectedTimelines.length) {
    const tli = parseInt(walName.slice(0, 8), 16);
    if (rule.protectedTimelines.includes(tli)) return false;
  }
  const rangeName = walName.endsWith('.backup') ? walName.slice(0, 24) : walName;
  for (const [begin, end] of rule.protectedRanges) if (rangeName >= begin && rangeName <= end) return false;
  return walName < rule.until;
}

/**
 * The rules for deleting `targetIds` one after the other in ascending order, as Barman does: each backup
 * leaves the catalog after its own WAL cleanup, so later rules see the catalog without it.
 */
export function planWalCleanup(backups: readonly CleanupBackup[], targetIds: readonly string[], skipIfStandalone: boolean): WalCleanupRule[] {
  let current = [...backups];
  const rules: WalCleanupRule[] = [];
  for (const id of [...targetIds].sort()) {
    rules.push(walCleanupRule(current, id, skipIfStandalone));
    current = current.filter((b) => b.id !== id);
  }
  return rules;
}
