/**
 * The one logger type of pgstow. Services, the engine and the commands log through it; the CLI prints it in
 * barman-cloud's shape on stderr, a library host (the CNPG plugin) turns it into JSON lines. Warnings carry a
 * stable code from WARNINGS so a host can count or alert on them without reading message text.
 */

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

/** Every warning pgstow emits: code → when it happens. Codes never change meaning; new ones are added. */
export const WARNINGS = {
  WARN_SPOOL_UNUSABLE: 'the WAL spool directory cannot be used: archive-ahead or prefetch is skipped for this call',
  WARN_SPOOL_STALE_MARKER: 'a spool marker names a WAL whose file changed since it was archived; the marker is ignored',
  WARN_ARCHIVE_AHEAD_FAILED: 'archiving another .ready file ahead of PostgreSQL failed; PostgreSQL will ask for it again',
  WARN_PREFETCH_FAILED: 'prefetching a following WAL segment failed; it will be fetched on demand',
  WARN_POSTGRES_NOTICE: 'PostgreSQL sent a WARNING during the backup',
  WARN_FILE_VANISHED: 'a file disappeared while it was being backed up (PostgreSQL replays it from WAL)',
  WARN_FILE_SHRANK: 'a file shrank while it was being backed up and was zero-padded (PostgreSQL replays it from WAL)',
  WARN_FILE_SKIPPED: 'a directory entry is neither a file, a directory nor a symlink and was not backed up',
  WARN_CONFIG_OUTSIDE_PGDATA: 'an included configuration file lies outside PGDATA and is not backed up',
  WARN_BACKUP_FAILED: 'a base backup failed; backup.info was written with status FAILED',
  WARN_BACKUP_INFO_NOT_WRITTEN: 'the FAILED backup.info of a failed backup could not be written',
  WARN_BACKUP_NOT_DONE: 'the backup being restored does not have status DONE',
  WARN_BACKUP_UNVERIFIED: 'a backup that cannot be verified (not DONE, inconsistent backup.info, manifest missing) is restored on request',
  WARN_BACKUP_INFO_UNKNOWN_KEY: 'a backup.info holds keys Barman does not know (kept, not written back)',
  WARN_BACKUP_UNREADABLE: 'a backup.info cannot be read; the backup is skipped',
  WARN_BACKUP_MISSING: 'a backup named for deletion does not exist',
  WARN_TABLESPACE_UNKNOWN: 'a tablespace relocation names a tablespace the backup does not have',
  WARN_UNKNOWN_OBJECT: 'an object in a backup directory is not a tar archive pgstow knows; it is ignored',
  WARN_RESTORE_CLEANED: 'a restore failed and the partially restored files were removed',
  WARN_RETENTION: 'a retention policy setting was adjusted (e.g. redundancy raised to the minimum)',
  WARN_OPTION_IGNORED: 'an option does not apply to this call and is ignored',
  WARN_OPTION_CLAMPED: 'an option value is beyond its limit and the limit is used',
  WARN_CONFIG_RELOAD_FAILED: 're-reading a watched configuration failed; the last good one stays in force',
  WARN_MEMORY_BUDGET: 'the memory budget is smaller than the buffers a call needs (store part sizes); it uses more',
  WARN_WAL_DAMAGED_REPLACED: 'a stored WAL object was damaged (wrong size or header) and was replaced by the valid local segment',
  WARN_BUCKET_CREATED: 'the bucket or container did not exist and was created, as Barman does',
  WARN_GARBAGE_CLEANUP_FAILED: 'cleaning up after earlier killed or failed backups failed; the backup itself is done',
  WARN_GARBAGE_REMOVED: 'objects of a failed or killed backup, or a dangling multipart upload, were removed',
} as const satisfies Record<string, string>;

export type WarningCode = keyof typeof WARNINGS;

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  /** A problem pgstow worked around; `code` is stable (WARNINGS), the message is for people. */
  warning(code: WarningCode, message: string): void;
  error(message: string): void;
}

/** Drops everything: the default when a library caller gives no logger. */
export const silentLogger: Logger = { debug() {}, info() {}, warning() {}, error() {} };
