/**
 * Point-in-time recovery targets and the PostgreSQL settings that express them. Pure: the restore service
 * decides where the settings go (postgresql.auto.conf + recovery.signal on PostgreSQL ≥ 12).
 */
import { UsageError } from '../../errors.js';
import { formatLsn, parseLsn, type Lsn } from '../wal/lsn.js';
import { parseRecoveryTime, type RecoveryTime } from './recovery-time.js';

export type RecoveryTarget =
  | { kind: 'time'; time: RecoveryTime }
  | { kind: 'lsn'; lsn: Lsn }
  | { kind: 'xid'; xid: string }
  | { kind: 'name'; name: string }
  | { kind: 'immediate' }
  /** No target: replay every WAL in the archive (PostgreSQL's default). */
  | { kind: 'latest' };

export type RecoveryTimeline = 'latest' | 'current' | number;
export type RecoveryTargetAction = 'promote' | 'pause' | 'shutdown';

export interface RecoveryPlan {
  target: RecoveryTarget;
  timeline?: RecoveryTimeline;
  /** What PostgreSQL does when the target is reached (default promote: the user only starts the server). */
  action: RecoveryTargetAction;
  /** recovery_target_inclusive (default true, as PostgreSQL). */
  inclusive: boolean;
}

export interface RecoveryTargetInput {
  time?: string;
  lsn?: string;
  xid?: string;
  name?: string;
  immediate?: boolean;
  /** Replay to the end of the archive (explicit form of "no target"). */
  latest?: boolean;
  timeline?: string;
  action?: string;
  exclusive?: boolean;
}

/** Builds a plan from the --recovery-target-* options; undefined when none was given. */
export function parseRecoveryPlan(input: RecoveryTargetInput): RecoveryPlan | undefined {
  const given = (['time', 'lsn', 'xid', 'name', 'immediate', 'latest'] as const).filter((k) => input[k] !== undefined && input[k] !== false);
  if (given.length > 1) {
    throw new UsageError(`only one recovery target can be given, got ${given.map((g) => `--recovery-target-${g}`).join(' and ')}`);
  }
  const hasExtras = input.timeline !== undefined || input.action !== undefined || input.exclusive;
  if (given.length === 0 && !hasExtras) return undefined;
  let target: RecoveryTarget;
  switch (given[0]) {
    case 'time': target = { kind: 'time', time: parseRecoveryTime(input.time as string) }; break;
    case 'lsn': target = { kind: 'lsn', lsn: parseLsn(input.lsn as string) }; break;
    case 'xid': {
      const xid = (input.xid as string).trim();
      if (!/^\d+$/.test(xid) || BigInt(xid) > 0xffffffffffffffffn) throw new UsageError(`invalid recovery target xid "${input.xid}" (expected a transaction id number)`);
      target = { kind: 'xid', xid };
      break;
    }
    case 'name': {
      const name = input.name as string;
      if (name.length === 0 || Buffer.byteLength(name) >= 64 || [...name].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) {
        throw new UsageError(`invalid recovery target name "${name}" (1 to 63 bytes, no control characters)`);
      }
      target = { kind: 'name', name };
      break;
    }
    case 'immediate': target = { kind: 'immediate' }; break;
    default: target = { kind: 'latest' };
  }
  const plan: RecoveryPlan = { target, action: parseAction(input.action), inclusive: !input.exclusive };
  if (input.timeline !== undefined) plan.timeline = parseTimeline(input.timeline);
  if (input.exclusive && !(target.kind === 'time' || target.kind === 'lsn' || target.kind === 'xid')) {
    throw new UsageError('--recovery-target-exclusive applies only to a time, LSN or xid target');
  }
  return plan;
}

export function parseTimeline(text: string): RecoveryTimeline {
  const t = text.trim().toLowerCase();
  if (t === 'latest' || t === 'current') return t;
  if (/^\d+$/.test(t) && Number(t) >= 1 && Number(t) <= 0xffffffff) return Number(t);
  throw new UsageError(`invalid recovery target timeline "${text}" (expected latest, current or a positive number)`);
}

function parseAction(text: string | undefined): RecoveryTargetAction {
  if (text === undefined) return 'promote';
  if (text === 'promote' || text === 'pause' || text === 'shutdown') return text;
  throw new UsageError(`invalid recovery target action "${text}" (expected promote, pause or shutdown)`);
}

/** A PostgreSQL configuration string literal. */
export function quoteSetting(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** The settings (name → already-quoted value) for postgresql.auto.conf, in a stable order. */
export function recoverySettings(plan: RecoveryPlan, restoreCommand: string): Array<[string, string]> {
  const out: Array<[string, string]> = [['restore_command', quoteSetting(restoreCommand)]];
  const t = plan.target;
  switch (t.kind) {
    case 'time': out.push(['recovery_target_time', quoteSetting(t.time.text)]); break;
    case 'lsn': out.push(['recovery_target_lsn', quoteSetting(formatLsn(t.lsn))]); break;
    case 'xid': out.push(['recovery_target_xid', quoteSetting(t.xid)]); break;
    case 'name': out.push(['recovery_target_name', quoteSetting(t.name)]); break;
    case 'immediate': out.push(['recovery_target', quoteSetting('immediate')]); break;
    case 'latest': break;
  }
  if (t.kind === 'time' || t.kind === 'lsn' || t.kind === 'xid') out.push(['recovery_target_inclusive', plan.inclusive ? 'on' : 'off']);
  if (plan.timeline !== undefined) out.push(['recovery_target_timeline', quoteSetting(String(plan.timeline))]);
  // recovery_target_action is ignored without a target; write it only where it means something.
  if (t.kind !== 'latest') out.push(['recovery_target_action', quoteSetting(plan.action)]);
  return out;
}

/** One line for messages: "time 2026-11-25 10:27:49.000000+00:00", "restore point 'before-upgrade'"… */
export function describeTarget(t: RecoveryTarget): string {
  switch (t.kind) {
    case 'time': return `time ${t.time.text}`;
    case 'lsn': return `LSN ${formatLsn(t.lsn)}`;
    case 'xid': return `transaction ${t.xid}`;
    case 'name': return `restore point '${t.name}'`;
    case 'immediate': return 'the end of the backup (consistency)';
    case 'latest': return 'the end of the WAL archive';
  }
}
