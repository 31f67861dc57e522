/**
 * WAL continuity per timeline, computed in one pass over a sorted WAL listing with constant memory (only
 * the first few gaps are kept): first and last segment, segment count, gaps, partial and history files.
 * "Continuous" means every segment between the first and the last one is archived.
 */
import { formatSegmentName, parseWalFileName, segmentNameFromNumber, segmentNumber, segmentsPerLog } from './wal-file-name.js';

export interface WalGap {
  /** First missing segment. */
  readonly from: string;
  /** Last missing segment. */
  readonly to: string;
  readonly missing: number;
}

export interface TimelineWal {
  readonly timeline: number;
  firstSegment: string | null;
  lastSegment: string | null;
  /** Distinct segments (compressed and uncompressed copies count once). */
  segments: number;
  partials: number;
  backupLabels: number;
  hasHistory: boolean;
  /** Total number of gaps; `gaps` holds the first `maxGaps` of them. */
  gapCount: number;
  missingSegments: number;
  readonly gaps: WalGap[];
  /** Newest object time seen on this timeline (listing lastModified). */
  lastModified: Date | null;
  /**
   * Segment size unknown only: log switches whose continuity could not be checked (how many segments a log
   * holds depends on the size). Always 0 when the size is known.
   */
  uncheckedLogSwitches: number;
}

export class WalContinuity {
  private readonly timelines = new Map<number, TimelineWal>();
  private readonly lastSegno = new Map<number, bigint>();
  private readonly lastLogSeg = new Map<number, { log: number; seg: number }>();

  /** `segmentSize` null: unknown (no backup records it); gaps are then checked within each log only. */
  constructor(private readonly segmentSize: number | null, private readonly maxGaps = 1000) {
    if (segmentSize !== null) segmentsPerLog(segmentSize); // validates
  }

  /** Feed suffix-less WAL names in listing order (segments ascending within a timeline). */
  add(name: string, lastModified?: Date): void {
    const w = parseWalFileName(name);
    const t = this.timeline(w.timeline);
    if (lastModified && (!t.lastModified || lastModified > t.lastModified)) t.lastModified = lastModified;
    if (w.kind === 'history') { t.hasHistory = true; return; }
    if (w.kind === 'partial') { t.partials++; return; }
    if (w.kind === 'backup') { t.backupLabels++; return; }
    if (this.segmentSize === null) { this.addUnsized(t, w.log!, w.seg!, name); return; }
    const segno = segmentNumber(w, this.segmentSize);
    const prev = this.lastSegno.get(w.timeline);
    if (prev !== undefined && segno <= prev) return; // a second copy (e.g. X and X.gz)
    if (prev !== undefined && segno > prev + 1n) {
      this.gap(t, segmentNameFromNumber(w.timeline, prev + 1n, this.segmentSize), segmentNameFromNumber(w.timeline, segno - 1n, this.segmentSize), Number(segno - prev - 1n));
    }
    this.lastSegno.set(w.timeline, segno);
    t.firstSegment ??= name;
    t.lastSegment = name;
    t.segments++;
  }

  private addUnsized(t: TimelineWal, log: number, seg: number, name: string): void {
    const prev = this.lastLogSeg.get(t.timeline);
    if (prev !== undefined && (log < prev.log || (log === prev.log && seg <= prev.seg))) return; // a second copy
    // Segments missing at the start of this log (or after the previous one in it) are known exactly.
    const from = prev !== undefined && log === prev.log ? prev.seg + 1 : 0;
    if (prev !== undefined && log !== prev.log) t.uncheckedLogSwitches++;
    if (prev !== undefined && seg > from) this.gap(t, formatSegmentName(t.timeline, log, from), formatSegmentName(t.timeline, log, seg - 1), seg - from);
    this.lastLogSeg.set(t.timeline, { log, seg });
    t.firstSegment ??= name;
    t.lastSegment = name;
    t.segments++;
  }

  private gap(t: TimelineWal, from: string, to: string, missing: number): void {
    t.gapCount++;
    t.missingSegments += missing;
    if (t.gaps.length < this.maxGaps) t.gaps.push({ from, to, missing });
  }

  result(): TimelineWal[] {
    return [...this.timelines.values()].sort((a, b) => a.timeline - b.timeline);
  }

  private timeline(tli: number): TimelineWal {
    let t = this.timelines.get(tli);
    if (!t) {
      t = { timeline: tli, firstSegment: null, lastSegment: null, segments: 0, partials: 0, backupLabels: 0, hasHistory: false, gapCount: 0, missingSegments: 0, gaps: [], lastModified: null, uncheckedLogSwitches: 0 };
      this.timelines.set(tli, t);
    }
    return t;
  }
}

/** True when every segment from `begin` to `end` (inclusive, same timeline) is present per `tl`. */
export function rangeCovered(tl: TimelineWal | undefined, begin: string, end: string): boolean {
  if (!tl || tl.firstSegment === null || tl.lastSegment === null) return false;
  if (begin < tl.firstSegment || end > tl.lastSegment) return false;
  // Gaps beyond maxGaps are unknown: be conservative.
  if (tl.gapCount > tl.gaps.length) return false;
  // Segment size unknown: a range that crosses a log switch cannot be checked.
  if (tl.uncheckedLogSwitches > 0 && begin.slice(8, 16) !== end.slice(8, 16)) return false;
  return tl.gaps.every((g) => g.to < begin || g.from > end);
}

