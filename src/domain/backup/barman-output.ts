/**
 * Barman's own renderings of the catalog, byte for byte, because CloudNativePG parses the JSON and scripts
 * parse the console text: Python `json.dumps` (", "/": " separators, ASCII-only escapes, float repr),
 * `BackupInfo.to_json()`, the backup-list table and `render_show_backup` (barman/output.py).
 */
import type { BackupInfo } from './backup-info.js';
import { PyDict, PyFloat, PyTuple, formatPythonLiteral, pyNumber, pythonFloatRepr, type PyValue } from './python-literal.js';

/** A JSON object that keeps its key order. */
export class JsonObject {
  constructor(readonly entries: Array<[string, JsonValue]> = []) {}
  set(key: string, value: JsonValue): this {
    const existing = this.entries.find(([k]) => k === key);
    if (existing) existing[1] = value;
    else this.entries.push([key, value]);
    return this;
  }
}

export type JsonValue = null | boolean | number | bigint | string | PyFloat | JsonObject | readonly JsonValue[];

/** Python `json.dumps(value)` with default arguments. */
export function pythonJsonDumps(value: JsonValue): string {
  if (value === null) return 'null';
  if (value === true) return 'true';
  if (value === false) return 'false';
  if (typeof value === 'string') return jsonString(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : floatJson(value);
  if (value instanceof PyFloat) return floatJson(value.value);
  if (value instanceof JsonObject) return `{${value.entries.map(([k, v]) => `${jsonString(k)}: ${pythonJsonDumps(v)}`).join(', ')}}`;
  return `[${value.map(pythonJsonDumps).join(', ')}]`;
}

function floatJson(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  return pythonFloatRepr(x);
}

const SHORT_ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

/** json.dumps string with ensure_ascii=True: everything outside ' '..'~' is escaped as \uXXXX (UTF-16 units). */
function jsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    const code = s.charCodeAt(i);
    const short = SHORT_ESCAPES[ch];
    if (short) out += short;
    else if (code >= 0x20 && code <= 0x7e) out += ch;
    else out += '\\u' + code.toString(16).padStart(4, '0');
  }
  return out + '"';
}

/** A Python literal value as json.dumps renders it (tuples become lists, dict keys strings). */
export function pyToJson(v: PyValue): JsonValue {
  if (v instanceof PyTuple) return v.items.map(pyToJson);
  if (v instanceof PyDict) return new JsonObject(v.entries.map(([k, val]) => [pyKeyToJson(k), pyToJson(val)]));
  if (Array.isArray(v)) return (v as readonly PyValue[]).map(pyToJson);
  return v as JsonValue;
}

function pyKeyToJson(k: PyValue): string {
  if (typeof k === 'string') return k;
  if (k === null) return 'null';
  if (k === true) return 'true';
  if (k === false) return 'false';
  if (k instanceof PyFloat) return pythonFloatRepr(k.value);
  return String(k);
}

export interface ToJsonOptions {
  /**
   * Print as Barman ≥3.13 (3.19: plugin-barman-cloud's) does: every field it knows, the ≥3.11 ones as null when
   * the file lacks them, then begin_time_iso/end_time_iso (CloudNativePG prefers them: they keep the offset).
   * Without it, as 3.4: its fields, plus the ≥3.11 fields the file actually carries.
   */
  isoTimes?: boolean;
}

/**
 * Barman's `BackupInfo.to_json()`: every field in sorted order (see ToJsonOptions), then backup_id, then the
 * ISO times. backup_label stays a Python literal string.
 */
