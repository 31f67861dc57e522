import { UsageError } from '../../errors.js';
import type { Command } from '../command.js';
import { EXIT_CODES_EPILOG, optionsOf } from '../common-options.js';
import { DESTINATION_POSITIONALS, withEngine, write } from './catalog-shared.js';

export const command: Command = {
  spec: (name) => ({
    name,
    summary: 'Checks that the WAL archive on the destination is safe to use for a new PostgreSQL server (empty, or nothing on --timeline N or newer).',
    positionals: DESTINATION_POSITIONALS,
    options: optionsOf('check-wal-archive'),
    epilog: EXIT_CODES_EPILOG,
  }),
  async run(args, ctx) {
    const timeline = args.options.timeline as number | undefined;
    if (timeline !== undefined && timeline < 1) throw new UsageError(`argument --timeline: ${timeline} is not a positive integer`);
    return withEngine('check-wal-archive', args, ctx, async ({ engine, serverName }) => {
      const r = await engine.checkWalArchive({ ...(timeline !== undefined ? { timeline } : {}), signal: ctx.signal });
      if (r.bucketMissing) ctx.log.info('the bucket does not exist: nothing can conflict');
      if (!ctx.barmanMode) write(ctx, `WAL archive of server ${serverName} is usable${timeline !== undefined ? ` for timeline ${timeline}` : ' (empty)'}\n`);
      return 0;
    }, { missingBucketPassesTest: true });
  },
};
