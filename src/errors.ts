/**
 * The one error hierarchy of pgstow. Every error a user can see is a PgstowError with a stable `code`
 * and the Barman Cloud exit code CloudNativePG relies on (barman/clients/cloud_cli.py):
 *   1 operation failed (connectivity fine; includes "WAL not found"), 2 network, 3 bad input, 4 other;
 *   and pgstow's 128 for a damaged WAL in restore_command (see DAMAGED_WAL).
 * Only src/cli/main.ts turns errors into exit codes; everything else throws.
 */

export const ExitCode = {
  OK: 0,
  OPERATION: 1,
  NETWORK: 2,
  USAGE: 3,
  GENERAL: 4,
  /**
   * wal-restore only: the WAL is in the archive but damaged. Above 125, so PostgreSQL stops recovery (FATAL)
   * instead of taking the WAL for missing and ending recovery early, with the rest of the archive unreplayed.
   */
  DAMAGED_WAL: 128,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * Every error code pgstow throws, with the exit code it has by default and what it means. The table is the
 * reference for the CLI's exit codes and for library callers (error.code); test/unit/errors.test.ts checks
 * that every code thrown anywhere in src/ is listed here. A WAL command may report a storage code with exit 4
 * instead of 1 (see asWalCommandError): the code stays, only the exit differs.
 */
export const ERRORS = {
  ERR_USAGE: { exitCode: ExitCode.USAGE, summary: 'bad command line, option value or WAL file name' },
  ERR_CONFIG: { exitCode: ExitCode.USAGE, summary: 'a configuration value (settings, manifest, flag) cannot work' },
  ERR_OPTION_CONFLICT: { exitCode: ExitCode.GENERAL, summary: 'two options that cannot be used together' },
  ERR_UNSUPPORTED: { exitCode: ExitCode.GENERAL, summary: 'a Barman feature pgstow does not support (snapshot backups)' },
  ERR_NOT_IMPLEMENTED: { exitCode: ExitCode.GENERAL, summary: 'a command whose implementation has not landed' },
  ERR_ENGINE_CLOSED: { exitCode: ExitCode.GENERAL, summary: 'a call on an engine after close()' },
  ERR_ABORTED: { exitCode: ExitCode.GENERAL, summary: 'the call was cancelled through its AbortSignal' },
  ERR_SHUTTING_DOWN: { exitCode: ExitCode.GENERAL, summary: 'the plugin process is stopping and takes no new work' },
  // storage (src/storage/errors.ts)
  ERR_OBJECT_NOT_FOUND: { exitCode: ExitCode.OPERATION, summary: 'get/stat of a key that does not exist' },
  ERR_OBJECT_EXISTS: { exitCode: ExitCode.OPERATION, summary: 'create-if-absent found the key already there' },
  ERR_ACCESS_DENIED: { exitCode: ExitCode.OPERATION, summary: 'the credentials work but lack a permission' },
  ERR_INVALID_CREDENTIALS: { exitCode: ExitCode.OPERATION, summary: 'unknown key, wrong secret, expired or unobtainable token' },
  ERR_BUCKET_NOT_FOUND: { exitCode: ExitCode.OPERATION, summary: 'the bucket or container does not exist' },
  ERR_TLS: { exitCode: ExitCode.NETWORK, summary: 'certificate not trusted, wrong host name, TLS handshake failure' },
  ERR_STORAGE_UNAVAILABLE: { exitCode: ExitCode.NETWORK, summary: 'connection refused, DNS, reset, timeout, 5xx, throttling' },
  ERR_STORAGE_REQUEST: { exitCode: ExitCode.GENERAL, summary: 'any other answer of the store' },
  ERR_INTEGRITY: { exitCode: ExitCode.OPERATION, summary: 'content read back or downloaded does not match what was written (size, checksum, truncation)' },
  ERR_CODEC: { exitCode: ExitCode.GENERAL, summary: 'a compression codec failed (corrupt input, missing program)' },
  // WAL
  ERR_WAL_NOT_FOUND: { exitCode: ExitCode.OPERATION, summary: 'the WAL file is not in the archive (the normal end of recovery)' },
  ERR_WAL_DAMAGED: { exitCode: ExitCode.DAMAGED_WAL, summary: 'the WAL object is in the archive but does not hold what was archived (wal-restore exits 128 so PostgreSQL stops recovery)' },
  ERR_WAL_CONFLICT: { exitCode: ExitCode.OPERATION, summary: 'the archive holds this WAL with different content; nothing was overwritten' },
  ERR_WAL_READ: { exitCode: ExitCode.OPERATION, summary: 'the local WAL file cannot be read' },
  ERR_WAL_ARCHIVE_NOT_EMPTY: { exitCode: ExitCode.OPERATION, summary: 'check-wal-archive found WAL that a new server would conflict with' },
  ERR_WAL_NOT_REPLACEABLE: { exitCode: ExitCode.OPERATION, summary: 'the archive holds a damaged copy of this WAL and the local file is not a valid segment either' },
  // catalog and backup identifiers
  ERR_BACKUP_NOT_FOUND: { exitCode: ExitCode.OPERATION, summary: 'no backup.info for this backup id, or no backup at all' },
  ERR_BACKUP_UNKNOWN: { exitCode: ExitCode.GENERAL, summary: 'no backup matches a name or shortcut' },
  ERR_BACKUP_NAME_AMBIGUOUS: { exitCode: ExitCode.GENERAL, summary: 'several backups carry the name' },
  ERR_BACKUP_INFO: { exitCode: ExitCode.OPERATION, summary: 'a backup.info lacks what a restore needs or cannot be parsed' },
  ERR_BACKUP_INFO_INVALID: { exitCode: ExitCode.OPERATION, summary: 'a backup.info is not in Barman\'s format' },
  ERR_CATALOG_UNREADABLE: { exitCode: ExitCode.OPERATION, summary: 'some backup.info files cannot be read: deleting is unsafe' },
  ERR_BACKUP_IN_PROGRESS: { exitCode: ExitCode.OPERATION, summary: 'the backup has no backup.info and was written to recently: it may still be running' },
  ERR_BACKUP_KEPT: { exitCode: ExitCode.OPERATION, summary: 'the backup has a keep annotation and is not deleted' },
  ERR_BACKUP_NOT_DONE: { exitCode: ExitCode.OPERATION, summary: 'only DONE backups can be kept' },
  ERR_MINIMUM_REDUNDANCY: { exitCode: ExitCode.OPERATION, summary: 'deleting would leave fewer backups than the minimum redundancy' },
  // backup
  ERR_BACKUP_FAILED: { exitCode: ExitCode.OPERATION, summary: 'a base backup failed after it started; backup.info says FAILED' },
  ERR_BACKUP_FILE: { exitCode: ExitCode.OPERATION, summary: 'a configuration file the backup must contain is missing' },
  ERR_POSTGRES: { exitCode: ExitCode.OPERATION, summary: 'PostgreSQL refused or dropped the backup connection' },
  ERR_POSTGRES_VERSION: { exitCode: ExitCode.GENERAL, summary: 'PostgreSQL is older than 9.6' },
  // restore
  ERR_BACKUP_UNVERIFIED: { exitCode: ExitCode.OPERATION, summary: 'the backup cannot be verified (status, inconsistent backup.info, missing or foreign manifest); --allow-unverified restores it anyway' },
  ERR_BACKUP_INCOMPLETE: { exitCode: ExitCode.OPERATION, summary: 'objects of the backup are missing, have the wrong size or are not in its manifest' },
  ERR_BACKUP_AMBIGUOUS: { exitCode: ExitCode.OPERATION, summary: 'a backup directory holds two first volumes of one archive' },
  ERR_SNAPSHOT_BACKUP: { exitCode: ExitCode.OPERATION, summary: 'the backup is a cloud snapshot backup, which pgstow cannot restore' },
  ERR_DESTINATION_NOT_EMPTY: { exitCode: ExitCode.OPERATION, summary: 'the restore destination exists and is not empty' },
  ERR_NO_CANDIDATE_BACKUP: { exitCode: ExitCode.OPERATION, summary: 'no backup ends before the recovery target' },
  ERR_TARGET_BEFORE_BACKUP: { exitCode: ExitCode.OPERATION, summary: 'the chosen backup ends after the recovery target' },
  ERR_BACKUP_WAL_MISSING: { exitCode: ExitCode.OPERATION, summary: 'the first WAL file of the backup to restore is not in the archive (plugin recovery Job)' },
  // configuration sources
  ERR_KUBERNETES_API: { exitCode: ExitCode.GENERAL, summary: 'the Kubernetes API answered an unexpected status' },
  ERR_KUBERNETES_FORBIDDEN: { exitCode: ExitCode.OPERATION, summary: 'the service account may not read the Secret' },
  ERR_KUBERNETES_UNAUTHORIZED: { exitCode: ExitCode.OPERATION, summary: 'the Kubernetes API refused the kubeconfig credentials' },
  ERR_KUBERNETES_UNREACHABLE: { exitCode: ExitCode.NETWORK, summary: 'the Kubernetes API cannot be reached' },
  // demo command
  ERR_DEMO: { exitCode: ExitCode.OPERATION, summary: 'a step of pgstow demo failed' },
  ERR_NO_POSTGRES_USER: { exitCode: ExitCode.OPERATION, summary: 'pgstow demo runs as root and there is no postgres OS user' },
} as const satisfies Record<string, { exitCode: ExitCode; summary: string }>;

export type ErrorCode = keyof typeof ERRORS;

export interface PgstowErrorOptions {
  cause?: unknown;
  /** Extra facts for --debug and JSON output; never secrets. */
  details?: Record<string, unknown>;
}

export class PgstowError extends Error {
  /** Stable machine-readable code from ERRORS, e.g. ERR_OBJECT_NOT_FOUND. */
  readonly code: ErrorCode;
  readonly exitCode: ExitCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, exitCode: ExitCode, message: string, options: PgstowErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.exitCode = exitCode;
    this.details = options.details;
  }
}
PgstowError.prototype.name = 'PgstowError';

