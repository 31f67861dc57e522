/**
 * `barman-cloud-restore SOURCE_URL SERVER_NAME BACKUP_ID RECOVERY_DIR` and `pgstow restore`: the same
 * arguments and exit codes as Barman 3.17, plus pgstow's one-step point-in-time recovery options.
 */
import * as path from 'node:path';
import type { CommandSpec, OptionSpec, ParsedArgs } from '../args.js';
import type { Command, CommandContext } from '../command.js';
import { COMMON_OPTIONS, EXIT_CODES_EPILOG, memoryBudgetOf } from '../common-options.js';
import { pacedBudget } from '../../gc-pacer.js';
import { composeStore } from '../../app/compose.js';
import { UsageError } from '../../errors.js';
import { parseLsn } from '../../domain/wal/lsn.js';
import { parseRecoveryTime } from '../../domain/recovery/recovery-time.js';
import { parseRecoveryPlan, type RecoveryPlan } from '../../domain/recovery/recovery-target.js';
import { parseTargetTli } from '../../domain/recovery/backup-selection.js';
import { restoreBackup, type RestoreInput } from '../../services/restore-backup.js';
import { isCommonPrefix } from '../../storage/object-store.js';
import { walRestoreCommandLine } from '../../services/wal-restore-command.js';

const OPTIONS: ReadonlyArray<OptionSpec & { pgstowOnly?: boolean }> = [
  ...COMMON_OPTIONS,
  { dest: 'tablespace', flags: ['--tablespace'], type: 'multi', metavar: 'NAME:LOCATION', help: 'tablespace relocation rule' },
  { dest: 'targetTli', flags: ['--target-tli'], type: 'string', metavar: 'TARGET_TLI', help: 'the target timeline (a number, current or latest); chooses the backup with BACKUP_ID auto' },
  { dest: 'targetLsn', flags: ['--target-lsn'], type: 'string', metavar: 'TARGET_LSN', help: 'the target LSN; with BACKUP_ID auto chooses the newest backup ending before it', exclusiveGroup: 'autoTarget' },
  { dest: 'targetTime', flags: ['--target-time'], type: 'string', metavar: 'TARGET_TIME', help: 'the target time; with BACKUP_ID auto chooses the newest backup ending before it', exclusiveGroup: 'autoTarget' },
  { dest: 'snapshotRecoveryInstance', flags: ['--snapshot-recovery-instance'], type: 'string', help: 'instance where the disks recovered from the snapshots are attached (snapshot backups are not supported by pgstow)' },
  { dest: 'snapshotRecoveryZone', flags: ['--snapshot-recovery-zone'], type: 'string', hidden: true, help: 'deprecated' },
  { dest: 'awsRegion', flags: ['--aws-region'], type: 'string', help: 'the AWS region of the snapshot recovery instance (snapshot backups only)' },
  { dest: 'gcpZone', flags: ['--gcp-zone'], type: 'string', help: 'zone of the snapshot recovery instance (snapshot backups only)' },
  { dest: 'azureResourceGroup', flags: ['--azure-resource-group'], type: 'string', help: 'resource group of the snapshot recovery instance (snapshot backups only)' },
  { dest: 'jobs', flags: ['-J', '--jobs'], type: 'int', metavar: 'JOBS', help: '(pgstow) objects downloaded and extracted at once (default 2)' },
  { dest: 'allowUnverified', flags: ['--allow-unverified'], type: 'flag',
    help: '(pgstow) restore a backup that cannot be verified (status not DONE, backup.info inconsistent or contradicting its manifest, manifest missing), with warnings' },
  { dest: 'streams', flags: ['--streams'], type: 'int', metavar: 'N', help: '(pgstow) parallel ranged downloads per object (default 4)' },
  { dest: 'recoveryTargetTime', flags: ['--recovery-target-time'], type: 'string', metavar: 'TIME', help: '(pgstow) write recovery settings to stop at this time (no zone = UTC)', exclusiveGroup: 'recoveryTarget' },
  { dest: 'recoveryTargetLsn', flags: ['--recovery-target-lsn'], type: 'string', metavar: 'LSN', help: '(pgstow) write recovery settings to stop at this LSN', exclusiveGroup: 'recoveryTarget' },
  { dest: 'recoveryTargetXid', flags: ['--recovery-target-xid'], type: 'string', metavar: 'XID', help: '(pgstow) write recovery settings to stop at this transaction', exclusiveGroup: 'recoveryTarget' },
  { dest: 'recoveryTargetName', flags: ['--recovery-target-name'], type: 'string', metavar: 'NAME', help: '(pgstow) write recovery settings to stop at this restore point', exclusiveGroup: 'recoveryTarget' },
  { dest: 'recoveryTargetImmediate', flags: ['--recovery-target-immediate'], type: 'flag', help: '(pgstow) write recovery settings to stop as soon as the backup is consistent', exclusiveGroup: 'recoveryTarget' },
  { dest: 'recoveryTargetLatest', flags: ['--recovery-target-latest'], type: 'flag', help: '(pgstow) write recovery settings to replay every archived WAL', exclusiveGroup: 'recoveryTarget' },
  { dest: 'recoveryTargetTimeline', flags: ['--recovery-target-timeline'], type: 'string', metavar: 'TLI', help: '(pgstow) recovery_target_timeline: latest, current or a number' },
  { dest: 'recoveryTargetTimeline', flags: ['--target-timeline'], type: 'string', metavar: 'TLI', pgstowOnly: true, help: '(pgstow) alias of --recovery-target-timeline (not --target-tli, which only chooses the backup)' },
  { dest: 'recoveryTargetAction', flags: ['--recovery-target-action'], type: 'string', choices: ['promote', 'pause', 'shutdown'], help: '(pgstow) what PostgreSQL does at the target (default promote)' },
  { dest: 'recoveryTargetExclusive', flags: ['--recovery-target-exclusive'], type: 'flag', help: '(pgstow) stop just before the time/LSN/xid target instead of just after' },
  { dest: 'restoreCommand', flags: ['--restore-command'], type: 'string', metavar: 'COMMAND', help: '(pgstow) restore_command to write instead of pgstow wal-restore with this command\'s destination and options' },
];

