/**
 * backup.info, Barman's per-backup metadata file (barman/infofile.py, FieldListFile): sorted `key=value`
 * lines, `None` for null, Python literals for structured fields, Python `str(datetime)` for timestamps.
 *
 * Reading is tolerant (every 3.17 key; unknown keys kept and reported as warnings). Writing emits exactly
 * the barman-cloud 3.4 key set by default, which every Barman from 3.4 to 3.17 can read (3.4 rejects a
 * file with any key it does not know; 3.15+ rejects keys outside its own list).
 */
import { OperationError } from '../../errors.js';
import { PyDateTime, PyDateTimeError } from './py-datetime.js';
import { PyDict, PyFloat, PyTuple, PythonLiteralError, formatPythonLiteral, parsePythonLiteral, type PyValue } from './python-literal.js';

export const BackupStatus = {
  EMPTY: 'EMPTY',
  STARTED: 'STARTED',
  FAILED: 'FAILED',
  WAITING_FOR_WALS: 'WAITING_FOR_WALS',
  DONE: 'DONE',
  SYNCING: 'SYNCING',
} as const;
/** One of BackupStatus, or any other text a foreign writer put there (kept as-is). */
export type BackupStatus = string;

export interface Tablespace {
  readonly name: string;
  readonly oid: number;
  readonly location: string;
}

export interface BackupInfo {
  backupLabel: string | null;
  backupName: string | null;
  beginOffset: number | null;
  beginTime: PyDateTime | null;
  beginWal: string | null;
  beginXlog: string | null;
  /** [≥3.11] comma-separated list in the file. */
  childrenBackupIds: string[] | null;
  /** [≥3.11] */
  clusterSize: number | null;
  compression: string | null;
  configFile: string | null;
  copyStats: PyValue | null;
  /** [≥3.11] "on"/"off". */
  dataChecksums: string | null;
  deduplicatedSize: number | null;
  /** [≥3.14] */
  encryption: string | null;
  endOffset: number | null;
  endTime: PyDateTime | null;
  endWal: string | null;
  endXlog: string | null;
  error: string | null;
  hbaFile: string | null;
  identFile: string | null;
  includedFiles: PyValue | null;
  mode: string | null;
  /** [≥3.11] */
  parentBackupId: string | null;
  pgdata: string | null;
  serverName: string | null;
  size: number | null;
  snapshotsInfo: PyValue | null;
  status: BackupStatus;
  /** [≥3.11] */
  summarizeWal: string | null;
  systemid: string | null;
  tablespaces: Tablespace[] | null;
  timeline: number | null;
  version: number | null;
  xlogSegmentSize: number;
  /** Keys unknown to Barman 3.17, raw text values; never written back. */
  extra: Record<string, string>;
}

type Kind = 'str' | 'int' | 'datetime' | 'literal' | 'tablespaces' | 'commaList';

interface FieldSpec {
  readonly key: string;
  readonly prop: keyof Omit<BackupInfo, 'extra'>;
  readonly kind: Kind;
  /** Known to barman-cloud 3.4 (written by default). */
  readonly v34: boolean;
  /** Omitted from the file when null (Barman's _hide_if_null). */
  readonly hideIfNull?: boolean;
}

