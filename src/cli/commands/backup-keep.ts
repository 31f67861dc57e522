import { UsageError } from '../../errors.js';
import type { Command } from '../command.js';
import { COMMON_OPTIONS, EXIT_CODES_EPILOG } from '../common-options.js';
import { keepBackup, type KeepAction } from '../../services/keep-backup.js';
import { SOURCE_POSITIONALS, withStore, write } from './catalog-shared.js';

export const command: Command = {
  spec: (name) => ({
    name,
    summary: 'Flag backups which should be kept forever (or release them).',
    positionals: [...SOURCE_POSITIONALS, { name: 'backupId', help: 'the backup ID of the backup to be kept (or a name or shortcut)' }],
    options: [
      ...COMMON_OPTIONS,
      { dest: 'release', flags: ['-r', '--release'], type: 'flag', help: 'If specified, the command will remove the keep annotation and the backup will be eligible for deletion', exclusiveGroup: 'keep' },
      { dest: 'status', flags: ['-s', '--status'], type: 'flag', help: 'Print the keep status of the backup', exclusiveGroup: 'keep' },
      { dest: 'target', flags: ['--target'], type: 'string', choices: ['full', 'standalone'], help: 'Specify the recovery target for this backup', exclusiveGroup: 'keep' },
    ],
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
    return withStore(args, ctx, async ({ store, layout }) => {
      const r = await keepBackup({ store, layout }, { identifier: args.positionals.backupId as string, action, signal: ctx.signal });
      if (action.kind === 'status') write(ctx, `Keep: ${r.keep ?? 'nokeep'}\n`);
      else if (!ctx.barmanMode) write(ctx, action.kind === 'release' ? `Released keep on backup ${r.id}\n` : `Backup ${r.id} is kept (${r.keep})\n`);
      return 0;
    });
  },
};
