/**
 * Recovery target times. PostgreSQL parses recovery_target_time in the server's TimeZone when no zone is
 * given, and RFC 3339's "Z" is not something every version accepts (CloudNativePG bugs #2701, #10819), so
 * pgstow always writes `YYYY-MM-DD HH:MM:SS.ffffff±HH:MM`: the offset the user wrote, "Z" → +00:00, and
 * no zone → UTC (as CloudNativePG treats it). Pure: no I/O, no local time zone.
 */
import { UsageError } from '../../errors.js';

export interface RecoveryTime {
  /** The instant, in microseconds since the epoch (a Date has only milliseconds). */
  readonly epochMicros: bigint;
  /** Offset from UTC in minutes, as the user wrote it (0 for Z or no zone). */
  readonly offsetMinutes: number;
  /** `YYYY-MM-DD HH:MM:SS.ffffff±HH:MM`. */
  readonly text: string;
}

const TIME_RE = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Parses a user-given target time; throws UsageError naming the accepted forms. */
export function parseRecoveryTime(input: string): RecoveryTime {
  const m = TIME_RE.exec(input.trim());
  if (!m) {
    throw new UsageError(`invalid recovery target time "${input}" (expected e.g. 2026-11-25 10:27:49, 2026-11-25T10:27:49.5Z or 2026-11-25 11:27:49+01:00)`);
  }
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as [number, number, number, number, number];
  const second = Number(m[6] ?? '0');
  const fraction = (m[7] ?? '').padEnd(6, '0').slice(0, 6);
  const zone = m[8];
  let offsetMinutes = 0;
  if (zone && /^[+-]/.test(zone)) {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
    if (!z) throw new UsageError(`invalid time zone offset "${zone}" in "${input}"`);
    const hours = Number(z[2]);
    const mins = Number(z[3] ?? '0');
    if (hours > 15 || mins > 59) throw new UsageError(`invalid time zone offset "${zone}" in "${input}"`);
    offsetMinutes = (z[1] === '-' ? -1 : 1) * (hours * 60 + mins);
  }
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) {
    throw new UsageError(`invalid recovery target time "${input}": no such date or time`);
  }
  const utcMillis = Date.UTC(year, month - 1, day, hour, minute, second) - offsetMinutes * 60_000;
  const epochMicros = BigInt(utcMillis) * 1000n + BigInt(Number(fraction));
  const text = `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)} ${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}.${fraction}${formatOffset(offsetMinutes)}`;
  return { epochMicros, offsetMinutes, text };
}

/** Parses a backup.info timestamp (`2026-11-25 10:27:49.658618+00:00`, fraction optional). */
export function parseBackupTime(text: string): RecoveryTime {
  return parseRecoveryTime(text);
}

export function formatOffset(offsetMinutes: number): string {
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${sign}${pad(Math.floor(abs / 60), 2)}:${pad(abs % 60, 2)}`;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}