export function backupInfoToJson(id: string, info: BackupInfo, options: ToJsonOptions = {}): JsonObject {
  const o = new JsonObject();
  const str = (v: string | null): JsonValue => v;
  const put = (k: string, v: JsonValue): void => { o.set(k, v); };
  const newer = (k: string, v: JsonValue): void => { if (v !== null || options.isoTimes) o.set(k, v); };
  put('backup_label', info.backupLabel === null || info.backupLabel === '' ? null : formatPythonLiteral(info.backupLabel));
  if (info.backupName !== null) put('backup_name', info.backupName);
  put('begin_offset', info.beginOffset);
  put('begin_time', info.beginTime ? info.beginTime.ctime() : null);
  put('begin_wal', str(info.beginWal));
  put('begin_xlog', str(info.beginXlog));
  newer('children_backup_ids', info.childrenBackupIds === null ? null : info.childrenBackupIds.join(','));
  newer('cluster_size', info.clusterSize);
  put('compression', str(info.compression));
  put('config_file', str(info.configFile));
  put('copy_stats', info.copyStats === null ? null : pyToJson(info.copyStats));
  newer('data_checksums', info.dataChecksums);
  put('deduplicated_size', info.deduplicatedSize);
  newer('encryption', info.encryption);
  put('end_offset', info.endOffset);
  put('end_time', info.endTime ? info.endTime.ctime() : null);
  put('end_wal', str(info.endWal));
  put('end_xlog', str(info.endXlog));
  put('error', str(info.error));
  put('hba_file', str(info.hbaFile));
  put('ident_file', str(info.identFile));
  put('included_files', info.includedFiles === null ? null : pyToJson(info.includedFiles));
  put('mode', str(info.mode));
  newer('parent_backup_id', info.parentBackupId);
  put('pgdata', str(info.pgdata));
  put('server_name', str(info.serverName));
  put('size', info.size);
  if (info.snapshotsInfo !== null) put('snapshots_info', pyToJson(info.snapshotsInfo));
  put('status', info.status);
  newer('summarize_wal', info.summarizeWal);
  put('systemid', str(info.systemid));
  put('tablespaces', info.tablespaces === null ? null : info.tablespaces.map((t) => [t.name, t.oid, t.location]));
  put('timeline', info.timeline);
  put('version', info.version);
  put('xlog_segment_size', info.xlogSegmentSize);
  put('backup_id', id);
  if (options.isoTimes) {
    put('begin_time_iso', info.beginTime ? info.beginTime.isoformat() : null);
    put('end_time_iso', info.endTime ? info.endTime.isoformat() : null);
  }
  return o;
}

// -----------------------------------------------------------------------------------------------------------
// Console renderings

/** Python str.format "{:<N}": pad to N, never truncate. */
function left(s: string, n: number): string {
  const len = [...s].length;
  return len >= n ? s : s + ' '.repeat(n - len);
}

export interface ListRow {
  readonly id: string;
  readonly info: BackupInfo;
  readonly keep: string | null;
}

/** barman-cloud-backup-list console output (only DONE backups), trailing newline included. */
export function renderBackupListConsole(rows: readonly ListRow[]): string {
  const line = (a: string, b: string, c: string, d: string, e: string): string => `${left(a, 20)}${left(b, 25)}${left(c, 30)}${left(d, 17)}${left(e, 20)}\n`;
  let out = line('Backup ID', 'End Time', 'Begin Wal', 'Archival Status', 'Name');
  for (const r of rows) {
    if (r.info.status !== 'DONE') continue;
    out += line(r.id, r.info.endTime ? r.info.endTime.formatSeconds() : 'None', r.info.beginWal ?? 'None', r.keep ? `KEEP:${r.keep.toUpperCase()}` : '', r.info.backupName ?? '');
  }
  return out;
}

/** Barman's pretty_size (binary units): "512 B", "22.1 MiB". */
export function prettySize(size: number): string {
  const suffixes = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];
  let v = size;
  for (const [i, suffix] of suffixes.entries()) {
    // "%.1f": toFixed(1) differs from C's printf only on exact binary ties (x.x5 exactly), never for sizes in bytes.
    if (Math.abs(v) < 1024 || i === suffixes.length - 1) return i === 0 ? `${Math.trunc(v)} ${suffix}` : `${v.toFixed(1)} ${suffix}`;
    v /= 1024;
  }
  return `${size} B`;
}

function pyStr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  return String(v);
}

/** Barman's human_readable_timedelta for a positive number of seconds. */
export function humanReadableSeconds(seconds: number): string {
  const total = Math.floor(Math.abs(seconds));
  const days = Math.floor(total / 86400);
  const rest = total % 86400;
  const parts: string[] = [];
  const unit = (n: number, name: string): void => { if (n > 0) parts.push(`${n} ${name}${n === 1 ? '' : 's'}`); };
  unit(days, 'day');
  unit(Math.floor(rest / 3600), 'hour');
  unit(Math.floor(rest / 60) % 60, 'minute');
  unit(rest % 60, 'second');
  return Math.abs(seconds) < 1 ? 'less than one second' : parts.join(', ');
}

