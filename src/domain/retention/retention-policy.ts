/**
 * Retention policies as Barman writes them (barman/retention_policies.py) and as CloudNativePG writes them
 * (`retentionPolicy: "30d"`, pattern ^[1-9][0-9]*[dwm]$, turned into RECOVERY WINDOW OF 30 DAYS).
 */
import { UsageError } from '../../errors.js';

export type RetentionPolicy =
  | { readonly kind: 'redundancy'; readonly count: number }
  | { readonly kind: 'window'; readonly value: number; readonly unit: 'DAYS' | 'WEEKS' | 'MONTHS' };

const REDUNDANCY_RE = /^\s*redundancy\s+(\d+)\s*$/i;
const WINDOW_RE = /^\s*recovery\s+window\s+of\s+(\d+)\s+(day|month|week)s?\s*$/i;
const CNPG_RE = /^\s*([1-9][0-9]*)([dwm])\s*$/;

const UNITS = { d: 'DAYS', w: 'WEEKS', m: 'MONTHS' } as const;

/** Parses `REDUNDANCY n`, `RECOVERY WINDOW OF n DAYS|WEEKS|MONTHS` (case-insensitive) or `30d/4w/1m`. Exit 3 otherwise. */
export function parseRetentionPolicy(text: string): RetentionPolicy {
  let m = REDUNDANCY_RE.exec(text);
  if (m) return { kind: 'redundancy', count: Number(m[1]) };
  m = WINDOW_RE.exec(text);
  if (m) return { kind: 'window', value: Number(m[1]), unit: UNITS[m[2]!.toLowerCase()[0] as 'd' | 'w' | 'm'] };
  m = CNPG_RE.exec(text);
  if (m) return { kind: 'window', value: Number(m[1]), unit: UNITS[m[2] as 'd' | 'w' | 'm'] };
  throw new UsageError(`invalid retention policy '${text}' (expected REDUNDANCY n, RECOVERY WINDOW OF n DAYS|WEEKS|MONTHS, or 30d/4w/1m)`);
}

/** Barman's spelling, e.g. "RECOVERY WINDOW OF 30 DAYS". */
export function formatRetentionPolicy(p: RetentionPolicy): string {
  return p.kind === 'redundancy' ? `REDUNDANCY ${p.count}` : `RECOVERY WINDOW OF ${p.value} ${p.unit}`;
}

/** Length of a recovery window in milliseconds (a month is 31 days, as in Barman). */
export function windowMillis(p: Extract<RetentionPolicy, { kind: 'window' }>): number {
  const days = p.unit === 'DAYS' ? p.value : p.unit === 'WEEKS' ? p.value * 7 : p.value * 31;
  return days * 86_400_000;
}
