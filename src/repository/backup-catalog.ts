/**
 * The backup catalog of one server, derived purely from listing the store (Barman keeps no index):
 * base/<id>/backup.info per backup, base/<id>/annotations/keep for keep requests, wals/ for WAL.
 *
 * One recursive listing of base/ gives the ids, which of them have a backup.info, their keep annotations
 * and their data objects (what a delete removes) in one pass; backup.info files are then read with bounded
 * concurrency. A backup without backup.info is a backup still running (barman-cloud-backup writes it last)
 * or an interrupted delete from a Barman older than pgstow's ordering: reported, never listed as a backup.
 */
import { ExitCode, PgstowError } from '../errors.js';
import { runPool } from '../concurrency.js';
import { BackupInfoError, BackupStatus, isBackupId, parseBackupInfo, type BackupInfo } from '../domain/backup/backup-info.js';
import { backupInfoProblem } from '../domain/backup/backup-info-check.js';
import { isWalFileName } from '../domain/wal/wal-file-name.js';
import { ObjectNotFoundError } from '../storage/errors.js';
import { readAll } from '../storage/object-store-helpers.js';
import { isCommonPrefix, type ObjectInfo, type ObjectStore } from '../storage/object-store.js';
import type { BarmanLayout } from './barman-layout.js';

/**
 * backup.info `error` value pgstow writes (with status FAILED) before it deletes anything of a backup, so a
 * backup whose data is partly deleted is never listed as DONE. A re-run of any delete finishes such backups.
 */
export const DELETION_IN_PROGRESS_ERROR = 'deletion in progress (pgstow): re-run the delete to finish it';

export function isDeletionInProgress(info: BackupInfo): boolean {
  return info.status === BackupStatus.FAILED && info.error === DELETION_IN_PROGRESS_ERROR;
}

export interface CatalogBackup {
  readonly id: string;
  readonly info: BackupInfo;
  /** Raw first line of annotations/keep ("full", "standalone"), or null. */
  readonly keep: string | null;
  /** Tolerated oddities in backup.info (unknown keys). */
  readonly warnings: readonly string[];
  /** Objects under base/<id>/ other than backup.info and annotations/ (tars, backup_label…). */
  readonly dataObjects: readonly ObjectInfo[];
  readonly backupInfoKey: string;
}

export interface UnreadableBackup {
  readonly id: string;
  readonly error: string;
  /** Objects under base/<id>/ other than backup.info and annotations/ (what deleting it removes, with backup.info). */
  readonly objects?: readonly ObjectInfo[];
  readonly backupInfoKey?: string;
}

export interface IncompleteBackup {
  readonly id: string;
  /** Objects found under base/<id>/ (none of them backup.info). */
  readonly objects: readonly ObjectInfo[];
}

export interface BackupCatalog {
  readonly serverName: string;
  /** Readable backups (any status), sorted by id. */
  readonly backups: readonly CatalogBackup[];
  /** backup.info present but not readable (Barman: "Unable to open backup.info file"). */
  readonly unreadable: readonly UnreadableBackup[];
  /** A base/<id>/ prefix without backup.info: a running backup or leftovers. */
  readonly incomplete: readonly IncompleteBackup[];
}

export interface LoadCatalogOptions {
  /** Parallel backup.info/annotation reads. */
  concurrency?: number;
  signal?: AbortSignal;
}

interface Pending {
  hasInfo: boolean;
  keepKey: string | null;
  data: ObjectInfo[];
}

