import { UsageError } from '../../errors.js';
import type { Command } from '../command.js';
import { COMMON_OPTIONS, EXIT_CODES_EPILOG } from '../common-options.js';
import { checkWalArchive } from '../../services/check-wal-archive.js';
import { DESTINATION_POSITIONALS, withStore, write } from './catalog-shared.js';

export const command: Command = {
  spec: (name) => ({
    name,
    summary: 'Checks that the WAL archive on the destination is safe to use for a new PostgreSQL server (empty, or nothing on --timeline N or newer).',
    positionals: DESTINATION_POSITIONALS,
    options: [
      ...COMMON_OPTIONS,
      { dest: 'timeline', flags: ['--timeline'], type: 'int', metavar: 'TIMELINE', help: 'the earliest timeline whose WALs should cause the check to fail' },
    ],
    epilog: EXIT_CODES_EPILOG,
  }),
  async run(args, ctx) {
    const timeline = args.options.timeline as number | undefined;
    if (timeline !== undefined && timeline < 1) throw new UsageError(`argument --timeline: ${timeline} is not a positive integer`);
    return withStore(args, ctx, async ({ store, layout }) => {
      const r = await checkWalArchive({ store, layout }, { ...(timeline !== undefined ? { timeline } : {}), signal: ctx.signal });
      if (r.bucketCreated) ctx.log.info(`the bucket did not exist: created it (${store.description})`);
      else if (r.bucketMissing) ctx.log.info('the bucket does not exist: nothing can conflict');
      if (!ctx.barmanMode) write(ctx, `WAL archive of server ${layout.serverName} is usable${timeline !== undefined ? ` for timeline ${timeline}` : ' (empty)'}\n`);
      return 0;
    }, { missingBucketPassesTest: true });
  },
};