/** Bad command line, bad option value, bad WAL name: exit 3. */
export class UsageError extends PgstowError {
  constructor(message: string, options?: PgstowErrorOptions) {
    super('ERR_USAGE', ExitCode.USAGE, message, options);
  }
}
UsageError.prototype.name = 'UsageError';

/** A configuration value (file or flags) that cannot work. `path` names the field, e.g. spec.backup.barmanObjectStore.s3Credentials. */
export class ConfigError extends PgstowError {
  readonly path: string | undefined;
  constructor(message: string, path?: string, options?: PgstowErrorOptions) {
    super('ERR_CONFIG', ExitCode.USAGE, path ? `${path}: ${message}` : message, options);
    this.path = path;
  }
}
ConfigError.prototype.name = 'ConfigError';

/** A command that exists in the CLI but whose issue has not landed yet. */
export class NotImplementedError extends PgstowError {
  constructor(what: string) {
    super('ERR_NOT_IMPLEMENTED', ExitCode.GENERAL, `${what} is not implemented yet`);
  }
}
NotImplementedError.prototype.name = 'NotImplementedError';

/** The operation failed for a reason that is not the network: missing WAL, missing backup, refused overwrite. */
export class OperationError extends PgstowError {
  constructor(code: ErrorCode, message: string, options?: PgstowErrorOptions) {
    super(code, ExitCode.OPERATION, message, options);
  }
}
OperationError.prototype.name = 'OperationError';

/** True for any error object, including ones thrown by SDKs, without trusting its shape. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

export function isPgstowError(err: unknown): err is PgstowError {
  return err instanceof PgstowError;
}
