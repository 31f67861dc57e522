/**
 * A timestamp as backup.info stores it: Python `str(datetime)` = `YYYY-MM-DD HH:MM:SS[.ffffff]±HH:MM`.
 * Keeps the wall-clock fields, microseconds and the UTC offset so a rewrite is byte-identical (a JS Date
 * would lose both the microseconds and the offset). A value without offset ("naive") is read in the local
 * time zone, as Barman's loader does.
 */

export class PyDateTimeError extends Error {}
PyDateTimeError.prototype.name = 'PyDateTimeError';

const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

// dateutil is lenient; we accept what Python and PostgreSQL print: date, then ' ' or 'T', time with optional
// fraction, optional 'Z' / ±HH / ±HHMM / ±HH:MM[:SS].
const RE = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|UTC|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)?$/i;

export class PyDateTime {
  private constructor(
    readonly year: number,
    readonly month: number,
    readonly day: number,
    readonly hour: number,
    readonly minute: number,
    readonly second: number,
    readonly microsecond: number,
    /** Offset east of UTC in seconds; null for a naive value. */
    readonly offsetSeconds: number | null,
  ) {}

  static parse(text: string): PyDateTime {
    const m = RE.exec(text.trim());
    if (!m) throw new PyDateTimeError(`invalid timestamp '${text}'`);
    const [, y, mo, d, h = '0', mi = '0', s = '0', frac, tz] = m;
    const micro = frac ? Number(frac.padEnd(6, '0').slice(0, 6)) : 0;
    let offset: number | null = null;
    if (tz) {
      if (/^(z|utc)$/i.test(tz)) offset = 0;
      else {
        const digits = tz.slice(1).replace(/:/g, '');
        const secs = Number(digits.slice(0, 2)) * 3600 + Number(digits.slice(2, 4) || '0') * 60 + Number(digits.slice(4, 6) || '0');
        offset = tz.startsWith('-') ? -secs : secs;
      }
    }
    const v = new PyDateTime(Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s), micro, offset);
    const check = new Date(Date.UTC(v.year, v.month - 1, v.day, v.hour, v.minute, v.second));
    if (check.getUTCMonth() !== v.month - 1 || check.getUTCDate() !== v.day || v.hour > 23 || v.minute > 59 || v.second > 59) {
      throw new PyDateTimeError(`invalid timestamp '${text}'`);
    }
    return v;
  }

  /** The instant `date` shown at UTC offset `offsetMinutes` (default: the local zone at that instant). */
  static fromDate(date: Date, offsetMinutes = -date.getTimezoneOffset(), microsecond = date.getUTCMilliseconds() * 1000): PyDateTime {
    const wall = new Date(date.getTime() + offsetMinutes * 60_000);
    return new PyDateTime(wall.getUTCFullYear(), wall.getUTCMonth() + 1, wall.getUTCDate(), wall.getUTCHours(), wall.getUTCMinutes(), wall.getUTCSeconds(), microsecond, offsetMinutes * 60);
  }

  /** Offset in seconds actually applied (the local zone's for a naive value). */
  get utcOffsetSeconds(): number {
    if (this.offsetSeconds !== null) return this.offsetSeconds;
    return -new Date(this.year, this.month - 1, this.day, this.hour, this.minute, this.second).getTimezoneOffset() * 60;
  }

  /** Microseconds since the epoch. */
  get epochMicros(): number {
    const wallMs = Date.UTC(this.year, this.month - 1, this.day, this.hour, this.minute, this.second);
    return (wallMs - this.utcOffsetSeconds * 1000) * 1000 + this.microsecond;
  }

  toDate(): Date {
    return new Date(Math.floor(this.epochMicros / 1000));
  }

  compare(other: PyDateTime): number {
    return this.epochMicros - other.epochMicros;
  }

  /** Python `str(datetime)`. */
  toString(): string {
    return `${this.datePart()} ${this.timePart()}${this.offsetPart()}`;
  }

  /** Python `datetime.isoformat()`. */
  isoformat(): string {
    return `${this.datePart()}T${this.timePart()}${this.offsetPart()}`;
  }

  /** `strftime("%Y-%m-%d %H:%M:%S")`, as backup-list prints the end time. */
  formatSeconds(): string {
    return `${this.datePart()} ${p2(this.hour)}:${p2(this.minute)}:${p2(this.second)}`;
  }

  /** Python `datetime.ctime()`, e.g. "Wed Nov 25 13:02:15 2026" (wall clock at the stored offset). */
  ctime(): string {
    const dow = (new Date(Date.UTC(this.year, this.month - 1, this.day)).getUTCDay() + 6) % 7;
    return `${DAYS[dow]} ${MONTHS[this.month - 1]} ${String(this.day).padStart(2, ' ')} ${p2(this.hour)}:${p2(this.minute)}:${p2(this.second)} ${this.year}`;
  }

  private datePart(): string {
    return `${String(this.year).padStart(4, '0')}-${p2(this.month)}-${p2(this.day)}`;
  }

  private timePart(): string {
    const base = `${p2(this.hour)}:${p2(this.minute)}:${p2(this.second)}`;
    return this.microsecond ? `${base}.${String(this.microsecond).padStart(6, '0')}` : base;
  }

  private offsetPart(): string {
    if (this.offsetSeconds === null) return '';
    const abs = Math.abs(this.offsetSeconds);
    const sign = this.offsetSeconds < 0 ? '-' : '+';
    const secs = abs % 60;
    return `${sign}${p2(Math.floor(abs / 3600))}:${p2(Math.floor(abs / 60) % 60)}${secs ? `:${p2(secs)}` : ''}`;
  }
}

function p2(n: number): string {
  return String(n).padStart(2, '0');
}
