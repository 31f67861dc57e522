/**
 * What the WAL archive allows: per timeline continuity (first/last segment, gaps), which DONE backups have
 * every WAL from their begin to their end archived, and the recoverability window (first point = end of
 * the oldest such backup; last point = the newest archived segment on the latest timeline). One streamed
 * pass over wals/, constant memory.
 */
import { BackupStatus } from '../domain/backup/backup-info.js';
import { WalContinuity, rangeCovered, type TimelineWal } from '../domain/wal/wal-continuity.js';
import type { BarmanLayout } from '../repository/barman-layout.js';
import { listWals, type BackupCatalog } from '../repository/backup-catalog.js';
import type { ObjectStore } from '../storage/object-store.js';

export interface BackupWalState {
  readonly id: string;
  /** Every segment from begin_wal to end_wal is archived. */
  readonly walComplete: boolean;
}

export interface WalArchiveReport {
  /** From a backup.info, else from an uncompressed segment object's size; null when neither tells. */
  readonly segmentSize: number | null;
  readonly segmentSizeSource: 'backup' | 'wal object' | 'unknown';
  readonly timelines: readonly TimelineWal[];
  readonly walObjects: number;
  readonly walBytes: number;
  readonly backups: readonly BackupWalState[];
  /** End of the oldest DONE backup whose WAL range is complete; null when none. */
  readonly firstRecoverable: { backupId: string; time: string } | null;
  /** Newest archived segment on the highest timeline. */
  readonly lastArchived: { timeline: number; wal: string; time: string | null } | null;
}

export async function walArchiveReport(store: ObjectStore, layout: BarmanLayout, catalog: BackupCatalog, signal?: AbortSignal): Promise<WalArchiveReport> {
  const done = catalog.backups.filter((b) => b.info.status === BackupStatus.DONE);
  // Never assume 16 MiB: with another size every gap and log switch would be misread.
  let segmentSize = (done.find((b) => b.info.xlogSegmentSize !== null) ?? catalog.backups.find((b) => b.info.xlogSegmentSize !== null))?.info.xlogSegmentSize ?? null;
  let segmentSizeSource: WalArchiveReport['segmentSizeSource'] = segmentSize !== null ? 'backup' : 'unknown';
  if (segmentSize === null) {
    segmentSize = await segmentSizeFromObjects(store, layout, signal);
    if (segmentSize !== null) segmentSizeSource = 'wal object';
  }
  const continuity = new WalContinuity(segmentSize);
  let walObjects = 0;
  let walBytes = 0;
  for await (const w of listWals(store, layout, signal)) {
    walObjects++;
    walBytes += w.size;
    continuity.add(w.name, w.lastModified);
  }
  const timelines = continuity.result();
  const byTli = new Map(timelines.map((t) => [t.timeline, t]));
  const backups = done.map((b) => {
    const { beginWal, endWal, timeline } = b.info;
    const ok = beginWal !== null && endWal !== null && timeline !== null && rangeCovered(byTli.get(timeline), beginWal, endWal);
    return { id: b.id, walComplete: ok };
  });
  const firstOk = done.find((b) => backups.find((x) => x.id === b.id)?.walComplete);
  const withSegments = timelines.filter((t) => t.lastSegment !== null);
  const last = withSegments[withSegments.length - 1];
  return {
    segmentSize,
    segmentSizeSource,
    timelines,
    walObjects,
    walBytes,
    backups,
    firstRecoverable: firstOk?.info.endTime ? { backupId: firstOk.id, time: firstOk.info.endTime.toString() } : null,
    lastArchived: last ? { timeline: last.timeline, wal: last.lastSegment!, time: last.lastModified?.toISOString() ?? null } : null,
  };
}

/** How many WAL objects to look at for an uncompressed segment before giving up on learning the size. */
const SIZE_PROBE_LIMIT = 1000;

/**
 * An uncompressed segment object is exactly one segment long (PostgreSQL sizes are powers of two from 1 MiB to
 * 1 GiB); compressed ones, .partial and .backup files say nothing. Looks at the first objects only.
 */
async function segmentSizeFromObjects(store: ObjectStore, layout: BarmanLayout, signal?: AbortSignal): Promise<number | null> {
  let seen = 0;
  for await (const w of listWals(store, layout, signal)) {
    if (w.suffix === '' && isSegmentName(w.name) && isSegmentSize(w.size)) return w.size;
    if (++seen >= SIZE_PROBE_LIMIT) break;
  }
  return null;
}

function isSegmentName(name: string): boolean {
  return /^[0-9A-F]{24}$/.test(name);
}

function isSegmentSize(n: number): boolean {
  return n >= 1 << 20 && n <= 1 << 30 && (n & (n - 1)) === 0;
}
