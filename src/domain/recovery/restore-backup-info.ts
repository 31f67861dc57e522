/**
 * The part of Barman's backup.info that restore and backup selection need (spec §2.4): version (pg_wal vs
 * pg_xlog), tablespaces, status, end time/LSN, timeline, name; read with the catalog's tolerant parser
 * (backup-info.ts), with times as exact instants for comparisons with recovery targets.
 */
import { parseBackupInfo, type BackupInfo } from '../backup/backup-info.js';
import { backupInfoProblem } from '../backup/backup-info-check.js';
import { MANIFEST_SHA256_COPY_STAT } from '../backup/backup-manifest.js';
import { PyDict, type PyValue } from '../backup/python-literal.js';
import { parseLsn, type Lsn } from '../wal/lsn.js';
import { parseBackupTime, type RecoveryTime } from './recovery-time.js';

export interface RestoreTablespace {
  name: string;
  oid: number;
  location: string;
}

export interface RestoreBackupInfo {
  backupId: string;
  status: string;
  /** server_version_num, e.g. 150018. */
  version: number | undefined;
  tablespaces: RestoreTablespace[];
  backupName: string | undefined;
  beginWal: string | undefined;
  endWal: string | undefined;
  endTime: RecoveryTime | undefined;
  endLsn: Lsn | undefined;
  timeline: number | undefined;
  systemId: string | undefined;
  /** Present only for snapshot backups, which pgstow cannot restore. */
  snapshotsInfo: boolean;
  beginXlog: string | undefined;
  endXlog: string | undefined;
  /** Why backup.info does not hold together (backupInfoProblem), if it does not. */
  problem: string | undefined;
  /** sha256 of pgstow-manifest.json recorded in copy_stats: a pgstow backup, whose manifest must be there. */
  manifestSha256: string | undefined;
}

export class BackupInfoFormatError extends Error {}

export function parseRestoreBackupInfo(backupId: string, text: string): RestoreBackupInfo {
  let info;
  try {
    info = parseBackupInfo(text).info;
  } catch (err) {
    throw new BackupInfoFormatError(err instanceof Error ? err.message : String(err));
  }
  return restoreInfoOf(backupId, info);
}

/** The restore's view of a parsed backup.info (times as instants, the end LSN as a number). */
export function restoreInfoOf(backupId: string, info: BackupInfo): RestoreBackupInfo {
  let endTime: RecoveryTime | undefined;
  if (info.endTime) {
    try { endTime = parseBackupTime(info.endTime.toString()); } catch { throw new BackupInfoFormatError(`end_time is not a timestamp: ${info.endTime.toString()}`); }
  }
  let endLsn: Lsn | undefined;
  if (info.endXlog) {
    try { endLsn = parseLsn(info.endXlog); } catch { throw new BackupInfoFormatError(`end_xlog is not an LSN: ${info.endXlog}`); }
  }
  return {
    backupId,
    status: info.status,
    version: info.version ?? undefined,
    tablespaces: (info.tablespaces ?? []).map((t) => ({ name: t.name, oid: t.oid, location: t.location })),
    backupName: info.backupName ?? undefined,
    beginWal: info.beginWal ?? undefined,
    endWal: info.endWal ?? undefined,
    endTime,
    endLsn,
    timeline: info.timeline ?? undefined,
    systemId: info.systemid ?? undefined,
    snapshotsInfo: info.snapshotsInfo !== null,
    beginXlog: info.beginXlog ?? undefined,
    endXlog: info.endXlog ?? undefined,
    problem: backupInfoProblem(info),
    manifestSha256: manifestShaOf(info.copyStats),
  };
}

function manifestShaOf(copyStats: PyValue | null): string | undefined {
  const v = copyStats instanceof PyDict ? copyStats.get(MANIFEST_SHA256_COPY_STAT) : undefined;
  return typeof v === 'string' && /^[0-9a-f]{64}$/.test(v) ? v : undefined;
}