export async function loadCatalog(store: ObjectStore, layout: BarmanLayout, options: LoadCatalogOptions = {}): Promise<BackupCatalog> {
  const base = layout.basePrefix;
  const byId = new Map<string, Pending>();
  const listOptions = options.signal ? { signal: options.signal } : {};
  for await (const entry of store.list(base, listOptions)) {
    if (isCommonPrefix(entry)) continue;
    const rest = entry.key.slice(base.length);
    const slash = rest.indexOf('/');
    if (slash <= 0) continue; // a stray object directly under base/
    const id = rest.slice(0, slash);
    const inner = rest.slice(slash + 1);
    let p = byId.get(id);
    if (!p) byId.set(id, (p = { hasInfo: false, keepKey: null, data: [] }));
    if (inner === 'backup.info') p.hasInfo = true;
    else if (inner.startsWith('annotations/')) {
      if (inner === 'annotations/keep') p.keepKey = entry.key;
    } else p.data.push(entry);
  }

  const ids = [...byId.keys()].sort();
  const backups: CatalogBackup[] = [];
  const unreadable: UnreadableBackup[] = [];
  const incomplete: IncompleteBackup[] = [];
  await runPool(ids, options.concurrency ?? 8, async (id) => {
    const p = byId.get(id)!;
    if (!p.hasInfo) {
      incomplete.push({ id, objects: p.data });
      return;
    }
    try {
      const read = await readBackupInfo(store, layout, id, options.signal);
      if (!read) {
        // Deleted between listing and reading: the same as never having been there.
        incomplete.push({ id, objects: p.data });
        return;
      }
      // A backup.info that does not hold together (a changed begin_wal, status…) is never listed as a backup:
      // retention and restore would act on wrong WAL ranges.
      const problem = backupInfoProblem(read.info);
      if (problem !== undefined) throw new BackupInfoError(`${read.key} does not hold together: ${problem}`);
      const keep = p.keepKey ? await readKeep(store, p.keepKey, options.signal) : null;
      backups.push({ id, info: read.info, keep, warnings: read.warnings, dataObjects: p.data, backupInfoKey: read.key });
    } catch (err) {
      if (err instanceof BackupInfoError) {
        unreadable.push({ id, error: err.message, objects: p.data, backupInfoKey: layout.backupInfoKey(id) });
        return;
      }
      throw err;
    }
  });
  const byIdOrder = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  return { serverName: layout.serverName, backups: backups.sort(byIdOrder), unreadable: unreadable.sort(byIdOrder), incomplete: incomplete.sort(byIdOrder) };
}

/** First line of the keep annotation, as Barman reads it (not stripped); null when absent. */
export async function readKeep(store: ObjectStore, key: string, signal?: AbortSignal): Promise<string | null> {
  try {
    const text = (await readAll(store, key, signal)).toString('utf8');
    const nl = text.indexOf('\n');
    return nl < 0 ? text : text.slice(0, nl + 1);
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return null;
    throw err;
  }
}

/** Barman's console rendering of a keep value: KEEP:FULL / KEEP:STANDALONE. */
export function keepLabel(keep: string | null): string {
  if (keep === null) return '';
  return `KEEP:${keep.toUpperCase()}`;
}

// -----------------------------------------------------------------------------------------------------------
// Identifiers: the one resolver every command and the restore use, with one set of error codes.

/** No backup matches a name, or a shortcut finds no backup. Exit 4 for a name, as Barman (a ValueError there). */
export class UnknownBackupError extends PgstowError {
  constructor(message: string) {
    super('ERR_BACKUP_UNKNOWN', ExitCode.GENERAL, message);
  }
}
UnknownBackupError.prototype.name = 'UnknownBackupError';

/** Several backups carry the name. Exit 4, as Barman. */
export class AmbiguousBackupNameError extends PgstowError {
  constructor(message: string) {
    super('ERR_BACKUP_NAME_AMBIGUOUS', ExitCode.GENERAL, message);
  }
}
AmbiguousBackupNameError.prototype.name = 'AmbiguousBackupNameError';

/** A backup id without backup.info, or a shortcut (latest, oldest…) on a server without backups. Exit 1, as Barman. */
export class BackupNotFoundError extends PgstowError {
  constructor(message: string) {
    super('ERR_BACKUP_NOT_FOUND', ExitCode.OPERATION, message);
  }
}
BackupNotFoundError.prototype.name = 'BackupNotFoundError';

/** True for text shaped like a backup id (YYYYMMDDTHHMMSS). */
export const isBackupIdText = isBackupId;

/** What the resolver needs of a backup. */
export interface BackupRef {
  readonly id: string;
  readonly status: string;
  readonly name: string | null | undefined;
}

export function refOf(b: CatalogBackup): BackupRef {
  return { id: b.id, status: b.info.status, name: b.info.backupName };
}

export interface ResolveOptions {
  /** latest/last: the newest backup of any status (Barman's catalog commands), or the newest DONE one when there is one (restore). */
  latest?: 'any' | 'prefer-done';
}

/**
 * Resolves what a user typed: a backup id (returned as-is, even if absent, as Barman does), `first`/`oldest`,
 * `last`/`latest`, `last-failed`, or a backup name (exactly one match required).
 */
