/** barman-cloud-wal-restore / pgstow wal-restore: restore_command. Thin: parse → compose → restoreWal → print. */
import type { Command } from '../command.js';
import { COMMON_OPTIONS, EXIT_CODES_EPILOG, destinationOf, storeOptionsFromArgs } from '../common-options.js';
import { asWalCommandError, maxParallelFrom, PARALLEL_OPTIONS } from '../wal-options.js';
import { parseSize } from '../args.js';
import { ExitCode } from '../../errors.js';
import { composeStoreFromOptions } from '../../app/compose.js';
import { restoreWal, WalNotFoundError } from '../../services/restore-wal.js';
import { checkConnectivity } from '../../services/check-connectivity.js';
import { defaultSpoolDir } from '../../services/wal-spool.js';
import { assertSegmentSize, parseWalFileName } from '../../domain/wal/wal-file-name.js';

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
    options: [
      ...COMMON_OPTIONS,
      { dest: 'noPartial', flags: ['--no-partial'], type: 'flag', help: 'do not download partial WAL files' },
      ...PARALLEL_OPTIONS,
      { dest: 'walSegmentSize', flags: ['--wal-segment-size'], type: 'string', metavar: 'SIZE',
        help: '(pgstow) WAL segment size for prefetching (default: learned from the first restored segment)' },
    ],
    epilog: `${EXIT_CODES_EPILOG}
  (1 also when the WAL file is not in the archive, which is what PostgreSQL expects at its end)`,
  }),

  async run(args, ctx) {
    const { url, serverName } = destinationOf(args);
    const walName = args.positionals.walName as string;
    const dest = args.positionals.walDest as string;
    if (!args.options.test) parseWalFileName(walName);
    const maxParallel = maxParallelFrom(args);
    let segmentSize: number | undefined;
    if (args.options.walSegmentSize !== undefined) {
      segmentSize = parseSize(args.options.walSegmentSize as string, '--wal-segment-size');
      assertSegmentSize(segmentSize);
    }
    const options = storeOptionsFromArgs(args, ctx.env, url);
    const composed = await composeStoreFromOptions(options, serverName);
    try {
      if (args.options.test) {
        await checkConnectivity(composed.store, composed.layout);
        return 0;
      }
      const spoolDir = (args.options.spoolDir as string | undefined) ?? (maxParallel > 1 ? defaultSpoolDir('wal-restore-spool', url, serverName, ctx.env) : undefined);
      await restoreWal({ store: composed.store, layout: composed.layout, log: ctx.log }, {
        walName, destPath: dest, maxParallel, noPartial: args.options.noPartial === true, signal: ctx.signal,
        ...(spoolDir ? { spoolDir } : {}), ...(segmentSize ? { segmentSize } : {}),
        // PGSTOW_PREFETCH_MISS_TTL (seconds): how long a prefetch's "not in archive" answer is trusted.
        ...(ctx.env.PGSTOW_PREFETCH_MISS_TTL && Number(ctx.env.PGSTOW_PREFETCH_MISS_TTL) >= 0 ? { missingMarkerTtlMs: Number(ctx.env.PGSTOW_PREFETCH_MISS_TTL) * 1000 } : {}),
      });
      return 0;
    } catch (err) {
      // The normal end of the archive: Barman logs it at INFO and exits 1, without an error line.
      if (err instanceof WalNotFoundError) { ctx.log.info(err.message); return ExitCode.OPERATION; }
      throw asWalCommandError(err);
    } finally {
      await composed.store.close();
    }
  },
};
