/** barman-cloud-wal-restore / pgstow wal-restore: restore_command. Thin: parse → engine.restoreWal → exit code. */
import type { Command } from '../command.js';
import { EXIT_CODES_EPILOG, optionsOf } from '../common-options.js';
import { openCommandEngine, prepareCommand } from '../command-engine.js';
import { asWalCommandError } from '../wal-options.js';
import { ExitCode, PgstowError } from '../../errors.js';
import { parseWalFileName } from '../../domain/wal/wal-file-name.js';
import { restoreFromSpool } from '../../services/restore-wal.js';

export const command: Command = {
  spec: (name) => ({
    name,
    summary: 'Restore a PostgreSQL WAL file from an object store (restore_command).',
    positionals: [
      { name: 'sourceUrl', help: 'URL of the cloud source, such as a bucket in AWS S3. For example: s3://bucket/path/to/folder' },
      { name: 'serverName', help: 'the name of the server as configured in Barman' },
      { name: 'walName', help: 'the value of the %f keyword (according to restore_command)' },
      { name: 'walDest', help: 'the value of the %p keyword (according to restore_command)' },
    ],
    options: optionsOf('wal-restore'),
    epilog: `${EXIT_CODES_EPILOG}
  (1 also when the WAL file is not in the archive, which is what PostgreSQL expects at its end)`,
  }),

  async run(args, ctx) {
    const walName = args.positionals.walName as string;
    const dest = args.positionals.walDest as string;
    if (!args.options.test) parseWalFileName(walName);
    const prepared = await prepareCommand('wal-restore', args, ctx);
    // A segment a prefetch already checked into the spool needs no store: served before one is opened (no SDK
    // to load, no client to build). The settings were still built, so bad options fail as before.
    const spool = prepared.values.spoolDir as string | undefined;
    if (spool && !args.options.test && await restoreFromSpool(spool, walName, dest, ctx.log).catch(() => undefined)) return 0;
    const c = await openCommandEngine('wal-restore', args, ctx, undefined, prepared);
    try {
      if (args.options.test) {
        await c.engine.checkConnectivity({ signal: ctx.signal });
        return 0;
      }
      const spoolDir = c.values.spoolDir as string | undefined;
      await c.engine.restoreWal(walName, dest, { noPartial: c.values.noPartial === true, signal: ctx.signal, ...(spoolDir ? { spoolDir } : {}) });
      return 0;
    } catch (err) {
      // The normal end of the archive: Barman logs it at INFO and exits 1, without an error line.
      if (err instanceof PgstowError && err.code === 'ERR_WAL_NOT_FOUND') { ctx.log.info(err.message); return ExitCode.OPERATION; }
      throw asWalCommandError(err);
    } finally {
      await c.close();
    }
  },
};