const EPILOG = `${EXIT_CODES_EPILOG}

BACKUP_ID is a backup id, latest, a backup name, or auto (newest backup matching --target-time/--target-lsn/--target-tli).
With a --recovery-target-* option (pgstow), restore also writes restore_command, the target and
recovery_target_action to postgresql.auto.conf and creates recovery.signal: then just start PostgreSQL.
Store credentials are not written; PostgreSQL's environment must provide them (or use a profile/identity).`;

export const command: Command = {
  spec(name): CommandSpec {
    return {
      name,
      summary: 'Restore a base backup from an object store.',
      positionals: [
        { name: 'sourceUrl', help: 'URL of the cloud source, such as a bucket in AWS S3. For example: s3://bucket/path/to/folder' },
        { name: 'serverName', help: 'the name of the server as configured in Barman' },
        { name: 'backupId', help: 'the backup ID (or latest, auto, or a backup name)' },
        { name: 'recoveryDir', help: 'the path to a directory for recovery' },
      ],
      // The drop-in keeps Barman's exact option set for abbreviations: with --target-timeline, argparse's
      // accepted prefix --target-tim (for --target-time) would become ambiguous.
      options: name.startsWith('barman-cloud-') ? OPTIONS.filter((o) => !o.pgstowOnly) : OPTIONS,
      epilog: EPILOG,
    };
  },

  async run(args: ParsedArgs, ctx: CommandContext): Promise<number> {
    const o = args.options;
    const backupId = args.positionals.backupId as string;
    const recoveryDir = args.positionals.recoveryDir as string;
    if (o.snapshotRecoveryInstance) throw new UsageError('snapshot backups are not supported by pgstow (--snapshot-recovery-instance)');

    const relocations = new Map<string, string>();
    for (const rule of (o.tablespace as string[] | undefined) ?? []) {
      const i = rule.indexOf(':');
      if (i <= 0 || i === rule.length - 1) throw new UsageError(`invalid tablespace relocation rule '${rule}' (expected NAME:LOCATION)`);
      relocations.set(rule.slice(0, i), rule.slice(i + 1));
    }

    const input: RestoreInput = { backupId, recoveryDir, tablespaceRelocations: relocations, allowUnverified: o.allowUnverified === true };
    if (o.jobs !== undefined) input.jobs = positive(o.jobs as number, '--jobs');
    if (o.streams !== undefined) input.streamsPerObject = positive(o.streams as number, '--streams');
    if (backupId !== 'auto' && (o.targetTli !== undefined || o.targetLsn !== undefined || o.targetTime !== undefined)) {
      ctx.log.warning('--target-tli, --target-lsn and --target-time only choose a backup with BACKUP_ID auto; ignored here (use --recovery-target-* to write recovery settings)');
    }
    if (backupId === 'auto' && (o.targetTli !== undefined || o.targetLsn !== undefined || o.targetTime !== undefined)) {
      const tli = o.targetTli === undefined ? undefined : parseTargetTli(o.targetTli as string);
      if (tli === 'current') throw new UsageError("--target-tli current cannot be used with BACKUP_ID auto");
      input.auto = {};
      if (tli !== undefined) input.auto.targetTli = tli;
      if (o.targetLsn !== undefined) input.auto.targetLsn = parseLsn(o.targetLsn as string);
      if (o.targetTime !== undefined) input.auto.targetTime = parseRecoveryTime(o.targetTime as string);
    }
    const plan = parseRecoveryPlan({
      time: o.recoveryTargetTime as string | undefined, lsn: o.recoveryTargetLsn as string | undefined, xid: o.recoveryTargetXid as string | undefined,
      name: o.recoveryTargetName as string | undefined, immediate: o.recoveryTargetImmediate as boolean | undefined, latest: o.recoveryTargetLatest as boolean | undefined,
      timeline: o.recoveryTargetTimeline as string | undefined, action: o.recoveryTargetAction as string | undefined, exclusive: o.recoveryTargetExclusive as boolean | undefined,
    });
    if (!plan && o.restoreCommand !== undefined) throw new UsageError('--restore-command needs a --recovery-target-* option');
    // `auto` with a PITR target: the target also chooses the backup.
    if (plan && backupId === 'auto' && !input.auto) {
      input.auto = {};
      if (plan.target.kind === 'time') input.auto.targetTime = plan.target.time;
      if (plan.target.kind === 'lsn') input.auto.targetLsn = plan.target.lsn;
    }

    const composed = await composeStore(args, ctx);
    const paced = pacedBudget(memoryBudgetOf(args, ctx.env));
    input.memory = paced.budget;
    const stopPacer = paced.stop;
    try {
      if (o.test) {
        for await (const e of composed.store.list(composed.layout.basePrefix, { delimiter: '/' })) { void isCommonPrefix(e); break; }
        return 0;
      }
      if (plan) input.recovery = { plan, restoreCommand: (o.restoreCommand as string | undefined) ?? walRestoreCommand(args) };
      const result = await restoreBackup({ store: composed.store, layout: composed.layout, log: ctx.log, signal: ctx.signal }, input);
      const mb = result.writtenBytes / 1e6;
      ctx.log.info(`restored backup ${result.backup.backupId}: ${result.files.length} objects, ${(result.downloadedBytes / 1e6).toFixed(1)} MB downloaded, ${mb.toFixed(1)} MB written in ${result.seconds.toFixed(1)} s`);
      if (!ctx.barmanMode) printSummary(ctx, recoveryDir, result, plan);
      return 0;
    } finally {
      stopPacer();
      await composed.store.close();
    }
  },
};

