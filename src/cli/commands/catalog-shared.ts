/** Pieces shared by the catalog commands (backup-list/show/delete/keep, check-wal-archive). */
import type { PositionalSpec } from '../../config/argv.js';
import type { ParsedArgs } from '../../config/argv.js';
import type { CommandName } from '../../config/options.js';
import type { CommandContext } from '../command.js';
import { openCommandEngine, type CommandEngine } from '../command-engine.js';
import type { WalArchiveReport } from '../../engine/index.js';
import { UsageError } from '../../errors.js';

export const SOURCE_POSITIONALS: readonly PositionalSpec[] = [
  { name: 'sourceUrl', help: 'URL of the cloud source, such as a bucket in AWS S3. For example: s3://bucket/path/to/folder' },
  { name: 'serverName', help: 'the name of the server as configured in Barman' },
];

export const DESTINATION_POSITIONALS: readonly PositionalSpec[] = [
  { name: 'destinationUrl', help: 'URL of the cloud destination, such as a bucket in AWS S3. For example: s3://bucket/path/to/folder' },
  { name: 'serverName', help: 'the name of the server as configured in Barman' },
];

/**
 * Barman's drop-ins print JSON for any --format but console; pgstow's own commands accept console and json only
 * (`--format xml` printing JSON would be a silent surprise).
 */
export function isJson(args: ParsedArgs, barmanMode = true): boolean {
  const f = args.options.format as string | undefined;
  if (!barmanMode && f !== undefined && f !== 'console' && f !== 'json') {
    throw new UsageError(`argument --format: invalid choice: '${f}' (choose from 'console', 'json')`);
  }
  return f !== undefined && f !== 'console';
}

/** Opens the engine, runs `fn`, always closes. With -t/--test only checks that the store answers a listing. */
export async function withEngine(command: CommandName, args: ParsedArgs, ctx: CommandContext, fn: (c: CommandEngine) => Promise<number | void>,
  options: { missingBucketPassesTest?: boolean } = {}): Promise<number | void> {
  const c = await openCommandEngine(command, args, ctx);
  try {
    if (args.options.test) {
      // check-wal-archive -t only tests connectivity (every Barman version): a missing bucket passes.
      await c.engine.checkConnectivity({ scope: 'server', signal: ctx.signal, ...(options.missingBucketPassesTest ? { missingBucketOk: true } : {}) });
      return 0;
    }
    return await fn(c);
  } finally {
    await c.close();
  }
}

export function write(ctx: CommandContext, text: string): void {
  ctx.stdout.write(text);
}

/** Python-like left padding by code points for pgstow tables. */
export function pad(s: string, n: number): string {
  const len = [...s].length;
  return len >= n ? s : s + ' '.repeat(n - len);
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** The WAL part of `pgstow backup list|show`: size, continuity per timeline, incomplete backups, the window. */
export function walReportLines(w: WalArchiveReport): string[] {
  const size = w.segmentSize === null ? 'unknown (no backup.info records it, no uncompressed segment to measure)'
    : `${formatBytes(w.segmentSize)}${w.segmentSizeSource === 'wal object' ? ' (from a segment object\'s size)' : ''}`;
  const lines = [`WAL archive: ${w.walObjects} object(s), ${formatBytes(w.walBytes)}, segment size ${size}`];
  for (const t of w.timelines) {
    let cont = t.gapCount === 0 ? 'continuous' : `${t.gapCount} gap(s), ${t.missingSegments} missing segment(s)${t.gaps[0] ? `, first ${t.gaps[0].from}..${t.gaps[0].to}` : ''}`;
    if (t.uncheckedLogSwitches) cont += ` (${t.uncheckedLogSwitches} log switch(es) not checked: segment size unknown)`;
    lines.push(`  timeline ${t.timeline}: ${t.segments} segment(s) ${t.firstSegment ?? '-'} .. ${t.lastSegment ?? '-'}, ${cont}${t.partials ? `, ${t.partials} partial` : ''}${t.hasHistory ? ', history file' : ''}`);
  }
  const missing = w.backups.filter((b) => !b.walComplete).map((b) => b.id);
  if (missing.length) lines.push(`  WARNING: WAL between begin and end is missing for backup(s) ${missing.join(', ')}: they cannot be restored`);
  lines.push(w.firstRecoverable
    ? `Recoverability window: from ${w.firstRecoverable.time} (end of backup ${w.firstRecoverable.backupId}) to ${w.lastArchived ? `WAL ${w.lastArchived.wal} on timeline ${w.lastArchived.timeline}${w.lastArchived.time ? ` (archived ${w.lastArchived.time})` : ''}` : 'the end of that backup'}`
    : 'Recoverability window: none (no DONE backup with all of its WAL archived)');
  return lines;
}
