/**
 * Which backups a retention policy keeps, with Barman's exact rules (retention_policies.py, 3.4…3.17) and a
 * reason for each decision, so `--dry-run --format json` can say why every backup stays or goes.
 *
 * Backups are walked newest → oldest. Only status DONE takes part; kept backups (annotations/keep) are
 * never obsolete but still consume redundancy slots; with a recovery window, the newest backup that ends
 * before the point of recoverability stays VALID (it is needed to recover to the window's start).
 */
import { BackupStatus } from '../backup/backup-info.js';
import { formatRetentionPolicy, windowMillis, type RetentionPolicy } from './retention-policy.js';

export type RetentionStatus = 'VALID' | 'OBSOLETE' | 'OBSOLETE*' | 'KEEP:FULL' | 'KEEP:STANDALONE' | '-';

export interface RetentionInput {
  readonly id: string;
  readonly status: string;
  /** End of the backup (instant); null when unknown. */
  readonly endTime: Date | null;
  /** Raw keep annotation value ("full", "standalone", anything else counts as full), or null. */
  readonly keep: string | null;
}

export interface RetentionDecision {
  readonly id: string;
  readonly status: RetentionStatus;
  /** Only OBSOLETE backups are deleted. */
  readonly delete: boolean;
  readonly reason: string;
}

export interface RetentionResult {
  /** Newest first, like Barman's report. */
  readonly decisions: RetentionDecision[];
  /** Warnings Barman logs (e.g. redundancy raised to the minimum). */
  readonly warnings: string[];
  readonly policy: string;
  /** Point of recoverability for window policies. */
  readonly pointOfRecoverability?: Date;
}

function keepStatus(keep: string | null): RetentionStatus | null {
  if (keep === null) return null;
  return keep === 'standalone' ? 'KEEP:STANDALONE' : 'KEEP:FULL';
}

export function applyRetention(backups: readonly RetentionInput[], policy: RetentionPolicy, now: Date, minimumRedundancy = 0): RetentionResult {
  const sorted = [...backups].sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  const decisions: RetentionDecision[] = [];
  const warnings: string[] = [];
  const push = (id: string, status: RetentionStatus, reason: string): void => {
    decisions.push({ id, status, delete: status === 'OBSOLETE', reason });
  };

  if (policy.kind === 'redundancy') {
    let r = policy.count;
    if (r < minimumRedundancy) {
      warnings.push(`Retention policy redundancy (${r}) is lower than the required minimum redundancy (${minimumRedundancy}). Enforce ${minimumRedundancy}.`);
      r = minimumRedundancy;
    }
    let i = 0;
    for (const b of sorted) {
      if (b.status !== BackupStatus.DONE) {
        push(b.id, '-', `status ${b.status}: only DONE backups take part in retention`);
        continue;
      }
      const keep = keepStatus(b.keep);
      const nth = `${ordinal(i + 1)} newest DONE backup`;
      if (keep) push(b.id, keep, `kept (annotation '${b.keep}'); ${nth}, uses one of the ${r} redundancy slots`);
      else if (i < r) push(b.id, 'VALID', `${nth}, within REDUNDANCY ${r}`);
      else push(b.id, 'OBSOLETE', `${nth}, beyond REDUNDANCY ${r}`);
      i++;
    }
    return { decisions, warnings, policy: formatRetentionPolicy(policy) };
  }

  const por = new Date(now.getTime() - windowMillis(policy));
  const porText = por.toISOString();
  let found = false;
  let valid = 0;
  for (const b of sorted) {
    if (b.status !== BackupStatus.DONE) {
      push(b.id, '-', `status ${b.status}: only DONE backups take part in retention`);
      continue;
    }
    const keep = keepStatus(b.keep);
    if (!found) {
      valid++;
      // Barman compares end_time with the point of recoverability; a missing end_time never flips `found`.
      const before = b.endTime !== null && b.endTime.getTime() < por.getTime();
      if (before) found = true;
      const why = before
        ? `ends before the point of recoverability ${porText}: the newest such backup is needed to recover to the start of the window`
        : `ends inside the recovery window (after ${porText})`;
      push(b.id, keep ?? 'VALID', keep ? `kept (annotation '${b.keep}'); ${why}` : why);
      continue;
    }
    if (valid < minimumRedundancy) {
      valid++;
      if (keep) push(b.id, keep, `kept (annotation '${b.keep}'); older than the window`);
      else push(b.id, 'OBSOLETE*', `older than the window but kept for minimum redundancy ${minimumRedundancy}`);
    } else if (keep) {
      push(b.id, keep, `kept (annotation '${b.keep}'); older than the window`);
    } else {
      push(b.id, 'OBSOLETE', `older than the backup needed for the window start (${porText})`);
    }
  }
  return { decisions, warnings, policy: formatRetentionPolicy(policy), pointOfRecoverability: por };
}

function ordinal(n: number): string {
  const s = n % 100 >= 11 && n % 100 <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${s}`;
}
