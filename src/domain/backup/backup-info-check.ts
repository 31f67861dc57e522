/**
 * What a backup.info must satisfy beyond being parseable: the status Barman knows, and for a DONE backup the
 * fields a restore and retention rely on, consistent with each other as Barman and pgstow write them (begin_wal is
 * the segment of begin_xlog on the backup's timeline, the offsets are the LSNs' offsets in their segments, the
 * backup_label's START WAL LOCATION is begin_xlog, the end follows the begin). A changed begin_wal, end_wal or status
 * breaks one of these rules; a restore or WAL cleanup built on them would silently use the wrong WAL.
 */
import { lsnSegmentOffset, lsnToSegmentName, parseLsn } from '../wal/lsn.js';
import { BackupStatus, type BackupInfo } from './backup-info.js';

const STATUSES: ReadonlySet<string> = new Set(Object.values(BackupStatus));
const SEGMENT_RE = /^[0-9A-F]{24}$/;

/** The first inconsistency of `info`, as one phrase naming the fields; undefined when it holds together. */
export function backupInfoProblem(info: BackupInfo): string | undefined {
  if (!STATUSES.has(info.status)) return `status '${info.status}' is not one Barman writes (${[...STATUSES].join(', ')})`;
  if (info.status !== BackupStatus.DONE) return undefined;
  const missing = (['beginWal', 'beginXlog', 'beginOffset', 'beginTime', 'endWal', 'endXlog', 'endOffset', 'endTime', 'timeline', 'version'] as const)
    .filter((k) => info[k] === null).map((k) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
  if (missing.length > 0) return `a DONE backup without ${missing.join(', ')}`;
  const segSize = info.xlogSegmentSize;
  const beginWal = info.beginWal as string;
  const endWal = info.endWal as string;
  if (!SEGMENT_RE.test(beginWal)) return `begin_wal '${beginWal}' is not a WAL segment name`;
  if (!SEGMENT_RE.test(endWal)) return `end_wal '${endWal}' is not a WAL segment name`;
  let begin: bigint;
  let end: bigint;
  try {
    begin = parseLsn(info.beginXlog as string);
    end = parseLsn(info.endXlog as string);
  } catch {
    return `begin_xlog '${info.beginXlog}' or end_xlog '${info.endXlog}' is not an LSN`;
  }
  const timeline = info.timeline as number;
  const expectBegin = lsnToSegmentName(begin, timeline, segSize);
  if (beginWal !== expectBegin) return `begin_wal ${beginWal} is not the segment of begin_xlog ${info.beginXlog} on timeline ${timeline} (${expectBegin})`;
  if (info.beginOffset !== lsnSegmentOffset(begin, segSize)) return `begin_offset ${info.beginOffset} does not match begin_xlog ${info.beginXlog}`;
  // The end may be on a later timeline (a backup of a standby that was promoted meanwhile): compare log and segment.
  const endTli = parseInt(endWal.slice(0, 8), 16);
  const expectEnd = lsnToSegmentName(end, endTli, segSize);
  if (endWal !== expectEnd || endTli < timeline) return `end_wal ${endWal} is not the segment of end_xlog ${info.endXlog} (${expectEnd})`;
  if (info.endOffset !== lsnSegmentOffset(end, segSize)) return `end_offset ${info.endOffset} does not match end_xlog ${info.endXlog}`;
  if (end < begin) return `end_xlog ${info.endXlog} is before begin_xlog ${info.beginXlog}`;
  const beginTime = info.beginTime?.toDate().getTime() ?? 0;
  const endTime = info.endTime?.toDate().getTime() ?? 0;
  if (endTime < beginTime) return `end_time ${info.endTime?.toString()} is before begin_time ${info.beginTime?.toString()}`;
  const label = info.backupLabel !== null ? /START WAL LOCATION: ([0-9A-F]+\/[0-9A-F]+) \(file ([0-9A-F]{24})\)/i.exec(info.backupLabel) : null;
  if (label && (label[1]?.toUpperCase() !== (info.beginXlog as string).toUpperCase() || label[2] !== beginWal)) {
    return `the backup_label starts at ${label[1]} (file ${label[2]}), not at begin_xlog ${info.beginXlog} (${beginWal})`;
  }
  return undefined;
}
