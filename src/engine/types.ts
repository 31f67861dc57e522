/**
 * The public face of pgstow as a library: the Engine handle openEngine() returns, what each call takes and
 * what it resolves to. A failed call rejects with a PgstowError (`code` from ERRORS, `exitCode` as Barman's
 * commands would exit); it never takes the host process down. One engine serves any number of calls, also
 * concurrently; close() releases its clients and sockets.
 */
import type { Logger, LogLevel, WarningCode } from '../logger.js';
import type { ErrorCode } from '../errors.js';
import type { BackupInfo } from '../domain/backup/backup-info.js';
import type { BackupManifest } from '../domain/backup/backup-manifest.js';
import type { ObjectInfo } from '../storage/object-store.js';
import type { WalArchiveReport } from '../services/wal-archive-report.js';
import type { WalCleanupRule } from '../domain/retention/wal-cleanup.js';
import type { DataCompression, EngineSettings, PostgresSettings } from './settings.js';

export type { Logger, LogLevel, WarningCode, ErrorCode, BackupInfo, BackupManifest, ObjectInfo, WalArchiveReport, WalCleanupRule };

export interface OpenEngineOptions {
  /** Where the engine logs (default: nowhere). Warnings carry stable codes (WARNINGS in logger.ts). */
  log?: Logger;
  /** Aborting it cancels every call in flight and closes the engine. */
  signal?: AbortSignal;
  /**
   * For tests: decorates each store the engine opens, under its retry decorator (restic's test hook), e.g.
   * with withFaults() from pgstow's faulty-store to inject failures. Not for production use.
   */
  wrapStore?: (store: import('../storage/object-store.js').ObjectStore, purpose: 'wal' | 'data') => import('../storage/object-store.js').ObjectStore;
  /**
   * The process's memory budget (src/memory-budget.ts), shared by every engine a host opens: part sizes, parts in
   * flight, archives and objects at once follow from it. Default: a budget of its own, 100 MiB.
   */
  memory?: import('../memory-budget.js').MemoryBudget;
}

/** Every call takes a signal: aborting it cancels that call only (it rejects; nothing half-written stays). */
export interface CallOptions {
  signal?: AbortSignal;
}

// ---------------------------------------------------------------------------------------------------------
// WAL

export interface ArchiveWalOptions extends CallOptions {
  /** Default settings.wal.maxParallel: also archive up to N − 1 other `.ready` files of pg_wal (archive-ahead). */
  maxParallel?: number;
  /** Default settings.wal.spoolDir. */
  spoolDir?: string;
  /**
   * For a long-lived caller (the plugin sidecar): return once this file is archived while the files archived
   * ahead keep uploading (the engine's close() waits for them); a later call for one of them waits for its upload.
   */
  ahead?: 'background';
}

export type ArchiveStatus = 'uploaded' | 'already-archived' | 'spooled';

export interface ArchivedWal {
  walName: string;
  /** The object key it is stored under. */
  key: string;
  /** uploaded; already-archived (identical content was there); spooled (an earlier call archived it ahead). */
  status: ArchiveStatus;
  /** Bytes sent (0 unless uploaded). */
  bytes: number;
}

export interface ArchiveWalResult extends ArchivedWal {
  /** Other ready files this call archived ahead (maxParallel > 1); a failed one is retried by PostgreSQL. */
  extras: Array<ArchivedWal | { walName: string; error: Error }>;
}

export interface RestoreWalOptions extends CallOptions {
  /** Barman's --no-partial: never restore from a .partial segment. */
  noPartial?: boolean;
  /** Default settings.wal.maxParallel: also prefetch the next N − 1 segments into the spool. */
  maxParallel?: number;
  spoolDir?: string;
}

/**
 * restoreWal() resolves when the file is at the destination (written atomically). A WAL that is not in the
 * archive rejects with code ERR_WAL_NOT_FOUND (exit 1): the normal end of recovery, not a failure.
 */
export interface RestoreWalResult {
  walName: string;
  /** The object restored, or "spool" when a prefetch had fetched it. */
  source: string;
  /** Bytes written to the destination. */
  bytes: number;
  /** Restored from a .partial segment. */
  partial: boolean;
  /** Segments prefetched into the spool by this call. */
  prefetched: string[];
}

// ---------------------------------------------------------------------------------------------------------
// Base backups

export interface BackupProgress {
  /** Uncompressed bytes read from PGDATA and tablespaces so far. */
  bytesRead: number;
  /** Estimated total, or undefined without the privilege to compute it. */
  totalEstimate: number | undefined;
  /** The file most recently added. */
  member: string;
  startedAt: number;
}

