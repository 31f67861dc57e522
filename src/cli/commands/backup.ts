/**
 * barman-cloud-backup / pgstow backup: parse Barman's options, run engine.takeBackup, print the summary.
 * Exit codes as barman-cloud-backup: 0 done, 1 backup failed (backup.info says FAILED) or cannot connect to
 * PostgreSQL, 2 store unreachable, 3 bad arguments, 4 anything else.
 */
import type { Command, CommandContext } from '../command.js';
import { EXIT_CODES_EPILOG, optionsOf } from '../common-options.js';
import { openCommandEngine } from '../command-engine.js';
import { ExitCode, PgstowError, UsageError } from '../../errors.js';
import { formatBytes, ProgressReporter } from '../progress.js';

const RESERVED_NAMES = new Set(['latest', 'last', 'oldest', 'first', 'last-failed']);

/** Barman's check_backup_name. */
export function checkBackupName(name: string): string {
  if (name === '') throw new UsageError('argument -n/--name: Backup name cannot be empty');
  if (/^\d{8}T\d{6}$/.test(name)) throw new UsageError(`argument -n/--name: Backup name '${name}' is not allowed: backup ID`);
  if (RESERVED_NAMES.has(name)) throw new UsageError(`argument -n/--name: Backup name '${name}' is not allowed: reserved word`);
  if (/[\r\n]/.test(name)) throw new UsageError('argument -n/--name: Backup name cannot contain a line break');
  return name;
}

export { parseBackupTags as parseTags } from '../../config/options.js';

function progressReporter(ctx: CommandContext, option: string | undefined): ProgressReporter {
  const stderr = ctx.stderr as typeof ctx.stderr & { isTTY?: boolean };
  const mode = (option ?? 'auto') === 'auto' ? (stderr.isTTY ? 'bar' : 'log') : (option as 'bar' | 'log' | 'off');
  // Barman-mode default logging is WARNING: keep progress log lines for -v or explicit --progress log.
  const effective = mode === 'log' && ctx.log.level !== 'debug' && ctx.log.level !== 'info' && option === undefined ? 'off' : mode;
  return new ProgressReporter(stderr, ctx.log, effective);
}

export const command: Command = {
  spec: (name) => ({
    name,
    summary: 'Take a base backup of a local PostgreSQL server and ship the tar archives to an object store.',
    positionals: [
      { name: 'destinationUrl', help: 'URL of the cloud destination, such as a bucket in AWS S3. For example: s3://bucket/path/to/folder' },
      { name: 'serverName', help: 'the name of the server as configured in Barman' },
    ],
    options: optionsOf('backup'),
    epilog: EXIT_CODES_EPILOG,
  }),

  async run(args, ctx: CommandContext) {
    const o = args.options;
    if (o.snapshotInstance || o.snapshotDisk || o.snapshotZone || o.snapshotGcpProject) {
      throw new PgstowError('ERR_UNSUPPORTED', ExitCode.GENERAL, 'snapshot backups (--snapshot-*) are not supported by pgstow');
    }
    const c = await openCommandEngine('backup', args, ctx, (settings, values) => {
      if (values.sseKmsKeyId !== undefined && settings.data?.encryption !== 'aws:kms') {
        throw new PgstowError('ERR_OPTION_CONFLICT', ExitCode.GENERAL, '--sse-kms-key-id can only be used with --encryption aws:kms');
      }
    });
    const backupName = c.values.backupName === undefined ? undefined : checkBackupName(c.values.backupName as string);
    const progress = progressReporter(ctx, o.progress as string | undefined);
    try {
      if (o.test) {
        await c.engine.checkConnectivity({ scope: 'base', signal: ctx.signal });
        return ExitCode.OK;
      }
      const r = await c.engine.takeBackup({
        signal: ctx.signal, onProgress: (p) => progress.update(p), ...(backupName !== undefined ? { name: backupName } : {}),
        // The barman-cloud drop-in keeps FAILED backups (Barman's catalog); pgstow's own command removes them too.
        removeFailed: !ctx.barmanMode, ...(typeof o.orphanAge === 'number' && o.orphanAge >= 0 ? { garbageAgeMs: o.orphanAge * 1000 } : {}),
      });
      progress.finish();
      const s = r.stats;
      const mbps = s.tarBytes / 1e6 / Math.max(s.seconds, 0.001);
      const summary = `backup ${r.backupId}${backupName ? ` (${backupName})` : ''} done: ${formatBytes(s.tarBytes)} in ${s.objects} archive(s), ${formatBytes(s.storedBytes)} stored`
        + ` (${c.settings.data?.compression ?? 'none'}), ${s.seconds.toFixed(1)} s, ${mbps.toFixed(1)} MB/s; WAL ${r.beginWal} .. ${r.endWal}`;
      if (ctx.barmanMode) ctx.log.info(summary);
      else ctx.stderr.write(`${summary}\n`);
      return ExitCode.OK;
    } finally {
      progress.finish();
      await c.close();
    }
  },
};
