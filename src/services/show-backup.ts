/** One backup's metadata (barman-cloud-backup-show / pgstow backup show). */
import type { BackupInfo } from '../domain/backup/backup-info.js';
import type { BarmanLayout } from '../repository/barman-layout.js';
import { BackupNotFoundError, findBackup, isBackupIdText, loadCatalog, readBackupInfo, readKeep, resolveBackupId } from '../repository/backup-catalog.js';
import type { ObjectStore } from '../storage/object-store.js';

export { BackupNotFoundError };

export interface ShownBackup {
  id: string;
  info: BackupInfo;
  keep: string | null;
  warnings: string[];
}

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
  const read = await readBackupInfo(store, layout, id, input.signal);
  if (!read) throw new BackupNotFoundError(`Backup ${id} for server ${layout.serverName} does not exist`);
  const keep = await readKeep(store, layout.keepAnnotationKey(id), input.signal);
  return { id, info: read.info, keep, warnings: read.warnings };
}
