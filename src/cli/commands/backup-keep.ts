import { UsageError } from '../../errors.js';
import type { Command } from '../command.js';
import { EXIT_CODES_EPILOG, optionsOf } from '../common-options.js';
import type { KeepAction } from '../../engine/index.js';
import { SOURCE_POSITIONALS, withEngine, write } from './catalog-shared.js';

export const command: Command = {
  spec: (name) => ({
    name,
    summary: 'Flag backups which should be kept forever (or release them).',
    positionals: [...SOURCE_POSITIONALS, { name: 'backupId', help: 'the backup ID of the backup to be kept (or a name or shortcut)' }],
    options: optionsOf('backup-keep'),
    epilog: EXIT_CODES_EPILOG,
  }),
  async run(args, ctx) {
    const o = args.options;
    let action: KeepAction;
    if (o.release) action = { kind: 'release' };
    else if (o.status) action = { kind: 'status' };
    else if (o.target) action = { kind: 'add', target: o.target as 'full' | 'standalone' };
    else if (!o.test) throw new UsageError('one of the arguments -r/--release -s/--status --target is required');
    else action = { kind: 'status' };
    return withEngine('backup-keep', args, ctx, async ({ engine }) => {
      const r = await engine.keepBackup(args.positionals.backupId as string, action, { signal: ctx.signal });
      if (action.kind === 'status') write(ctx, `Keep: ${r.keep ?? 'nokeep'}\n`);
      else if (!ctx.barmanMode) write(ctx, action.kind === 'release' ? `Released keep on backup ${r.id}\n` : `Backup ${r.id} is kept (${r.keep})\n`);
      return 0;
    });
  },
};
