/**
 * Which backup a restore uses with `auto` (Barman's rules, spec §5.1 and §6.1) and whether it can reach a
 * recovery target. Pure: gets the catalog as a list. Ids, names and shortcuts are resolved by the one resolver
 * in repository/backup-catalog.ts.
 */
import { OperationError, UsageError } from '../../errors.js';
import { formatLsn, type Lsn } from '../wal/lsn.js';
import type { RestoreBackupInfo } from './restore-backup-info.js';
import type { RecoveryTarget } from './recovery-target.js';
import type { RecoveryTime } from './recovery-time.js';

export interface AutoCriteria {
  targetTime?: RecoveryTime;
  targetLsn?: Lsn;
  /** A timeline number, or "latest" resolved by the caller to the highest timeline in the archive. */
  targetTli?: number;
}

/**
 * `auto`: the newest DONE backup that ends at or before the target time / LSN, on the target timeline.
 * (Barman does not filter on status; pgstow skips FAILED backups, which cannot be restored anyway.)
 */
export function chooseBackupAuto(catalog: readonly RestoreBackupInfo[], criteria: AutoCriteria): RestoreBackupInfo {
  const candidates = [...catalog].filter(isDone).sort((a, b) => b.backupId.localeCompare(a.backupId)).filter((b) => {
    if (criteria.targetTli !== undefined && b.timeline !== criteria.targetTli) return false;
    if (criteria.targetTime && !(b.endTime && b.endTime.epochMicros <= criteria.targetTime.epochMicros)) return false;
    if (criteria.targetLsn !== undefined && !(b.endLsn !== undefined && b.endLsn <= criteria.targetLsn)) return false;
    return true;
  });
  const chosen = candidates[0];
  if (!chosen) {
    const what = [criteria.targetTime && `ending before ${criteria.targetTime.text}`, criteria.targetLsn !== undefined && `ending before LSN ${formatLsn(criteria.targetLsn)}`,
      criteria.targetTli !== undefined && `on timeline ${criteria.targetTli}`].filter(Boolean).join(', ');
    throw new OperationError('ERR_NO_CANDIDATE_BACKUP', `cannot find any candidate backup for recovery${what ? ` (${what})` : ''}`);
  }
  return chosen;
}

/** Refuses a target the backup cannot reach: PostgreSQL can only stop after the backup's end. */
export function assertBackupReachesTarget(backup: RestoreBackupInfo, target: RecoveryTarget): void {
  if (target.kind === 'time') {
    if (!backup.endTime) throw new OperationError('ERR_TARGET_BEFORE_BACKUP', `backup ${backup.backupId} has no end time; it cannot be used for a time target`);
    if (backup.endTime.epochMicros > target.time.epochMicros) {
      throw new OperationError('ERR_TARGET_BEFORE_BACKUP',
        `backup ${backup.backupId} ended at ${backup.endTime.text}, after the recovery target time ${target.time.text}: choose an older backup (or use 'auto')`);
    }
  }
  if (target.kind === 'lsn') {
    if (backup.endLsn === undefined) throw new OperationError('ERR_TARGET_BEFORE_BACKUP', `backup ${backup.backupId} has no end LSN; it cannot be used for an LSN target`);
    if (backup.endLsn > target.lsn) {
      throw new OperationError('ERR_TARGET_BEFORE_BACKUP',
        `backup ${backup.backupId} ended at LSN ${formatLsn(backup.endLsn)}, after the recovery target LSN ${formatLsn(target.lsn)}: choose an older backup (or use 'auto')`);
    }
  }
}

export function isDone(b: RestoreBackupInfo): boolean {
  return b.status === 'DONE';
}

/** Barman's --target-tli: a positive number, or latest/current. */
export function parseTargetTli(text: string): number | 'latest' | 'current' {
  const t = text.trim().toLowerCase();
  if (t === 'latest' || t === 'current') return t;
  if (/^\d+$/.test(t) && Number(t) > 0) return Number(t);
  throw new UsageError(`argument --target-tli: invalid value '${text}' (a positive number, latest or current)`);
}
