/** What the WAL commands share beyond their options (which live in the option table, src/config/options.ts). */
import { ExitCode, PgstowError } from '../errors.js';
import { StorageError } from '../storage/errors.js';

/**
 * Barman's WAL commands exit 1 only for what the operation itself decided (wal-restore: the WAL is not in the
 * archive; pgstow's refused overwrite); a provider error (access denied, bad credentials, missing bucket, damaged
 * object) is "any other error", exit 4. That matters on restore: CloudNativePG logs exit 1 as "WAL not found" at
 * info level and PostgreSQL may take it for the end of the archive, hiding a permission problem.
 */
export function asWalCommandError(err: unknown): unknown {
  if (err instanceof StorageError && err.exitCode === ExitCode.OPERATION) {
    return new PgstowError(err.code, ExitCode.GENERAL, err.message, { cause: err });
  }
  return err;
}
