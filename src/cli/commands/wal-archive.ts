/** barman-cloud-wal-archive / pgstow wal-archive: archive_command. Thin: parse → compose → archiveWal → print. */
import type { Command } from '../command.js';
import { COMMON_OPTIONS, EXIT_CODES_EPILOG, destinationOf, storeOptionsFromArgs } from '../common-options.js';
import { applyUploadOptions, asWalCommandError, codecFromArgs, COMPRESSION_OPTIONS, maxParallelFrom, PARALLEL_OPTIONS, parseTags, UPLOAD_OPTIONS } from '../wal-options.js';
import { UsageError } from '../../errors.js';
import { composeStoreFromOptions } from '../../app/compose.js';
import { archiveWal } from '../../services/archive-wal.js';
import { checkConnectivity } from '../../services/check-connectivity.js';
import { defaultSpoolDir } from '../../services/wal-spool.js';
import { parseWalFileName } from '../../domain/wal/wal-file-name.js';
import * as path from 'node:path';

export const command: Command = {
  spec: (name) => ({
    name,
    summary: 'Archive a PostgreSQL WAL file to an object store (archive_command).',
    positionals: [
      { name: 'destinationUrl', help: 'URL of the cloud destination, such as a bucket in AWS S3. For example: s3://bucket/path/to/folder' },
      { name: 'serverName', help: 'the name of the server as configured in Barman' },
      { name: 'walPath', help: 'the value of the %p keyword (according to archive_command)', optional: true },
    ],
    options: [...COMMON_OPTIONS, ...COMPRESSION_OPTIONS, ...UPLOAD_OPTIONS, ...PARALLEL_OPTIONS],
    epilog: `${EXIT_CODES_EPILOG}

Re-archiving a WAL already stored with identical content succeeds without rewriting it; a WAL stored with
different content is refused (exit 1) and nothing is overwritten. Every upload is verified before exit 0.`,
  }),

  async run(args, ctx) {
    const { url, serverName } = destinationOf(args);
    let walPath = args.positionals.walPath as string | undefined;
    // Barman hook mode (archive_script run by a Barman server): the file comes from BARMAN_FILE.
    if (walPath === undefined && ['archive_script', 'archive_retry_script'].includes(ctx.env.BARMAN_HOOK ?? '') && ctx.env.BARMAN_PHASE === 'pre') {
      walPath = ctx.env.BARMAN_FILE;
    }
    const { codec, level, warning } = codecFromArgs(args);
    if (warning) ctx.log.warning(warning);
    const tags = parseTags(args.options.tags as string[] | undefined, '--tags', true) ?? parseTags(args.options.tag as string[] | undefined, '--tag', false);
    const historyTags = parseTags(args.options.historyTags as string[] | undefined, '--history-tags', true)
      ?? parseTags(args.options.historyTag as string[] | undefined, '--history-tag', false);
    const maxParallel = maxParallelFrom(args);
    if (!args.options.test) {
      if (walPath === undefined) throw new UsageError('the following arguments are required: walPath');
      parseWalFileName(path.basename(walPath));
    }
    const options = storeOptionsFromArgs(args, ctx.env, url);
    applyUploadOptions(args, options);
    const composed = await composeStoreFromOptions(options, serverName);
    try {
      if (args.options.test) {
        await checkConnectivity(composed.store, composed.layout);
        ctx.log.info(`connectivity to ${composed.store.description} is OK`);
        return 0;
      }
      const spoolDir = (args.options.spoolDir as string | undefined) ?? (maxParallel > 1 ? defaultSpoolDir('wal-archive-spool', url, serverName, ctx.env) : undefined);
      await archiveWal({ store: composed.store, layout: composed.layout, log: ctx.log }, {
        walPath: walPath as string, codec, level, maxParallel, signal: ctx.signal,
        ...(tags ? { tags } : {}), ...(historyTags ? { historyTags } : {}), ...(spoolDir ? { spoolDir } : {}),
        verifyMd5: options.s3?.encryption !== 'aws:kms',
      });
      return 0;
    } catch (err) {
      throw asWalCommandError(err);
    } finally {
      await composed.store.close();
    }
  },
};
