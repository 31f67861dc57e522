/**
 * What the sidecar has done since it started: the source of its metrics (Metrics.Collect) and of the
 * archive fields it writes into ObjectStore.status. In memory, one per process.
 */
import { errorMessage, isPgstowError } from '../../errors.js';
import { grpcCodeOf, GrpcCode } from '../grpc-status.js';

/** Failure causes (the `cause` label): every one is always exported, so rates work from zero. */
export const ARCHIVE_FAILURE_CAUSES = ['unreachable', 'credentials', 'permission', 'conflict', 'integrity', 'configuration', 'archive_not_empty', 'local_file', 'other'] as const;
export type ArchiveFailureCause = (typeof ARCHIVE_FAILURE_CAUSES)[number];

export function archiveFailureCause(err: unknown): ArchiveFailureCause {
  if (isPgstowError(err)) {
    if (err.code === 'ERR_WAL_ARCHIVE_NOT_EMPTY') return 'archive_not_empty';
    if (err.code === 'ERR_WAL_READ') return 'local_file';
  }
  switch (grpcCodeOf(err)) {
    case GrpcCode.UNAVAILABLE: case GrpcCode.DEADLINE_EXCEEDED: return 'unreachable';
    case GrpcCode.UNAUTHENTICATED: return 'credentials';
    case GrpcCode.PERMISSION_DENIED: return 'permission';
    case GrpcCode.ALREADY_EXISTS: return 'conflict';
    case GrpcCode.DATA_LOSS: return 'integrity';
    case GrpcCode.FAILED_PRECONDITION: case GrpcCode.INVALID_ARGUMENT: return 'configuration';
    default: return 'other';
  }
}

export interface BackupRecord {
  name: string;
  backupId: string;
  endTime: Date;
  durationSeconds: number;
  sizeBytes: number;
}

export class Telemetry {
  lastArchivedWal: string | undefined;
  lastArchivedAt: Date | undefined;
  archivedCount = 0;
  archivedBytes = 0;
  archiveSecondsTotal = 0;
  lastArchiveSeconds = 0;
  readonly archiveFailures = new Map<ArchiveFailureCause, number>(ARCHIVE_FAILURE_CAUSES.map((c) => [c, 0]));
  lastArchiveFailure: { at: Date; message: string } | undefined;
  /** The last Archive call failed (the next success or failure changes state and is reported at once). */
  archiveFailing = false;
  restoredCount = 0;
  restoreMisses = 0;
  lastBackup: BackupRecord | undefined;
  lastFailedBackupAt: Date | undefined;

  /** One Archive call that stored (or found stored) `walName`; `bytes` uploaded by it and its archive-ahead. */
  recordArchived(walName: string, bytes: number, seconds: number, at = new Date()): void {
    this.lastArchivedWal = walName;
    this.lastArchivedAt = at;
    this.archivedCount++;
    this.archivedBytes += bytes;
    this.archiveSecondsTotal += seconds;
    this.lastArchiveSeconds = seconds;
    this.archiveFailing = false;
  }

  recordArchiveFailure(err: unknown, at = new Date()): ArchiveFailureCause {
    const cause = archiveFailureCause(err);
    this.archiveFailures.set(cause, (this.archiveFailures.get(cause) ?? 0) + 1);
    this.lastArchiveFailure = { at, message: errorMessage(err).split('\n')[0] as string };
    this.archiveFailing = true;
    return cause;
  }
}
