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

export interface PgstowErrorOptions {
  cause?: unknown;
  /** Extra facts for --debug and JSON output; never secrets. */
  details?: Record<string, unknown>;
}

export class PgstowError extends Error {
  /** Stable machine-readable code, e.g. ERR_OBJECT_NOT_FOUND. */
  readonly code: string;
  readonly exitCode: ExitCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, exitCode: ExitCode, message: string, options: PgstowErrorOptions = {}) {
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
  constructor(code: string, message: string, options?: PgstowErrorOptions) {
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
