/**
 * The part of Barman's backup.info that restore and backup selection need (spec §2.4): version (pg_wal vs
 * pg_xlog), tablespaces, status, end time/LSN, timeline, name. Read tolerantly: unknown keys are ignored,
 * missing keys are undefined. The full model lives with the catalog (backup-info.ts); this reader keeps
 * restore independent of it.
 */
import { parseLsn, type Lsn } from '../wal/lsn.js';
import { parseBackupTime, type RecoveryTime } from './recovery-time.js';

export interface RestoreTablespace {
  name: string;
  oid: number;
  location: string;
}

export interface RestoreBackupInfo {
  backupId: string;
  status: string;
  /** server_version_num, e.g. 150018. */
  version: number | undefined;
  tablespaces: RestoreTablespace[];
  backupName: string | undefined;
  beginWal: string | undefined;
  endWal: string | undefined;
  endTime: RecoveryTime | undefined;
  endLsn: Lsn | undefined;
  timeline: number | undefined;
  systemId: string | undefined;
  /** Present only for snapshot backups, which pgstow cannot restore. */
  snapshotsInfo: string | undefined;
}

export class BackupInfoFormatError extends Error {}

export function parseRestoreBackupInfo(backupId: string, text: string): RestoreBackupInfo {
  const fields = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const value = line.slice(eq + 1).trim();
    fields.set(line.slice(0, eq).trim(), value);
  }
  const get = (k: string): string | undefined => {
    const v = fields.get(k);
    return v === undefined || v === 'None' ? undefined : v;
  };
  const int = (k: string): number | undefined => {
    const v = get(k);
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v)) throw new BackupInfoFormatError(`${k} is not an integer: ${v}`);
    return Number(v);
  };
  let endTime: RecoveryTime | undefined;
  const et = get('end_time');
  if (et !== undefined) {
    try { endTime = parseBackupTime(et); } catch { throw new BackupInfoFormatError(`end_time is not a timestamp: ${et}`); }
  }
  let endLsn: Lsn | undefined;
  const ex = get('end_xlog');
  if (ex !== undefined) {
    try { endLsn = parseLsn(ex); } catch { throw new BackupInfoFormatError(`end_xlog is not an LSN: ${ex}`); }
  }
  const ts = get('tablespaces');
  return {
    backupId,
    status: get('status') ?? 'EMPTY',
    version: int('version'),
    tablespaces: ts === undefined ? [] : parseTablespaces(ts),
    backupName: get('backup_name'),
    beginWal: get('begin_wal'),
    endWal: get('end_wal'),
    endTime,
    endLsn,
    timeline: int('timeline'),
    systemId: get('systemid'),
    snapshotsInfo: get('snapshots_info'),
  };
}

/** `[('ts1', 16384, '/srv/ts1'), …]` (tuples or lists; Python string literals). */
export function parseTablespaces(text: string): RestoreTablespace[] {
  const p = new PyLiteralParser(text);
  const value = p.parseValue();
  p.end();
  if (!Array.isArray(value)) throw new BackupInfoFormatError(`tablespaces is not a list: ${text}`);
  return value.map((item) => {
    if (!Array.isArray(item) || item.length !== 3 || typeof item[0] !== 'string' || typeof item[1] !== 'number' || typeof item[2] !== 'string') {
      throw new BackupInfoFormatError(`tablespaces entry is not (name, oid, location): ${text}`);
    }
    return { name: item[0], oid: item[1], location: item[2] };
  });
}

type PyValue = string | number | null | boolean | PyValue[];

/** Just enough of Python's literal syntax for lists/tuples of str/int (ast.literal_eval subset). */
class PyLiteralParser {
  private i = 0;
  constructor(private readonly s: string) {}

  end(): void {
    this.ws();
    if (this.i !== this.s.length) this.fail('trailing characters');
  }

  parseValue(): PyValue {
    this.ws();
    const c = this.s[this.i];
    if (c === '[' || c === '(') return this.parseSeq(c === '[' ? ']' : ')');
    if (c === "'" || c === '"') return this.parseString(c);
    const m = /^-?\d+/.exec(this.s.slice(this.i));
    if (m) { this.i += m[0].length; return Number(m[0]); }
    for (const [word, v] of [['None', null], ['True', true], ['False', false]] as const) {
      if (this.s.startsWith(word, this.i)) { this.i += word.length; return v; }
    }
    return this.fail('unexpected character');
  }

  private parseSeq(close: string): PyValue[] {
    this.i++;
    const out: PyValue[] = [];
    for (;;) {
      this.ws();
      if (this.s[this.i] === close) { this.i++; return out; }
      out.push(this.parseValue());
      this.ws();
      if (this.s[this.i] === ',') { this.i++; continue; }
      if (this.s[this.i] === close) { this.i++; return out; }
      this.fail(`expected , or ${close}`);
    }
  }

  private parseString(quote: string): string {
    this.i++;
    let out = '';
    while (this.i < this.s.length) {
      const c = this.s[this.i++] as string;
      if (c === quote) return out;
      if (c !== '\\') { out += c; continue; }
      const e = this.s[this.i++];
      switch (e) {
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case '\\': out += '\\'; break;
        case "'": out += "'"; break;
        case '"': out += '"'; break;
        case 'x': out += String.fromCharCode(parseInt(this.s.slice(this.i, this.i + 2), 16)); this.i += 2; break;
        case 'u': out += String.fromCharCode(parseInt(this.s.slice(this.i, this.i + 4), 16)); this.i += 4; break;
        case 'U': out += String.fromCodePoint(parseInt(this.s.slice(this.i, this.i + 8), 16)); this.i += 8; break;
        default: out += `\\${e ?? ''}`;
      }
    }
    return this.fail('unterminated string');
  }

  private ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i] as string)) this.i++;
  }

  private fail(why: string): never {
    throw new BackupInfoFormatError(`cannot parse Python literal at offset ${this.i} (${why}): ${this.s}`);
  }
}
