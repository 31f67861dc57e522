import type { Command } from '../command.js';
import { COMMON_OPTIONS, EXIT_CODES_EPILOG } from '../common-options.js';
import { JsonObject, backupInfoToJson, pythonJsonDumps, renderBackupShowConsole } from '../../domain/backup/barman-output.js';
import { showBackup } from '../../services/show-backup.js';
import { FORMAT_OPTION, SOURCE_POSITIONALS, isJson, withStore, write } from './catalog-shared.js';

export const command: Command = {
  spec: (name) => ({
    name,
    summary: 'Show metadata of a backup in an object store.',
    positionals: [...SOURCE_POSITIONALS, { name: 'backupId', help: 'the backup ID, a backup name, or first/oldest/last/latest/last-failed' }],
    options: [...COMMON_OPTIONS, FORMAT_OPTION],
    epilog: EXIT_CODES_EPILOG,
  }),
  async run(args, ctx) {
    return withStore(args, ctx, async ({ store, layout }) => {
      const shown = await showBackup({ store, layout }, { identifier: args.positionals.backupId as string, signal: ctx.signal });
      for (const w of shown.warnings) ctx.log.warning(`backup ${shown.id}: ${w}`);
      if (isJson(args)) {
        // Barman keys the object by the backup's server_name field ("cloud"), not the CLI argument.
        const body = backupInfoToJson(shown.id, shown.info, { isoTimes: true });
        if (!ctx.barmanMode) body.set('keep', shown.keep);
        write(ctx, pythonJsonDumps(new JsonObject([[shown.info.serverName ?? 'None', body]])) + '\n');
      } else {
        let text = renderBackupShowConsole(shown.id, shown.info);
        if (!ctx.barmanMode) text += `  ${'Keep'.padEnd(23)}: ${shown.keep ?? 'nokeep'}\n`;
        write(ctx, text);
      }
      return 0;
    });
  },
};
