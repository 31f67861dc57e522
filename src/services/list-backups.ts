/** Lists a server's backups (barman-cloud-backup-list / pgstow backup list), optionally with the WAL report. */
import type { BarmanLayout } from '../repository/barman-layout.js';
import { loadCatalog, type BackupCatalog } from '../repository/backup-catalog.js';
import type { ObjectStore } from '../storage/object-store.js';
import { walArchiveReport, type WalArchiveReport } from './wal-archive-report.js';

export interface ListBackupsResult {
  catalog: BackupCatalog;
  wal: WalArchiveReport | null;
}

export async function listBackups(deps: { store: ObjectStore; layout: BarmanLayout }, input: { withWal: boolean; signal?: AbortSignal }): Promise<ListBackupsResult> {
  const catalog = await loadCatalog(deps.store, deps.layout, input.signal ? { signal: input.signal } : {});
  const wal = input.withWal ? await walArchiveReport(deps.store, deps.layout, catalog, input.signal) : null;
  return { catalog, wal };
}
