/** barman-cloud-wal-archive / pgstow wal-archive: archive_command. Thin: parse → engine.archiveWal → exit code. */
import * as path from 'node:path';
import type { Command } from '../command.js';
import { EXIT_CODES_EPILOG, optionsOf } from '../common-options.js';
import { openCommandEngine } from '../command-engine.js';
import { asWalCommandError } from '../wal-options.js';
import { UsageError } from '../../errors.js';
import { parseWalFileName } from '../../domain/wal/wal-file-name.js';

export const command: Command = {
  spec: (name) => ({
    name,
    summary: 'Archive a PostgreSQL WAL file to an object store (archive_command).',
    positionals: [
      { name: 'destinationUrl', help: 'URL of the cloud destination, such as a bucket in AWS S3. For example: s3://bucket/path/to/folder' },
      { name: 'serverName', help: 'the name of the server as configured in Barman' },
      { name: 'walPath', help: 'the value of the %p keyword (according to archive_command)', optional: true },
    ],
    options: optionsOf('wal-archive'),
    epilog: `${EXIT_CODES_EPILOG}

Re-archiving a WAL already stored with identical content succeeds without rewriting it; a WAL stored with
different content is refused (exit 1) and nothing is overwritten. Every upload is verified before exit 0.`,
  }),

  async run(args, ctx) {
    let walPath = args.positionals.walPath as string | undefined;
    // Barman hook mode (archive_script run by a Barman server): the file comes from BARMAN_FILE.
    if (walPath === undefined && ['archive_script', 'archive_retry_script'].includes(ctx.env.BARMAN_HOOK ?? '') && ctx.env.BARMAN_PHASE === 'pre') {
      walPath = ctx.env.BARMAN_FILE;
    }
    if (!args.options.test) {
      if (walPath === undefined) throw new UsageError('the following arguments are required: walPath');
      parseWalFileName(path.basename(walPath));
    }
    const c = await openCommandEngine('wal-archive', args, ctx, (settings, values) => {
      if (values.compressionLevel !== undefined && !settings.wal?.compression) {
        throw new UsageError('--compression-level requires a compression option (-z, -j, --xz, --snappy, --zstd or --lz4)');
      }
      if (values.sseKmsKeyId !== undefined && settings.wal?.encryption !== 'aws:kms') throw new UsageError('--sse-kms-key-id can only be used with --encryption aws:kms');
    });
    try {
      if (args.options.test) {
        await c.engine.checkConnectivity({ signal: ctx.signal });
        ctx.log.info(`connectivity to ${c.engine.description} is OK`);
        return 0;
      }
      const spoolDir = c.values.spoolDir as string | undefined;
      await c.engine.archiveWal(walPath as string, { signal: ctx.signal, ...(spoolDir ? { spoolDir } : {}) });
      return 0;
    } catch (err) {
      throw asWalCommandError(err);
    } finally {
      await c.close();
    }
  },
};