export interface TakeBackupOptions extends CallOptions {
  /** A name to refer to the backup by (not a backup id, not latest/oldest/…). */
  name?: string;
  /** Default settings.postgres. */
  postgres?: PostgresSettings;
  /** Defaults from settings.data. */
  compression?: DataCompression | 'none';
  compressionLevel?: number;
  immediateCheckpoint?: boolean;
  jobs?: number;
  maxArchiveSize?: number;
  maxBandwidth?: number;
  /** Default settings.tags. */
  tags?: Readonly<Record<string, string>>;
  onProgress?: (progress: BackupProgress) => void;
  /** After the backup, unfinished uploads, orphans and FAILED backups untouched this long are removed (default 24 h). */
  garbageAgeMs?: number;
  /** Remove FAILED backups in that clean-up too (default true; the barman-cloud drop-in keeps them, as Barman). */
  removeFailed?: boolean;
}

export interface TakeBackupResult {
  backupId: string;
  backupName: string | null;
  /** pg_backup_start / pg_backup_stop times. */
  beginTime: Date;
  endTime: Date;
  beginWal: string;
  endWal: string;
  beginLsn: string;
  endLsn: string;
  timeline: number;
  /** server_version_num, e.g. 170002. */
  postgresVersion: number;
  systemId: string;
  /** The backup_label PostgreSQL returned (also the last member of data.tar). */
  backupLabel: string;
  /** backup.info as written (status DONE). */
  info: BackupInfo;
  /** pgstow-manifest.json as written: size and sha256 of every tar object. */
  manifest: BackupManifest;
  stats: { tarBytes: number; storedBytes: number; seconds: number; objects: number };
}

/** Point-in-time recovery settings written into the restored directory (PostgreSQL 12+). */
export interface RecoveryTargetOptions {
  /** recovery_target_time, e.g. "2026-05-01 12:00:00+00". */
  time?: string;
  /** recovery_target_lsn, e.g. "0/3000060". */
  lsn?: string;
  xid?: string;
  /** A restore point name. */
  name?: string;
  immediate?: boolean;
  /** Replay to the end of the archive. */
  latest?: boolean;
  /** recovery_target_timeline: latest, current or a number. */
  timeline?: string;
  /** promote (default), pause, shutdown. */
  action?: string;
  /** Stop just before the target. */
  exclusive?: boolean;
  /** The restore_command to write (e.g. a `pgstow wal-restore …` line); pgstow never writes credentials. */
  restoreCommand: string;
}

export interface RestoreBackupOptions extends CallOptions {
  /** A backup id, a backup name, latest/last, first/oldest, last-failed, or "auto" (chosen by `auto`/`recovery`). */
  backupId: string;
  /** The data directory to create (must not exist or be empty). */
  destination: string;
  /** Tablespace name → new location. */
  tablespaces?: Readonly<Record<string, string>>;
  /** For backupId "auto": the newest DONE backup ending before this time/LSN, on this timeline. */
  auto?: { targetTime?: string; targetLsn?: string; targetTli?: number | 'latest' };
  recovery?: RecoveryTargetOptions;
  /** Objects downloaded at once (default settings.data.jobs or 2). */
  jobs?: number;
  /** Ranged GETs in flight per object (default 4) and their size in bytes (default 8 MiB). */
  streamsPerObject?: number;
  partSize?: number;
  onProgress?: (p: { downloadedBytes: number; writtenBytes: number; totalBytes: number }) => void;
  /** Restore a backup that cannot be verified (not DONE, inconsistent backup.info, manifest missing), with warnings. */
  allowUnverified?: boolean;
}

export interface RestoreBackupResult {
  backupId: string;
  /** The backup's first WAL segment (replay starts there: it must be in the archive). */
  beginWal: string | null;
  backupName: string | null;
  status: string;
  /** Tar objects restored. */
  objects: number;
  downloadedBytes: number;
  writtenBytes: number;
  members: number;
  seconds: number;
  tablespaces: Array<{ name: string; oid: number; location: string }>;
  /** The settings written to postgresql.auto.conf when `recovery` was given. */
  recoverySettings?: Array<[string, string]>;
}

// ---------------------------------------------------------------------------------------------------------
// Catalog