/** Every key Barman 3.17 knows, in file (alphabetical) order. */
export const BACKUP_INFO_FIELDS: readonly FieldSpec[] = [
  { key: 'backup_label', prop: 'backupLabel', kind: 'literal', v34: true },
  { key: 'backup_name', prop: 'backupName', kind: 'str', v34: true, hideIfNull: true },
  { key: 'begin_offset', prop: 'beginOffset', kind: 'int', v34: true },
  { key: 'begin_time', prop: 'beginTime', kind: 'datetime', v34: true },
  { key: 'begin_wal', prop: 'beginWal', kind: 'str', v34: true },
  { key: 'begin_xlog', prop: 'beginXlog', kind: 'str', v34: true },
  { key: 'children_backup_ids', prop: 'childrenBackupIds', kind: 'commaList', v34: false },
  { key: 'cluster_size', prop: 'clusterSize', kind: 'int', v34: false },
  { key: 'compression', prop: 'compression', kind: 'str', v34: true },
  { key: 'config_file', prop: 'configFile', kind: 'str', v34: true },
  { key: 'copy_stats', prop: 'copyStats', kind: 'literal', v34: true },
  { key: 'data_checksums', prop: 'dataChecksums', kind: 'str', v34: false },
  { key: 'deduplicated_size', prop: 'deduplicatedSize', kind: 'int', v34: true },
  { key: 'encryption', prop: 'encryption', kind: 'str', v34: false },
  { key: 'end_offset', prop: 'endOffset', kind: 'int', v34: true },
  { key: 'end_time', prop: 'endTime', kind: 'datetime', v34: true },
  { key: 'end_wal', prop: 'endWal', kind: 'str', v34: true },
  { key: 'end_xlog', prop: 'endXlog', kind: 'str', v34: true },
  { key: 'error', prop: 'error', kind: 'str', v34: true },
  { key: 'hba_file', prop: 'hbaFile', kind: 'str', v34: true },
  { key: 'ident_file', prop: 'identFile', kind: 'str', v34: true },
  { key: 'included_files', prop: 'includedFiles', kind: 'literal', v34: true },
  { key: 'mode', prop: 'mode', kind: 'str', v34: true },
  { key: 'parent_backup_id', prop: 'parentBackupId', kind: 'str', v34: false },
  { key: 'pgdata', prop: 'pgdata', kind: 'str', v34: true },
  { key: 'server_name', prop: 'serverName', kind: 'str', v34: true },
  { key: 'size', prop: 'size', kind: 'int', v34: true },
  { key: 'snapshots_info', prop: 'snapshotsInfo', kind: 'literal', v34: true, hideIfNull: true },
  { key: 'status', prop: 'status', kind: 'str', v34: true },
  { key: 'summarize_wal', prop: 'summarizeWal', kind: 'str', v34: false },
  { key: 'systemid', prop: 'systemid', kind: 'str', v34: true },
  { key: 'tablespaces', prop: 'tablespaces', kind: 'tablespaces', v34: true },
  { key: 'timeline', prop: 'timeline', kind: 'int', v34: true },
  { key: 'version', prop: 'version', kind: 'int', v34: true },
  { key: 'xlog_segment_size', prop: 'xlogSegmentSize', kind: 'int', v34: true },
];

const BY_KEY = new Map(BACKUP_INFO_FIELDS.map((f) => [f.key, f]));

export const DEFAULT_XLOG_SEGMENT_SIZE = 16777216;

/** A backup.info with every field at Barman's default (status EMPTY, 16 MiB segments). */
export function emptyBackupInfo(): BackupInfo {
  const info: Record<string, unknown> = {};
  for (const f of BACKUP_INFO_FIELDS) info[f.prop] = null;
  info.status = BackupStatus.EMPTY;
  info.xlogSegmentSize = DEFAULT_XLOG_SEGMENT_SIZE;
  info.extra = {};
  return info as unknown as BackupInfo;
}

/** A backup.info that cannot be read as Barman would read it (the catalog reports it "unreadable"). */
export class BackupInfoError extends OperationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_BACKUP_INFO_INVALID', message, options);
  }
}
BackupInfoError.prototype.name = 'BackupInfoError';

export interface ParsedBackupInfo {
  info: BackupInfo;
  /** One line per tolerated oddity (unknown key, …); empty for a clean file. */
  warnings: string[];
}

/** Parses a backup.info text the way FieldListFile.load does, but keeping unknown keys. */
export function parseBackupInfo(text: string): ParsedBackupInfo {
  const info = emptyBackupInfo();
  const warnings: string[] = [];
  const target = info as unknown as Record<string, unknown>;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) throw new BackupInfoError(`line ${i + 1} is not key=value: '${truncate(line)}'`);
    const key = line.slice(0, eq).trim();
    const raw = line.slice(eq + 1).trim();
    const field = BY_KEY.get(key);
    if (!field) {
      info.extra[key] = raw;
      warnings.push(`unknown field '${key}' kept but ignored`);
      continue;
    }
    if (raw === 'None') {
      target[field.prop] = null;
      continue;
    }
    try {
      target[field.prop] = loadValue(field.kind, raw);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new BackupInfoError(`invalid value for '${key}' (line ${i + 1}): ${why}`, { cause: err });
    }
  }
  if (info.status === null) info.status = BackupStatus.EMPTY;
  return { info, warnings };
}

