import type { Command } from '../command.js';
import { EXIT_CODES_EPILOG, optionsOf } from '../common-options.js';
import { JsonObject, backupInfoToJson, pythonJsonDumps, renderBackupListConsole } from '../../domain/backup/barman-output.js';
import type { ListBackupsResult } from '../../engine/index.js';
import { SOURCE_POSITIONALS, isJson, pad, formatBytes, walReportLines, withEngine, write } from './catalog-shared.js';

export const command: Command = {
  spec: (name) => ({
    name,
    summary: 'List the backups in an object store.',
    positionals: SOURCE_POSITIONALS,
    options: optionsOf('backup-list'),
    epilog: EXIT_CODES_EPILOG,
  }),
  async run(args, ctx) {
    return withEngine('backup-list', args, ctx, async ({ engine }) => {
      const withWal = !ctx.barmanMode && !args.options.noWal;
      const result = await engine.listBackups({ withWal, signal: ctx.signal });
      for (const u of result.unreadable) ctx.log.warning('WARN_BACKUP_UNREADABLE', `Unable to open backup.info file for ${u.id}: ${u.error}`);
      for (const b of result.backups) for (const w of b.warnings) ctx.log.warning('WARN_BACKUP_INFO_UNKNOWN_KEY', `backup ${b.id}: ${w}`);
      if (ctx.barmanMode) {
        if (isJson(args, ctx.barmanMode)) {
          const list = result.backups.map((b) => backupInfoToJson(b.id, b.info, { isoTimes: true }));
          write(ctx, pythonJsonDumps(new JsonObject([['backups_list', list]])) + '\n');
        } else {
          write(ctx, renderBackupListConsole(result.backups));
        }
        return 0;
      }
      write(ctx, isJson(args, ctx.barmanMode) ? JSON.stringify(pgstowJson(result), null, 2) + '\n' : pgstowTable(result));
      return 0;
    });
  },
};

function pgstowJson(r: ListBackupsResult): unknown {
  const walState = new Map(r.wal?.backups.map((b) => [b.id, b.walComplete]) ?? []);
  return {
    server: r.serverName,
    backups: r.backups.map((b) => ({
      id: b.id,
      name: b.info.backupName,
      status: b.info.status,
      keep: b.keep,
      timeline: b.info.timeline,
      beginWal: b.info.beginWal,
      endWal: b.info.endWal,
      beginTime: b.info.beginTime?.isoformat() ?? null,
      endTime: b.info.endTime?.isoformat() ?? null,
      dataBytes: b.dataObjects.reduce((n, o) => n + o.size, 0),
      walComplete: walState.get(b.id) ?? null,
      warnings: b.warnings,
    })),
    incomplete: r.incomplete.map((i) => ({ id: i.id, objects: i.objects.length })),
    unreadable: r.unreadable,
    wal: r.wal,
  };
}

function pgstowTable(r: ListBackupsResult): string {
  const walState = new Map(r.wal?.backups.map((b) => [b.id, b.walComplete]) ?? []);
  const lines: string[] = [];
  const row = (c: string[]): void => { lines.push([pad(c[0]!, 17), pad(c[1]!, 18), pad(c[2]!, 27), pad(c[3]!, 5), pad(c[4]!, 26), pad(c[5]!, 11), pad(c[6]!, 16), c[7]!].join('').trimEnd()); };
  lines.push(`Server ${r.serverName}: ${r.backups.length} backup(s)`);
  row(['ID', 'STATUS', 'END TIME', 'TLI', 'BEGIN WAL', 'SIZE', 'KEEP', 'NAME']);
  for (const b of r.backups) {
    const wal = walState.get(b.id);
    const status = b.info.status + (wal === false ? ' (WAL!)' : '');
    row([b.id, status, b.info.endTime?.toString().slice(0, 25) ?? '-', String(b.info.timeline ?? '-'), b.info.beginWal ?? '-',
      formatBytes(b.dataObjects.reduce((n, o) => n + o.size, 0)), b.keep ? `KEEP:${b.keep.toUpperCase()}` : '', b.info.backupName ?? '']);
  }
  for (const i of r.incomplete) lines.push(`${i.id}  no backup.info yet (${i.objects.length} object(s)): in progress, or leftovers of an interrupted run`);
  for (const u of r.unreadable) lines.push(`${u.id}  UNREADABLE backup.info: ${u.error}`);
  if (r.wal) lines.push('', ...walReportLines(r.wal));
  return lines.join('\n') + '\n';
}