/** One backup of the catalog: its backup.info as Barman writes it, plus what pgstow learned around it. */
export interface CatalogBackup {
  readonly id: string;
  readonly info: BackupInfo;
  /** First line of annotations/keep ("full", "standalone"), or null. */
  readonly keep: string | null;
  /** Tolerated oddities of backup.info (unknown keys). */
  readonly warnings: readonly string[];
  /** The backup's objects other than backup.info and annotations (tars, manifest). */
  readonly dataObjects: readonly ObjectInfo[];
  readonly backupInfoKey: string;
}

/** The fields CloudNativePG's ObjectStore status shows, from the catalog (null when there is none). */
export interface RecoveryWindow {
  /** End of the oldest DONE backup. */
  firstRecoverabilityPoint: Date | null;
  /** End of the newest DONE backup, and its id and name. */
  lastSuccessfulBackupTime: Date | null;
  lastSuccessfulBackupId: string | null;
  lastSuccessfulBackupName: string | null;
  /** End (or begin) time of the newest FAILED backup. */
  lastFailedBackupTime: Date | null;
}

export interface ListBackupsOptions extends CallOptions {
  /** Also stream the WAL archive: continuity per timeline, which backups have all their WAL (default false). */
  withWal?: boolean;
}

export interface ListBackupsResult {
  serverName: string;
  /** Readable backups of any status, oldest first. */
  backups: readonly CatalogBackup[];
  /** backup.info present but unreadable. */
  unreadable: ReadonlyArray<{ id: string; error: string }>;
  /** base/<id>/ without backup.info: a backup in progress or leftovers. */
  incomplete: ReadonlyArray<{ id: string; objects: readonly ObjectInfo[] }>;
  recoveryWindow: RecoveryWindow;
  /** With withWal. */
  wal: WalArchiveReport | null;
}

export interface ShowBackupResult {
  id: string;
  info: BackupInfo;
  keep: string | null;
  warnings: string[];
}

export type KeepAction = { kind: 'add'; target: 'full' | 'standalone' } | { kind: 'release' } | { kind: 'status' };

export interface KeepBackupResult {
  id: string;
  /** Keep value after the action (status: the current one). */
  keep: string | null;
}

export interface DeleteBackupsOptions extends CallOptions {
  /**
   * What to delete: backup ids/names/shortcuts, or a retention policy (REDUNDANCY n, RECOVERY WINDOW OF …, 30d).
   * Without either, settings.retentionPolicy applies (an error when it is not set).
   */
  backupIds?: readonly string[];
  retentionPolicy?: string;
  /** Default settings.minimumRedundancy or 0. */
  minimumRedundancy?: number;
  /** Plan only: nothing is deleted; the result says what would be. */
  dryRun?: boolean;
  /** Keys per delete request (default: the store's maximum). */
  batchSize?: number;
  /** "now" for recovery windows (default the current time). */
  now?: Date;
  /** Dry runs: keep every WAL key in the plan (default: counts and first/last key only). */
  listWalKeys?: boolean;
  /** Unfinished uploads, orphans and FAILED backups untouched this long are removed too (default 24 h). */
  garbageAgeMs?: number;
  /** Remove FAILED backups in that clean-up too (default true; the barman-cloud drop-in keeps them, as Barman). */
  removeFailed?: boolean;
}

export interface DeleteBackupPlan {
  readonly id: string;
  readonly status: string;
  /** VALID, OBSOLETE, KEEP:FULL, … for policies; DELETE for ids; RESUME for an interrupted delete being finished. */
  readonly retention: string;
  readonly delete: boolean;
  readonly reason: string;
  /** Keys deleted with the backup (data objects, then backup.info). */
  readonly objects: readonly string[];
  readonly bytes: number;
}

export interface DeleteWalPlan {
  /** The backup whose removal frees these WAL files. */
  readonly backupId: string;
  readonly reason: string;
  /** The cleanup rule in full (what is removed, up to where, which timelines and ranges stay protected). */
  readonly rule: WalCleanupRule;
  readonly objects: number;
  readonly bytes: number;
  readonly firstKey: string | null;
  readonly lastKey: string | null;
  /** With listWalKeys on a dry run. */
  readonly keys: readonly string[];
}

export interface DeleteBackupsResult {
  /** The policy in Barman's spelling, or null for ids. */
  readonly policy: string | null;
  readonly pointOfRecoverability: Date | null;
  readonly minimumRedundancy: number;
  readonly backups: readonly DeleteBackupPlan[];
  readonly wal: readonly DeleteWalPlan[];
  readonly dryRun: boolean;
  /** Barman's "Skipping deletion of objects [...] due to --dry-run option" lines (dry runs with listWalKeys). */
  readonly dryRunLines: readonly string[];
  readonly deletedObjects: number;
  readonly deletedBytes: number;
  /** Garbage removed besides (or, dry run, that would be): unfinished uploads, orphan and FAILED backups. */
  readonly removed: readonly GarbageRemoval[];
}