function positive(n: number, flag: string): number {
  if (n < 1) throw new UsageError(`argument ${flag}: must be a positive number`);
  return n;
}

function printSummary(ctx: CommandContext, dir: string, r: Awaited<ReturnType<typeof restoreBackup>>, plan: RecoveryPlan | undefined): void {
  const mb = r.writtenBytes / 1e6;
  const lines = [
    `restored backup ${r.backup.backupId}${r.backup.backupName ? ` (${r.backup.backupName})` : ''} into ${path.resolve(dir)}`,
    `  ${r.files.length} object(s), ${(r.downloadedBytes / 1e6).toFixed(1)} MB downloaded, ${mb.toFixed(1)} MB of files in ${r.seconds.toFixed(1)} s (${(mb / Math.max(r.seconds, 0.001)).toFixed(1)} MB/s)`,
    ...r.tablespaces.map((t) => `  tablespace ${t.name} (oid ${t.oid}) → ${t.location}`),
  ];
  if (plan && r.recoverySettings) {
    lines.push('  recovery settings written to postgresql.auto.conf (and recovery.signal):');
    for (const [k, v] of r.recoverySettings) lines.push(`    ${k} = ${v}`);
    lines.push(`start PostgreSQL on ${path.resolve(dir)} to recover (e.g. pg_ctl -D ${path.resolve(dir)} start)`);
  } else {
    lines.push('no recovery settings written: configure restore_command and recovery.signal before starting PostgreSQL (or use --recovery-target-*)');
  }
  ctx.stdout.write(`${lines.join('\n')}\n`);
}

/** restore_command running pgstow wal-restore against the same store with the same options (never credentials). */
export function walRestoreCommand(args: ParsedArgs): string {
  const o = args.options;
  const pass: Array<[string, string]> = [
    ['cloudProvider', '--cloud-provider'], ['endpointUrl', '--endpoint-url'], ['awsProfile', '--aws-profile'], ['readTimeout', '--read-timeout'],
    ['azureCredential', '--credential'], ['endpointCa', '--endpoint-ca'], ['addressingStyle', '--s3-addressing-style'], ['config', '--config'],
  ];
  const options: Array<[string, string]> = [];
  for (const [dest, flag] of pass) {
    const v = o[dest];
    if (v === undefined) continue;
    // A relative file must still resolve when PostgreSQL runs the command from PGDATA.
    options.push([flag, dest === 'endpointCa' || dest === 'config' ? path.resolve(String(v)) : String(v)]);
  }
  let url = args.positionals.sourceUrl as string;
  if (url.startsWith('/')) url = path.resolve(url);
  return walRestoreCommandLine(url, args.positionals.serverName as string, options);
}
