/**
 * WAL file names as PostgreSQL and Barman use them (barman/xlog.py). Segment size is always a parameter:
 * never assume 16 MiB.
 *   segment   TTTTTTTTLLLLLLLLSSSSSSSS
 *   partial   TTTTTTTTLLLLLLLLSSSSSSSS.partial
 *   backup    TTTTTTTTLLLLLLLLSSSSSSSS.XXXXXXXX.backup
 *   history   TTTTTTTT.history
 */
import { UsageError } from '../../errors.js';

export const WAL_NAME_RE = /^[0-9A-F]{8}(?:[0-9A-F]{8}[0-9A-F]{8}(?:\.[0-9A-F]{8}\.backup|\.partial)?|\.history)$/i;

export type WalFileKind = 'segment' | 'partial' | 'backup' | 'history';

export interface WalFileName {
  readonly name: string;
  readonly kind: WalFileKind;
  readonly timeline: number;
  /** Log number ("xlogid"); undefined for history files. */
  readonly log?: number;
  /** Segment number within the log; undefined for history files. */
  readonly seg?: number;
  /** For .backup files: the start offset written in the name. */
  readonly backupOffset?: number;
}

export function isWalFileName(name: string): boolean {
  return WAL_NAME_RE.test(name);
}

/** Parses a WAL file name; throws UsageError (exit 3) like barman-cloud for an invalid one. */
export function parseWalFileName(name: string): WalFileName {
  if (!WAL_NAME_RE.test(name)) throw new UsageError(`${name} is an invalid name for a WAL file`);
  const timeline = parseInt(name.slice(0, 8), 16);
  if (name.endsWith('.history')) return { name, kind: 'history', timeline };
  const log = parseInt(name.slice(8, 16), 16);
  const seg = parseInt(name.slice(16, 24), 16);
  if (name.endsWith('.partial')) return { name, kind: 'partial', timeline, log, seg };
  if (name.endsWith('.backup')) return { name, kind: 'backup', timeline, log, seg, backupOffset: parseInt(name.slice(25, 33), 16) };
  return { name, kind: 'segment', timeline, log, seg };
}

/** Barman's hash_dir: first 16 hex chars (timeline + log) for segments; "" for history files. */
export function walHashDir(name: string): string {
  if (!WAL_NAME_RE.test(name)) throw new UsageError(`${name} is an invalid name for a WAL file`);
  return name.endsWith('.history') ? '' : name.slice(0, 16);
}

function hex8(n: number): string {
  return n.toString(16).toUpperCase().padStart(8, '0');
}

/** Segments per log number ("xlogid"): 0xFFFFFFFF / segment size, as PostgreSQL's XLogSegmentsPerXLogId. */
export function segmentsPerLog(segmentSize: number): number {
  assertSegmentSize(segmentSize);
  return Math.floor(0x100000000 / segmentSize);
}

export function assertSegmentSize(segmentSize: number): void {
  // PostgreSQL allows powers of two from 1 MiB to 1 GiB.
  if (!Number.isInteger(segmentSize) || segmentSize < 1 << 20 || segmentSize > 1 << 30 || (segmentSize & (segmentSize - 1)) !== 0) {
    throw new UsageError(`invalid WAL segment size ${segmentSize} (must be a power of two from 1 MiB to 1 GiB)`);
  }
}

export function formatSegmentName(timeline: number, log: number, seg: number): string {
  return `${hex8(timeline)}${hex8(log)}${hex8(seg)}`;
}

export function formatHistoryName(timeline: number): string {
  return `${hex8(timeline)}.history`;
}

/** Absolute segment number (log * segmentsPerLog + seg), as PostgreSQL's XLogSegNo. */
export function segmentNumber(name: WalFileName, segmentSize: number): bigint {
  if (name.log === undefined || name.seg === undefined) throw new UsageError(`${name.name} is not a WAL segment`);
  return BigInt(name.log) * BigInt(segmentsPerLog(segmentSize)) + BigInt(name.seg);
}

export function segmentNameFromNumber(timeline: number, segno: bigint, segmentSize: number): string {
  const per = BigInt(segmentsPerLog(segmentSize));
  return formatSegmentName(timeline, Number(segno / per), Number(segno % per));
}

/** The segment that follows `name` on the same timeline. */
export function nextSegmentName(name: string, segmentSize: number): string {
  const parsed = parseWalFileName(name);
  if (parsed.kind !== 'segment' && parsed.kind !== 'partial') throw new UsageError(`${name} is not a WAL segment`);
  return segmentNameFromNumber(parsed.timeline, segmentNumber(parsed, segmentSize) + 1n, segmentSize);
}
