/** Keep annotations (barman-cloud-backup-keep): add, release, status. The object body is the target, no newline. */
import { OperationError } from '../errors.js';
import { BackupStatus } from '../domain/backup/backup-info.js';
import type { BarmanLayout } from '../repository/barman-layout.js';
import { isBackupIdText, loadCatalog, readKeep, resolveBackupId } from '../repository/backup-catalog.js';
import type { ObjectStore } from '../storage/object-store.js';
import { showBackup } from './show-backup.js';

export type KeepAction = { kind: 'add'; target: 'full' | 'standalone' } | { kind: 'release' } | { kind: 'status' };

export interface KeepResult {
  id: string;
  /** Keep value after the action (status: the current one). */
  keep: string | null;
}

export async function keepBackup(deps: { store: ObjectStore; layout: BarmanLayout }, input: { identifier: string; action: KeepAction; signal?: AbortSignal }): Promise<KeepResult> {
  const { store, layout } = deps;
  let id = input.identifier;
  if (!isBackupIdText(id)) id = resolveBackupId(await loadCatalog(store, layout, input.signal ? { signal: input.signal } : {}), id);
  const key = layout.keepAnnotationKey(id);
  switch (input.action.kind) {
    case 'status':
      return { id, keep: await readKeep(store, key, input.signal) };
    case 'release':
      await store.delete([key], input.signal ? { signal: input.signal } : {});
      return { id, keep: null };
    case 'add': {
      // Throws BackupNotFoundError (exit 1) for an id without backup.info.
      const shown = await showBackup(deps, { identifier: id, ...(input.signal ? { signal: input.signal } : {}) });
      if (shown.info.status !== BackupStatus.DONE) {
        throw new OperationError('ERR_BACKUP_NOT_DONE',
          `Cannot add keep to backup ${id} because it has status ${shown.info.status}. Only backups with status DONE can be kept.`);
      }
      await store.put(key, Buffer.from(input.action.target, 'utf8'), { contentLength: Buffer.byteLength(input.action.target), ...(input.signal ? { signal: input.signal } : {}) });
      return { id, keep: input.action.target };
    }
  }
}
