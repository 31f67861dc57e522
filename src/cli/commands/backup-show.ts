import type { Command } from '../command.js';
import { EXIT_CODES_EPILOG, optionsOf } from '../common-options.js';
import { JsonObject, type JsonValue, backupInfoToJson, pythonJsonDumps, renderBackupShowConsole } from '../../domain/backup/barman-output.js';
import type { WalArchiveReport } from '../../engine/index.js';
import { SOURCE_POSITIONALS, isJson, walReportLines, withEngine, write } from './catalog-shared.js';

export const command: Command = {
  spec: (name) => ({
    name,
    summary: 'Show metadata of a backup in an object store.',
    positionals: [...SOURCE_POSITIONALS, { name: 'backupId', help: 'the backup ID, a backup name, or first/oldest/last/latest/last-failed' }],
    options: optionsOf('backup-show'),
    epilog: EXIT_CODES_EPILOG,
  }),
  async run(args, ctx) {
    return withEngine('backup-show', args, ctx, async ({ engine }) => {
      const shown = await engine.showBackup(args.positionals.backupId as string, { signal: ctx.signal });
      for (const w of shown.warnings) ctx.log.warning('WARN_BACKUP_INFO_UNKNOWN_KEY', `backup ${shown.id}: ${w}`);
      // pgstow only (Barman's output stays byte-identical): the same WAL view as `pgstow backup list`.
      let wal: WalArchiveReport | null = null;
      if (!ctx.barmanMode && !args.options.noWal) wal = (await engine.listBackups({ withWal: true, signal: ctx.signal })).wal;
      const walComplete = wal?.backups.find((b) => b.id === shown.id)?.walComplete ?? null;
      if (isJson(args, ctx.barmanMode)) {
        // Barman keys the object by the backup's server_name field ("cloud"), not the CLI argument.
        const body = backupInfoToJson(shown.id, shown.info, { isoTimes: true });
        if (!ctx.barmanMode) body.set('keep', shown.keep);
        if (wal) { body.set('wal_complete', walComplete); body.set('wal', toJsonValue(wal)); }
        write(ctx, pythonJsonDumps(new JsonObject([[shown.info.serverName ?? 'None', body]])) + '\n');
      } else {
        let text = renderBackupShowConsole(shown.id, shown.info);
        if (!ctx.barmanMode) text += `  ${'Keep'.padEnd(23)}: ${shown.keep ?? 'nokeep'}\n`;
        if (wal) {
          const state = walComplete === null ? 'not checked (backup is not DONE)' : walComplete ? 'every segment from begin to end is archived' : 'MISSING segments between begin and end: cannot be restored';
          text += `  ${'WAL of this backup'.padEnd(23)}: ${state}\n\n${walReportLines(wal).join('\n')}\n`;
        }
        write(ctx, text);
      }
      return 0;
    });
  },
};

/** A plain report object as a JsonValue for pythonJsonDumps (dates as ISO strings). */
function toJsonValue(v: unknown): JsonValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(toJsonValue);
  return new JsonObject(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, toJsonValue(x)]));
}
