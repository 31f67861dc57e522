/** Log sequence numbers ("X/X" hex pairs) and their mapping to WAL segments. */
import { UsageError } from '../../errors.js';
import { formatSegmentName, segmentsPerLog } from './wal-file-name.js';

export type Lsn = bigint;

export function parseLsn(text: string): Lsn {
  const m = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i.exec(text.trim());
  if (!m) throw new UsageError(`invalid LSN "${text}" (expected the form 0/16B3748)`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** The WAL segment holding `lsn` on `timeline` (barman xlog.location_to_xlogfile_name_offset). */
export function lsnToSegmentName(lsn: Lsn, timeline: number, segmentSize: number): string {
  const per = BigInt(segmentsPerLog(segmentSize));
  const segno = lsn / BigInt(segmentSize);
  return formatSegmentName(timeline, Number(segno / per), Number(segno % per));
}

/** Byte offset of `lsn` inside its segment. */
export function lsnSegmentOffset(lsn: Lsn, segmentSize: number): number {
  return Number(lsn % BigInt(segmentSize));
}
