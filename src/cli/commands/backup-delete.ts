import { UsageError } from '../../errors.js';
import type { Command } from '../command.js';
import { COMMON_OPTIONS, EXIT_CODES_EPILOG } from '../common-options.js';
import { parseRetentionPolicy } from '../../domain/retention/retention-policy.js';
import { deleteBackups, type DeleteResult, type DeleteSelection } from '../../services/delete-backups.js';
import { FORMAT_OPTION, SOURCE_POSITIONALS, formatBytes, isJson, pad, withStore, write } from './catalog-shared.js';

export const command: Command = {
  spec: (name) => ({
    name,
    summary: 'Delete backups made with barman-cloud-backup or pgstow, by id/name or by retention policy, with the WAL files only they need.',
    positionals: SOURCE_POSITIONALS,
    options: [
      ...COMMON_OPTIONS,
      { dest: 'backupId', flags: ['-b', '--backup-id'], type: 'string', metavar: 'BACKUP_ID', help: 'Backup ID (or name, or shortcut) of the backup to be deleted', exclusiveGroup: 'what' },
      { dest: 'retentionPolicy', flags: ['-r', '--retention-policy'], type: 'string', metavar: 'RETENTION_POLICY',
        help: 'delete all backups eligible for deletion according to the policy. Syntax: REDUNDANCY value | RECOVERY WINDOW OF value {DAYS | WEEKS | MONTHS} | 30d/4w/1m', exclusiveGroup: 'what' },
      { dest: 'minimumRedundancy', flags: ['-m', '--minimum-redundancy'], type: 'int', metavar: 'MINIMUM_REDUNDANCY', help: 'The minimum number of backups that should always be available.' },
      { dest: 'dryRun', flags: ['--dry-run'], type: 'flag', help: 'Find the objects which need to be deleted but do not delete them' },
      { dest: 'batchSize', flags: ['--batch-size'], type: 'int', metavar: 'DELETE_BATCH_SIZE', help: 'The maximum number of objects to be deleted in a single request to the cloud provider' },
      { dest: 'checkObjectLock', flags: ['--check-object-lock'], type: 'flag', help: 'accepted for compatibility; pgstow reports a locked object as a failed delete' },
      { dest: 'orphanAge', flags: ['--orphan-age'], type: 'int', metavar: 'SECONDS',
        help: '(pgstow) remove unfinished uploads, backups without backup.info and FAILED backups untouched for this long (default 86400)' },
      FORMAT_OPTION,
    ],
    epilog: EXIT_CODES_EPILOG,
  }),
  async run(args, ctx) {
    const o = args.options;
    let selection: DeleteSelection;
    if (typeof o.backupId === 'string') selection = { kind: 'id', identifier: o.backupId };
    else if (typeof o.retentionPolicy === 'string') selection = { kind: 'policy', policy: parseRetentionPolicy(o.retentionPolicy) };
    else if (o.test) selection = { kind: 'id', identifier: '' };
    else throw new UsageError('one of the arguments -b/--backup-id -r/--retention-policy is required');
    const minimumRedundancy = (o.minimumRedundancy as number | undefined) ?? 0;
    if (minimumRedundancy < 0) throw new UsageError(`argument -m/--minimum-redundancy: ${minimumRedundancy} is not a non-negative integer`);
    const batchSize = o.batchSize as number | undefined;
    if (batchSize !== undefined && batchSize < 1) throw new UsageError(`argument --batch-size: ${batchSize} must be at least 1`);
    return withStore(args, ctx, async ({ store, layout }) => {
      const json = !ctx.barmanMode && isJson(args, false);
      // Only the text dry run prints every WAL key (Barman's lines); the JSON plan counts them instead.
      const result = await deleteBackups(
        { store, layout, warn: (m) => ctx.log.warning(m), info: (m) => ctx.log.info(m) },
        { selection, minimumRedundancy, dryRun: Boolean(o.dryRun), listWalKeys: !json, ...(batchSize !== undefined ? { batchSize } : {}), signal: ctx.signal,
          removeFailed: !ctx.barmanMode, ...(typeof o.orphanAge === 'number' ? { garbageAgeMs: orphanAge(o.orphanAge) } : {}) });
      if (json) {
        write(ctx, JSON.stringify(planJson(result), null, 2) + '\n');
        return 0;
      }
      if (result.dryRun) for (const line of result.dryRunLines) write(ctx, line + '\n');
      if (!ctx.barmanMode) write(ctx, summary(result));
      return 0;
    });
  },
};

function orphanAge(seconds: number): number {
  if (seconds < 0) throw new UsageError(`argument --orphan-age: ${seconds} is not a non-negative number of seconds`);
  return seconds * 1000;
}

function planJson(r: DeleteResult): unknown {
  return {
    removed: r.removed.map((x) => ({ kind: x.kind, name: x.name, objects: x.keys.length, bytes: x.bytes, reason: x.reason })),
    dryRun: r.dryRun,
    policy: r.policy,
    pointOfRecoverability: r.pointOfRecoverability?.toISOString() ?? null,
    minimumRedundancy: r.minimumRedundancy,
    backups: r.backups.map((b) => ({ id: b.id, status: b.status, retention: b.retention, action: b.delete ? 'delete' : 'keep', reason: b.reason, objects: b.objects.length, bytes: b.bytes })),
    wal: r.wal.map((w) => ({ backupId: w.rule.backupId, remove: w.rule.remove, until: w.rule.until, protectedTimelines: w.rule.protectedTimelines, protectedRanges: w.rule.protectedRanges, reason: w.rule.reason, objects: w.objects, bytes: w.bytes, firstKey: w.firstKey, lastKey: w.lastKey })),
    totals: {
      backups: r.backups.filter((b) => b.delete).length,
      objects: r.backups.reduce((n, b) => n + b.objects.length, 0) + r.wal.reduce((n, w) => n + w.objects, 0),
      bytes: r.backups.reduce((n, b) => n + b.bytes, 0) + r.wal.reduce((n, w) => n + w.bytes, 0),
    },
  };
}

function summary(r: DeleteResult): string {
  const lines: string[] = [];
  if (r.policy) lines.push(`Retention policy ${r.policy}${r.pointOfRecoverability ? ` (point of recoverability ${r.pointOfRecoverability.toISOString()})` : ''}${r.minimumRedundancy ? `, minimum redundancy ${r.minimumRedundancy}` : ''}:`);
  for (const b of r.backups) {
    if (!r.policy && !b.delete) continue;
    lines.push(`  ${pad(b.id, 17)}${pad(b.retention, 17)}${pad(b.delete ? (r.dryRun ? 'would delete' : 'deleted') : 'kept', 14)}${b.reason}`);
  }
  const walObjects = r.wal.reduce((n, w) => n + w.objects, 0);
  const walBytes = r.wal.reduce((n, w) => n + w.bytes, 0);
  const n = r.backups.filter((b) => b.delete).length;
  lines.push(`${r.dryRun ? 'Would delete' : 'Deleted'} ${n} backup(s) and ${walObjects} WAL file(s) (${formatBytes(r.backups.reduce((s, b) => s + b.bytes, 0) + walBytes)})`);
  if (r.removed.length > 0) {
    const count = (k: string): number => r.removed.filter((x) => x.kind === k).length;
    lines.push(`${r.dryRun ? 'Would remove' : 'Removed'} ${count('orphan backup')} orphaned and ${count('failed backup')} failed backup(s), ${count('upload')} unfinished upload(s) `
      + `(${formatBytes(r.removed.reduce((s, x) => s + x.bytes, 0))})`);
  }
  return lines.join('\n') + '\n';
}
