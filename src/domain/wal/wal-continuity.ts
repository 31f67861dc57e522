/**
 * WAL continuity per timeline, computed in one pass over a sorted WAL listing with constant memory (only
 * the first few gaps are kept): first and last segment, segment count, gaps, partial and history files.
 * "Continuous" means every segment between the first and the last one is archived.
 */
import { parseWalFileName, segmentNameFromNumber, segmentNumber, segmentsPerLog } from './wal-file-name.js';

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
}

export class WalContinuity {
  private readonly timelines = new Map<number, TimelineWal>();
  private readonly lastSegno = new Map<number, bigint>();

  constructor(private readonly segmentSize: number, private readonly maxGaps = 1000) {
    segmentsPerLog(segmentSize); // validates
  }

  /** Feed suffix-less WAL names in listing order (segments ascending within a timeline). */
  add(name: string, lastModified?: Date): void {
    const w = parseWalFileName(name);
    const t = this.timeline(w.timeline);
    if (lastModified && (!t.lastModified || lastModified > t.lastModified)) t.lastModified = lastModified;
    if (w.kind === 'history') { t.hasHistory = true; return; }
    if (w.kind === 'partial') { t.partials++; return; }
    if (w.kind === 'backup') { t.backupLabels++; return; }
    const segno = segmentNumber(w, this.segmentSize);
    const prev = this.lastSegno.get(w.timeline);
    if (prev !== undefined && segno <= prev) return; // a second copy (e.g. X and X.gz)
    if (prev !== undefined && segno > prev + 1n) {
      t.gapCount++;
      const missing = segno - prev - 1n;
      t.missingSegments += Number(missing);
      if (t.gaps.length < this.maxGaps) {
        t.gaps.push({ from: segmentNameFromNumber(w.timeline, prev + 1n, this.segmentSize), to: segmentNameFromNumber(w.timeline, segno - 1n, this.segmentSize), missing: Number(missing) });
      }
    }
    this.lastSegno.set(w.timeline, segno);
    t.firstSegment ??= name;
    t.lastSegment = name;
    t.segments++;
  }

  result(): TimelineWal[] {
    return [...this.timelines.values()].sort((a, b) => a.timeline - b.timeline);
  }

  private timeline(tli: number): TimelineWal {
    let t = this.timelines.get(tli);
    if (!t) {
      t = { timeline: tli, firstSegment: null, lastSegment: null, segments: 0, partials: 0, backupLabels: 0, hasHistory: false, gapCount: 0, missingSegments: 0, gaps: [], lastModified: null };
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
  return tl.gaps.every((g) => g.to < begin || g.from > end);
}