function loadValue(kind: Kind, raw: string): unknown {
  switch (kind) {
    case 'str':
      return raw;
    case 'int': {
      // Python int(): optional sign, digits, underscores between digits.
      if (!/^[+-]?\d(?:_?\d)*$/.test(raw)) throw new Error(`'${truncate(raw)}' is not an integer`);
      return Number(raw.replace(/_/g, ''));
    }
    case 'datetime':
      return PyDateTime.parse(raw);
    case 'literal':
      return parsePythonLiteral(raw);
    case 'commaList':
      return raw.split(',');
    case 'tablespaces':
      return loadTablespaces(raw);
  }
}

function loadTablespaces(raw: string): Tablespace[] | null {
  const v = parsePythonLiteral(raw);
  if (v === null) return null;
  if (!Array.isArray(v)) throw new Error('tablespaces is not a list');
  return (v as readonly PyValue[]).map((item) => {
    const parts = item instanceof PyTuple ? item.items : Array.isArray(item) ? (item as readonly PyValue[]) : null;
    if (!parts || parts.length !== 3) throw new Error('a tablespace is not a (name, oid, location) triple');
    const [name, oid, location] = parts;
    if (typeof name !== 'string' || typeof oid !== 'number' || typeof location !== 'string') {
      throw new Error('a tablespace is not a (name, oid, location) triple');
    }
    return { name, oid, location };
  });
}

export interface SerializeOptions {
  /** Also write the keys Barman ≥3.11/3.14 added (unreadable by 3.4…3.10). Default false. */
  includeNewerKeys?: boolean;
}

/** Writes backup.info as Barman does: sorted keys, `None`, Python literals, one trailing newline. */
export function serializeBackupInfo(info: BackupInfo, options: SerializeOptions = {}): string {
  const source = info as unknown as Record<string, unknown>;
  let out = '';
  for (const field of BACKUP_INFO_FIELDS) {
    if (!field.v34 && !options.includeNewerKeys) continue;
    const text = dumpValue(field, source[field.prop]);
    if (text === null && field.hideIfNull) continue;
    out += `${field.key}=${text ?? 'None'}\n`;
  }
  return out;
}

function dumpValue(field: FieldSpec, value: unknown): string | null {
  if (value === null || value === undefined) return null;
  switch (field.kind) {
    case 'str': {
      const s = String(value);
      if (/[\r\n]/.test(s)) throw new BackupInfoError(`backup.info field '${field.key}' cannot contain a line break`);
      return s;
    }
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw new BackupInfoError(`backup.info field '${field.key}' must be an integer`);
      return String(value);
    case 'datetime':
      return (value as PyDateTime).toString();
    case 'literal':
      // null_repr(): empty containers and empty strings are written as None.
      return isFalsy(value as PyValue) ? null : formatPythonLiteral(value as PyValue);
    case 'commaList':
      return (value as string[]).length ? (value as string[]).join(',') : null;
    case 'tablespaces': {
      const list = value as Tablespace[];
      return list.length ? formatPythonLiteral(list.map((t) => new PyTuple([t.name, t.oid, t.location]))) : null;
    }
  }
}

function isFalsy(v: PyValue): boolean {
  if (v === null || v === false || v === 0 || v === '' || v === 0n) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (v instanceof PyTuple) return v.items.length === 0;
  if (v instanceof PyDict) return v.entries.length === 0;
  if (v instanceof PyFloat) return v.value === 0;
  return false;
}

function truncate(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

// ---------------------------------------------------------------------------------------------------------
// Backup ids

export const BACKUP_ID_RE = /^\d{8}T\d{6}$/;

export function isBackupId(text: string): boolean {
  return BACKUP_ID_RE.test(text);
}

/**
 * Barman's backup id `YYYYMMDDTHHMMSS` for an instant. barman-cloud uses the local time of the host taking
 * the backup; pass `offsetMinutes` (e.g. 0 for UTC) to choose the zone explicitly.
 */
export function formatBackupId(date: Date, offsetMinutes = -date.getTimezoneOffset()): string {
  const w = new Date(date.getTime() + offsetMinutes * 60_000);
  const p = (n: number, l = 2): string => String(n).padStart(l, '0');
  return `${p(w.getUTCFullYear(), 4)}${p(w.getUTCMonth() + 1)}${p(w.getUTCDate())}T${p(w.getUTCHours())}${p(w.getUTCMinutes())}${p(w.getUTCSeconds())}`;
}

/** Re-exported so callers need one import for timestamps. */
export { PyDateTime, PyDateTimeError, PythonLiteralError };
