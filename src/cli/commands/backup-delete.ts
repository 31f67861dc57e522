import { UsageError } from '../../errors.js';
import type { Command } from '../command.js';
import { configRequestOf, EXIT_CODES_EPILOG, optionsOf } from '../common-options.js';
import { parseRetentionPolicy } from '../../domain/retention/retention-policy.js';
import type { DeleteBackupsOptions, DeleteBackupsResult } from '../../engine/index.js';
import { SOURCE_POSITIONALS, formatBytes, isJson, pad, withEngine, write } from './catalog-shared.js';

export const command: Command = {
  spec: (name) => ({
    name,
    summary: 'Delete backups made with barman-cloud-backup or pgstow, by id/name or by retention policy, with the WAL files only they need.',
    positionals: SOURCE_POSITIONALS,
    options: optionsOf('backup-delete'),
    epilog: EXIT_CODES_EPILOG,
  }),
  async run(args, ctx) {
    const o = args.options;
    const batchSize = o.batchSize as number | undefined;
    if (batchSize !== undefined && batchSize < 1) throw new UsageError(`argument --batch-size: ${batchSize} must be at least 1`);
    // A policy given on the command line is checked before anything is opened (exit 3).
    if (typeof o.retentionPolicy === 'string') parseRetentionPolicy(o.retentionPolicy);
    if (o.backupId === undefined && o.retentionPolicy === undefined && !o.test && !configRequestOf(args, ctx.env, ctx.barmanMode)) {
      throw new UsageError('one of the arguments -b/--backup-id -r/--retention-policy is required');
    }
    return withEngine('backup-delete', args, ctx, async ({ engine, settings }) => {
      const what: Pick<DeleteBackupsOptions, 'backupIds' | 'retentionPolicy'> = typeof o.backupId === 'string' ? { backupIds: [o.backupId] }
        : typeof o.retentionPolicy === 'string' ? { retentionPolicy: o.retentionPolicy } : {};
      // Without -b/-r, the --config manifest's retentionPolicy applies (CloudNativePG runs the command that way).
      if (!what.backupIds && !what.retentionPolicy && settings.retentionPolicy === undefined) {
        throw new UsageError('one of the arguments -b/--backup-id -r/--retention-policy is required');
      }
      const json = !ctx.barmanMode && isJson(args, false);
      // Only the text dry run prints every WAL key (Barman's lines); the JSON plan counts them instead.
      const result = await engine.deleteBackups({
        ...what, dryRun: Boolean(o.dryRun), listWalKeys: !json, signal: ctx.signal, ...(batchSize !== undefined ? { batchSize } : {}),
        // The barman-cloud drop-in keeps FAILED backups (Barman's catalog); pgstow's own command removes them too.
        removeFailed: !ctx.barmanMode, ...(typeof o.orphanAge === 'number' ? { garbageAgeMs: orphanAge(o.orphanAge) } : {}),
      });
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

function planJson(r: DeleteBackupsResult): unknown {
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

function summary(r: DeleteBackupsResult): string {
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
