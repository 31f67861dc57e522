/**
 * `barman-cloud-restore SOURCE_URL SERVER_NAME BACKUP_ID RECOVERY_DIR` and `pgstow restore`: the same
 * arguments and exit codes as Barman 3.17, plus pgstow's one-step point-in-time recovery options.
 */
import * as path from 'node:path';
import type { CommandSpec, ParsedArgs } from '../../config/argv.js';
import type { Command, CommandContext } from '../command.js';
import { EXIT_CODES_EPILOG, optionsOf } from '../common-options.js';
import { openCommandEngine } from '../command-engine.js';
import { UsageError } from '../../errors.js';
import { parseTargetTli } from '../../domain/recovery/backup-selection.js';
import type { RestoreBackupOptions, RestoreBackupResult } from '../../engine/index.js';
import { walRestoreCommandLine } from '../../services/wal-restore-command.js';
import type { OptionDef } from '../../config/options.js';

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
      options: name.startsWith('barman-cloud-') ? optionsOf('restore').filter((o) => !(o as OptionDef & { pgstowOnly?: boolean }).pgstowOnly) : optionsOf('restore'),
      epilog: EPILOG,
    };
  },

  async run(args: ParsedArgs, ctx: CommandContext): Promise<number> {
    const o = args.options;
    const backupId = args.positionals.backupId as string;
    const recoveryDir = args.positionals.recoveryDir as string;
    if (o.snapshotRecoveryInstance) throw new UsageError('snapshot backups are not supported by pgstow (--snapshot-recovery-instance)');
    const options: RestoreBackupOptions = {
      backupId, destination: recoveryDir, tablespaces: relocations(o.tablespace as string[] | undefined), signal: ctx.signal,
      ...(o.allowUnverified === true ? { allowUnverified: true } : {}),
    };
    if (o.streams !== undefined) options.streamsPerObject = positive(o.streams as number, '--streams');
    const targets = o.targetTli !== undefined || o.targetLsn !== undefined || o.targetTime !== undefined;
    if (backupId !== 'auto' && targets) {
      ctx.log.warning('WARN_OPTION_IGNORED', '--target-tli, --target-lsn and --target-time only choose a backup with BACKUP_ID auto; ignored here (use --recovery-target-* to write recovery settings)');
    }
    if (backupId === 'auto' && targets) {
      const tli = o.targetTli === undefined ? undefined : parseTargetTli(o.targetTli as string);
      if (tli === 'current') throw new UsageError('--target-tli current cannot be used with BACKUP_ID auto');
      options.auto = { ...(tli !== undefined ? { targetTli: tli } : {}), ...(o.targetLsn !== undefined ? { targetLsn: o.targetLsn as string } : {}),
        ...(o.targetTime !== undefined ? { targetTime: o.targetTime as string } : {}) };
    }
    const recovery = recoveryOptions(o);
    if (!recovery && o.restoreCommand !== undefined) throw new UsageError('--restore-command needs a --recovery-target-* option');
    const c = await openCommandEngine('restore', args, ctx);
    try {
      if (o.test) {
        await c.engine.checkConnectivity({ scope: 'base', signal: ctx.signal });
        return 0;
      }
      if (recovery) options.recovery = { ...recovery, restoreCommand: (o.restoreCommand as string | undefined) ?? walRestoreCommand(args) };
      const result = await c.engine.restoreBackup(options);
      const mb = result.writtenBytes / 1e6;
      ctx.log.info(`restored backup ${result.backupId}: ${result.objects} objects, ${(result.downloadedBytes / 1e6).toFixed(1)} MB downloaded, ${mb.toFixed(1)} MB written in ${result.seconds.toFixed(1)} s`);
      if (!ctx.barmanMode) printSummary(ctx, recoveryDir, result);
      return 0;
    } finally {
      await c.close();
    }
  },
};

function relocations(rules: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rule of rules ?? []) {
    const i = rule.indexOf(':');
    if (i <= 0 || i === rule.length - 1) throw new UsageError(`invalid tablespace relocation rule '${rule}' (expected NAME:LOCATION)`);
    out[rule.slice(0, i)] = rule.slice(i + 1);
  }
  return out;
}

/** The --recovery-target-* options, when one was given (checked by the engine's parser). */
function recoveryOptions(o: Record<string, unknown>): Omit<NonNullable<RestoreBackupOptions['recovery']>, 'restoreCommand'> | undefined {
  const r = {
    time: o.recoveryTargetTime as string | undefined, lsn: o.recoveryTargetLsn as string | undefined, xid: o.recoveryTargetXid as string | undefined,
    name: o.recoveryTargetName as string | undefined, immediate: o.recoveryTargetImmediate as boolean | undefined, latest: o.recoveryTargetLatest as boolean | undefined,
    timeline: o.recoveryTargetTimeline as string | undefined, action: o.recoveryTargetAction as string | undefined, exclusive: o.recoveryTargetExclusive as boolean | undefined,
  };
  const given = Object.entries(r).filter(([, v]) => v !== undefined);
  return given.length === 0 ? undefined : Object.fromEntries(given) as typeof r;
}

function positive(n: number, flag: string): number {
  if (n < 1) throw new UsageError(`argument ${flag}: must be a positive number`);
  return n;
}

function printSummary(ctx: CommandContext, dir: string, r: RestoreBackupResult): void {
  const mb = r.writtenBytes / 1e6;
  const lines = [
    `restored backup ${r.backupId}${r.backupName ? ` (${r.backupName})` : ''} into ${path.resolve(dir)}`,
    `  ${r.objects} object(s), ${(r.downloadedBytes / 1e6).toFixed(1)} MB downloaded, ${mb.toFixed(1)} MB of files in ${r.seconds.toFixed(1)} s (${(mb / Math.max(r.seconds, 0.001)).toFixed(1)} MB/s)`,
    ...r.tablespaces.map((t) => `  tablespace ${t.name} (oid ${t.oid}) → ${t.location}`),
  ];
  if (r.recoverySettings) {
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