export function resolveBackupId(catalog: { readonly serverName: string; readonly backups: readonly CatalogBackup[] }, identifier: string, options: ResolveOptions = {}): string {
  return resolveBackupRef(catalog.serverName, catalog.backups.map(refOf), identifier, options);
}

export function resolveBackupRef(serverName: string, backups: readonly BackupRef[], identifier: string, options: ResolveOptions = {}): string {
  if (isBackupId(identifier)) return identifier;
  const all = [...backups].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const pick = (b: BackupRef | undefined, what: string): string => {
    if (!b) throw new BackupNotFoundError(`No ${what} backup found for server '${serverName}'`);
    return b.id;
  };
  switch (identifier) {
    case 'first':
    case 'oldest':
      return pick(all[0], 'oldest');
    case 'last':
    case 'latest':
      return pick((options.latest === 'prefer-done' ? all.filter((b) => b.status === BackupStatus.DONE).at(-1) : undefined) ?? all.at(-1), 'latest');
    case 'last-failed':
      return pick(all.filter((b) => b.status === BackupStatus.FAILED).at(-1), 'failed');
  }
  const named = all.filter((b) => b.name === identifier);
  if (named.length > 1) {
    throw new AmbiguousBackupNameError(`Multiple backups found matching name '${identifier}' for server '${serverName}': ${named.map((b) => b.id).join(', ')}`);
  }
  if (named.length === 0) throw new UnknownBackupError(`Unknown backup '${identifier}' for server '${serverName}'`);
  return (named[0] as BackupRef).id;
}

/** One backup's backup.info, read directly (no listing); undefined when it does not exist. */
export async function readBackupInfo(store: ObjectStore, layout: BarmanLayout, id: string, signal?: AbortSignal): Promise<{ key: string; info: BackupInfo; warnings: string[] } | undefined> {
  const key = layout.backupInfoKey(id);
  let text: string;
  try {
    text = (await readAll(store, key, signal)).toString('utf8');
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return undefined;
    throw err;
  }
  const { info, warnings } = parseBackupInfo(text);
  return { key, info, warnings };
}

export function findBackup(catalog: BackupCatalog, id: string): CatalogBackup | undefined {
  return catalog.backups.find((b) => b.id === id);
}

// -----------------------------------------------------------------------------------------------------------
// WAL listing

/** Compression suffixes a WAL object may carry (3.4 knows the first three). */
export const WAL_SUFFIXES = ['.gz', '.bz2', '.snappy', '.xz', '.zst', '.lz4'] as const;

export interface WalObject {
  /** Suffix-less WAL file name (segment, .partial, .backup or .history). */
  readonly name: string;
  readonly key: string;
  /** Compression suffix or "". */
  readonly suffix: string;
  readonly size: number;
  readonly lastModified?: Date;
}

/** Splits an object's base name into WAL name + compression suffix; null for anything else. */
export function parseWalObjectName(basename: string): { name: string; suffix: string } | null {
  if (isWalFileName(basename)) return { name: basename, suffix: '' };
  const dot = basename.lastIndexOf('.');
  if (dot <= 0) return null;
  const suffix = basename.slice(dot);
  const name = basename.slice(0, dot);
  if ((WAL_SUFFIXES as readonly string[]).includes(suffix) && isWalFileName(name)) return { name, suffix };
  return null;
}

/**
 * Every WAL object of the server, streamed page by page in key order (timeline, log, segment; history files
 * interleaved). Memory stays flat whatever the archive size.
 */
export async function* listWals(store: ObjectStore, layout: BarmanLayout, signal?: AbortSignal): AsyncGenerator<WalObject> {
  for await (const entry of store.list(layout.walsPrefix, signal ? { signal } : {})) {
    if (isCommonPrefix(entry)) continue;
    const base = entry.key.slice(entry.key.lastIndexOf('/') + 1);
    const parsed = parseWalObjectName(base);
    if (!parsed) continue;
    const wal: WalObject = { name: parsed.name, key: entry.key, suffix: parsed.suffix, size: entry.size, ...(entry.lastModified ? { lastModified: entry.lastModified } : {}) };
    yield wal;
  }
}

// -----------------------------------------------------------------------------------------------------------

/** For messages: why an unreadable backup could not be read. */
export function describeUnreadable(u: readonly UnreadableBackup[]): string {
  return u.map((x) => `${x.id} (${x.error})`).join(', ');
}

