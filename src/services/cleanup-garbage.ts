/**
 * What killed or failed backups leave behind, found and removed: uploads begun and never completed (S3 multipart
 * uploads, fs temp files) under the server's prefix, backup directories without backup.info (orphans: the backup
 * was killed before its last step), and FAILED backups. Only what nothing has touched for `olderThanMs` goes (a
 * running backup adds parts to its upload all the time), and every removal is reported. Run by retention, by
 * `backup delete`, and after a successful backup.
 */
import type { Logger } from '../logger.js';
import { BackupStatus } from '../domain/backup/backup-info.js';
import type { BarmanLayout } from '../repository/barman-layout.js';
import { isDeletionInProgress, loadCatalog, type BackupCatalog } from '../repository/backup-catalog.js';
import type { ObjectStore } from '../storage/object-store.js';

/** Default age past which an abandoned upload, orphan or FAILED backup is removed: a day. */
export const DEFAULT_GARBAGE_AGE_MS = 24 * 3600_000;

export interface Removal {
  kind: 'upload' | 'orphan backup' | 'failed backup';
  /** Backup id for backups; the key for uploads. */
  name: string;
  keys: string[];
  bytes: number;
  /** Why it was judged garbage, for the report. */
  reason: string;
}

export interface CleanupInput {
  olderThanMs?: number;
  now?: Date;
  /** Report only. */
  dryRun?: boolean;
  /** Backups the caller deletes itself (left alone here). */
  skip?: ReadonlySet<string>;
  /**
   * Remove FAILED backups too (default true). Barman never does; the barman-cloud-* drop-ins keep its catalog as
   * Barman would and remove only what Barman does not see (unfinished uploads, backups without backup.info).
   */
  includeFailed?: boolean;
  signal?: AbortSignal;
  warn?: (message: string) => void;
}

const hours = (ms: number): string => `${Math.round(ms / 360_000) / 10} h`;

/** Removes (or with dryRun lists) the garbage of `catalog`'s server; returns what went. */
export async function cleanupGarbage(deps: { store: ObjectStore; layout: BarmanLayout }, catalog: BackupCatalog, input: CleanupInput = {}): Promise<Removal[]> {
  const { store, layout } = deps;
  const age = input.olderThanMs ?? DEFAULT_GARBAGE_AGE_MS;
  const cutoff = (input.now ?? new Date()).getTime() - age;
  const opts = input.signal ? { signal: input.signal } : {};
  const removals: Removal[] = [];
  const activeIds = new Set<string>();

  if (store.listIncompleteUploads && store.abortIncompleteUpload) {
    try {
      for await (const u of store.listIncompleteUploads(layout.serverPrefix, opts)) {
        const id = backupIdOf(layout, u.key);
        if (u.lastActivity.getTime() > cutoff) { if (id) activeIds.add(id); continue; }
        if (!input.dryRun) await store.abortIncompleteUpload(u, opts);
        removals.push({ kind: 'upload', name: u.key, keys: [u.key], bytes: u.size ?? 0, reason: `unfinished since ${u.lastActivity.toISOString()}` });
      }
    } catch (err) {
      // Unfinished uploads are only garbage: a store that cannot list them (s3rver has no such API, a key may lack
      // s3:ListBucketMultipartUploads) must not fail retention. Orphans are then left alone too (one may be running).
      input.warn?.(`unfinished uploads under ${layout.serverPrefix} could not be listed, so none was aborted and no backup without backup.info removed: ${err instanceof Error ? err.message : String(err)}`);
      return removals;
    }
  }
  for (const o of catalog.incomplete) {
    if (input.skip?.has(o.id) || activeIds.has(o.id) || o.objects.length === 0) continue;
    const newest = Math.max(...o.objects.map((x) => x.lastModified?.getTime() ?? Number.MAX_SAFE_INTEGER));
    if (newest > cutoff) continue;
    const keys = o.objects.map((x) => x.key);
    if (!input.dryRun) await store.delete(keys, opts);
    removals.push({ kind: 'orphan backup', name: o.id, keys, bytes: o.objects.reduce((n, x) => n + x.size, 0),
      reason: `no backup.info, nothing written for over ${hours(age)}` });
  }
  for (const b of input.includeFailed === false ? [] : catalog.backups) {
    if (b.info.status !== BackupStatus.FAILED || isDeletionInProgress(b.info) || input.skip?.has(b.id) || activeIds.has(b.id) || b.keep !== null) continue;
    const when = (b.info.endTime ?? b.info.beginTime)?.toDate().getTime() ?? Number.MAX_SAFE_INTEGER;
    if (when > cutoff) continue;
    const keys = [...b.dataObjects.map((x) => x.key), b.backupInfoKey];
    if (!input.dryRun) await store.delete(keys, opts);
    removals.push({ kind: 'failed backup', name: b.id, keys, bytes: b.dataObjects.reduce((n, x) => n + x.size, 0),
      reason: `FAILED (${b.info.error ?? 'no error recorded'}) over ${hours(age)} ago` });
  }
  return removals;
}

/**
 * After a successful backup: what earlier killed or failed backups left goes, reported at WARNING. Never fails the
 * backup (it is done): a cleanup that cannot run is a warning.
 */
export async function cleanupAfterBackup(deps: { store: ObjectStore; layout: BarmanLayout }, backupId: string, log: Pick<Logger, 'warning'>,
  options: { olderThanMs?: number; removeFailed?: boolean } = {}, signal?: AbortSignal): Promise<Removal[]> {
  try {
    const catalog = await loadCatalog(deps.store, deps.layout, signal ? { signal } : {});
    const removed = await cleanupGarbage(deps, catalog, {
      skip: new Set([backupId]), includeFailed: options.removeFailed !== false, warn: (m) => log.warning('WARN_GARBAGE_REMOVED', m),
      ...(options.olderThanMs !== undefined ? { olderThanMs: options.olderThanMs } : {}), ...(signal ? { signal } : {}),
    });
    for (const r of removed) log.warning('WARN_GARBAGE_REMOVED', describeRemoval(r));
    return removed;
  } catch (err) {
    log.warning('WARN_GARBAGE_CLEANUP_FAILED', `could not clean up after earlier killed or failed backups: ${err instanceof Error ? err.message : String(err)}`);
    return [];
  }
}

/** One line per removal, for logs. */
export function describeRemoval(r: Removal, dryRun = false): string {
  const verb = r.kind === 'upload' ? (dryRun ? 'would abort' : 'aborted') : (dryRun ? 'would remove' : 'removed');
  return `${verb} ${r.kind} ${r.name} (${r.keys.length} object(s), ${r.bytes} bytes): ${r.reason}`;
}

function backupIdOf(layout: BarmanLayout, key: string): string | undefined {
  if (!key.startsWith(layout.basePrefix)) return undefined;
  const rest = key.slice(layout.basePrefix.length);
  const slash = rest.indexOf('/');
  return slash > 0 ? rest.slice(0, slash) : undefined;
}
