/** One backup's metadata (barman-cloud-backup-show / pgstow backup show). */
import { OperationError } from '../errors.js';
import { parseBackupInfo, type BackupInfo } from '../domain/backup/backup-info.js';
import type { BarmanLayout } from '../repository/barman-layout.js';
import { findBackup, isBackupIdText, loadCatalog, readKeep, resolveBackupId } from '../repository/backup-catalog.js';
import { ObjectNotFoundError } from '../storage/errors.js';
import { readAll } from '../storage/object-store-helpers.js';
import type { ObjectStore } from '../storage/object-store.js';

export interface ShownBackup {
  id: string;
  info: BackupInfo;
  keep: string | null;
  warnings: string[];
}

export class BackupNotFoundError extends OperationError {
  constructor(id: string, serverName: string) {
    super('ERR_BACKUP_NOT_FOUND', `Backup ${id} for server ${serverName} does not exist`);
  }
}
BackupNotFoundError.prototype.name = 'BackupNotFoundError';

/** Resolves `identifier` (id, shortcut or name); an id is read directly without listing the catalog. */
export async function showBackup(deps: { store: ObjectStore; layout: BarmanLayout }, input: { identifier: string; signal?: AbortSignal }): Promise<ShownBackup> {
  const { store, layout } = deps;
  let id = input.identifier;
  if (!isBackupIdText(id)) {
    const catalog = await loadCatalog(store, layout, input.signal ? { signal: input.signal } : {});
    id = resolveBackupId(catalog, id);
    const b = findBackup(catalog, id);
    if (b) return { id, info: b.info, keep: b.keep, warnings: [...b.warnings] };
  }
  let text: string;
  try {
    text = (await readAll(store, layout.backupInfoKey(id), input.signal)).toString('utf8');
  } catch (err) {
    if (err instanceof ObjectNotFoundError) throw new BackupNotFoundError(id, layout.serverName);
    throw err;
  }
  const { info, warnings } = parseBackupInfo(text);
  const keep = await readKeep(store, layout.keepAnnotationKey(id), input.signal);
  return { id, info, keep, warnings };
}