export interface GarbageRemoval {
  readonly kind: 'upload' | 'orphan backup' | 'failed backup';
  /** The backup id, or the key of an unfinished upload. */
  readonly name: string;
  readonly keys: readonly string[];
  readonly bytes: number;
  /** Why it was judged garbage. */
  readonly reason: string;
}

// ---------------------------------------------------------------------------------------------------------
// Checks

export interface CheckWalArchiveOptions extends CallOptions {
  /** Fail only for WAL on this timeline or newer (default: any WAL fails the check). */
  timeline?: number;
}

/** Resolves when the archive is usable; rejects with ERR_WAL_ARCHIVE_NOT_EMPTY when it is not. */
export interface CheckWalArchiveResult {
  /** The bucket does not exist: nothing can conflict. */
  bucketMissing: boolean;
  /** The bucket did not exist and was created (Barman ≥ 3.16 does so in check-wal-archive). */
  bucketCreated?: boolean;
}

export type CheckStepName = 'list' | 'put' | 'get' | 'delete';

export interface CheckStoreResult {
  steps: Array<{ step: CheckStepName; status: 'ok' | 'failed' | 'skipped'; detail: string; code?: ErrorCode }>;
  /** The temporary key that was written (and removed when delete worked). */
  key: string;
  /** WAL archiving and backups can work (list, put and get succeeded). */
  usable: boolean;
  /** 0 when usable, else the exit code of the first failure. */
  exitCode: number;
  summary: string;
}

export interface CheckConnectivityOptions extends CallOptions {
  /** Which prefix one listing request reads (default wals). */
  scope?: 'wals' | 'base' | 'server';
  /** A missing bucket counts as reachable (check-wal-archive -t). */
  missingBucketOk?: boolean;
}

// ---------------------------------------------------------------------------------------------------------

export interface Engine {
  /** The settings in force (secret fields print as *** when they came from a manifest). */
  readonly settings: Readonly<EngineSettings>;
  /** The store, for messages: provider, bucket and endpoint, never a secret. */
  readonly description: string;

  /** Archives one WAL file (PostgreSQL's %p: absolute, or relative to the process's working directory). */
  archiveWal(walPath: string, options?: ArchiveWalOptions): Promise<ArchiveWalResult>;
  /** Restores WAL file `walName` (%f) to `destPath` (%p). */
  restoreWal(walName: string, destPath: string, options?: RestoreWalOptions): Promise<RestoreWalResult>;
  /** Takes a base backup of the PostgreSQL server settings.postgres (or options.postgres) reaches. */
  takeBackup(options?: TakeBackupOptions): Promise<TakeBackupResult>;
  restoreBackup(options: RestoreBackupOptions): Promise<RestoreBackupResult>;
  listBackups(options?: ListBackupsOptions): Promise<ListBackupsResult>;
  /** A backup by id, name or shortcut (latest, oldest, last-failed). */
  showBackup(backupId: string, options?: CallOptions): Promise<ShowBackupResult>;
  deleteBackups(options?: DeleteBackupsOptions): Promise<DeleteBackupsResult>;
  keepBackup(backupId: string, action: KeepAction, options?: CallOptions): Promise<KeepBackupResult>;
  checkWalArchive(options?: CheckWalArchiveOptions): Promise<CheckWalArchiveResult>;
  /** Preflight: list, put, get, delete of a temporary object under the server's prefix. */
  checkStore(options?: CallOptions): Promise<CheckStoreResult>;
  /** One listing request: proves endpoint, credentials and bucket (Barman's -t/--test). */
  checkConnectivity(options?: CheckConnectivityOptions): Promise<void>;
  /**
   * Replaces the settings for calls started from now on (rotated credentials or CA); calls in flight finish
   * with the settings they started with (S3 signs their later requests with the new key). The destination,
   * provider and server name cannot change.
   */
  reconfigure(settings: EngineSettings): Promise<void>;
  /**
   * Refuses new calls (ERR_ENGINE_CLOSED), waits for the calls in flight to settle (cancel them with their
   * signals or the engine's), then releases clients, sockets and watchers. Idempotent.
   */
  close(): Promise<void>;
}

export type OpenEngine = (settings: EngineSettings, options?: OpenEngineOptions) => Promise<Engine>;