/** barman-cloud-backup-show console output (render_show_backup of Barman 3.4), trailing newline included. */
export function renderBackupShowConsole(id: string, info: BackupInfo): string {
  const lines: string[] = [];
  const row = (k: string, v: unknown): void => { lines.push(`  ${left(k, 23)}: ${pyStr(v)}`); };
  const nested = (k: string, v: unknown): void => { lines.push(`    ${left(k, 21)}: ${pyStr(v)}`); };
  const header = (k: string): void => { lines.push(`  ${k}:`); };
  lines.push(`Backup ${id}:`);
  if (info.backupName !== null) row('Backup Name', info.backupName);
  row('Server Name', info.serverName);
  if (info.systemid) row('System Id', info.systemid);
  row('Status', info.status);
  const copyDone = info.status === 'DONE' || info.status === 'WAITING_FOR_WALS';
  if (!copyDone) {
    if (info.error) row('Error', info.error);
    return lines.join('\n') + '\n';
  }
  row('PostgreSQL Version', info.version);
  row('PGDATA directory', info.pgdata);
  // [≥3.11] fields (only Barman ≥3.11 writes them; 3.4 cannot read such a file at all).
  if (info.clusterSize) row('Estimated Cluster Size', prettySize(info.clusterSize));
  lines.push('');
  if (info.dataChecksums || info.summarizeWal) {
    header('Server information');
    if (info.dataChecksums) nested('Checksums', info.dataChecksums);
    if (info.summarizeWal) nested('WAL summarizer', info.summarizeWal);
    lines.push('');
  }
  if (info.snapshotsInfo instanceof PyDict) {
    header('Snapshot information');
    const si = info.snapshotsInfo;
    for (const [k, v] of si.entries) if (k !== 'snapshots' && k !== 'provider_info') nested(String(k), formatPyForConsole(v));
    const pi = si.get('provider_info');
    if (pi instanceof PyDict) for (const [k, v] of pi.entries) nested(String(k), formatPyForConsole(v));
    lines.push('');
    const snaps = si.get('snapshots');
    if (Array.isArray(snaps)) {
      for (const snap of snaps as readonly PyValue[]) {
        if (!(snap instanceof PyDict)) continue;
        const prov = snap.get('provider');
        if (prov instanceof PyDict) for (const [k, v] of [...prov.entries].sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1))) nested(String(k), formatPyForConsole(v));
        const mount = snap.get('mount');
        if (mount instanceof PyDict) {
          nested('Mount point', formatPyForConsole(mount.get('mount_point') ?? null));
          nested('Mount options', formatPyForConsole(mount.get('mount_options') ?? null));
        }
        lines.push('');
      }
    }
  }
  if (info.tablespaces && info.tablespaces.length) {
    header('Tablespaces');
    for (const t of info.tablespaces) nested(t.name, `${t.location} (oid: ${t.oid})`);
    lines.push('');
  }
  header('Base backup information');
  nested('Timeline', info.timeline);
  nested('Begin WAL', info.beginWal);
  nested('End WAL', info.endWal);
  nested('Begin time', info.beginTime?.toString() ?? null);
  nested('End time', info.endTime?.toString() ?? null);
  if (info.copyStats instanceof PyDict) {
    const copyTime = pyNumber(info.copyStats.get('copy_time'));
    if (copyTime) {
      let value = humanReadableSeconds(copyTime);
      const analysis = pyNumber(info.copyStats.get('analysis_time'));
      if (analysis !== undefined && analysis >= 1) value += ` + ${humanReadableSeconds(analysis)} startup`;
      nested('Copy time', value);
    }
  }
  nested('Begin Offset', info.beginOffset);
  nested('End Offset', info.endOffset);
  nested('Begin LSN', info.beginXlog);
  nested('End LSN', info.endXlog);
  lines.push('');
  return lines.join('\n') + '\n';
}

function formatPyForConsole(v: PyValue): string {
  if (typeof v === 'string') return v;
  if (v === null) return 'None';
  return formatPythonLiteral(v);
}

/** Python `repr(list_of_str)`, as the --dry-run lines print the keys. */
export function pythonListRepr(items: readonly string[]): string {
  return formatPythonLiteral(items);
}
