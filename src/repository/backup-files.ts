/**
 * Which objects make up a tar backup (barman-cloud-restore's get_backup_files, spec §5.4): below
 * base/<ID>/, `data.<ext>` is PGDATA's first volume and `data_NNNN.<ext>` the extra ones; likewise
 * `<oid>.<ext>` per tablespace listed in backup.info. Only tar extensions are taken; the order is the
 * extraction order (PGDATA first, then tablespaces in backup.info order).
 */
import { OperationError } from '../errors.js';
import type { ObjectInfo } from '../storage/object-store.js';
import { tarCompressionOf, type TarCompression } from '../domain/backup/tar-compression.js';

export interface BackupFile {
  key: string;
  size: number;
  /** "data" or the tablespace oid. */
  base: string;
  /** 0 for the first volume, n for base_000n. */
  volume: number;
  compression: TarCompression;
}

export interface DiscoveredFiles {
  files: BackupFile[];
  /** Keys that look like part of the backup but have an unknown extension (reported as warnings). */
  ignored: string[];
}

export function discoverBackupFiles(backupPrefix: string, objects: readonly ObjectInfo[], tablespaceOids: readonly number[], backupId: string): DiscoveredFiles {
  const bases = ['data', ...tablespaceOids.map(String)];
  const byBase = new Map<string, BackupFile[]>(bases.map((b) => [b, []]));
  const ignored: string[] = [];
  for (const o of objects) {
    if (!o.key.startsWith(backupPrefix)) continue;
    const name = o.key.slice(backupPrefix.length);
    if (name.includes('/')) continue;
    const m = /^([^._]+)(?:_(\d+))?\.(.+)$/.exec(name);
    if (!m || !byBase.has(m[1] as string)) continue;
    const compression = tarCompressionOf(m[3] as string);
    if (!compression) { if (name !== 'backup.info') ignored.push(o.key); continue; }
    (byBase.get(m[1] as string) as BackupFile[]).push({ key: o.key, size: o.size, base: m[1] as string, volume: m[2] ? Number(m[2]) : 0, compression });
  }
  const files: BackupFile[] = [];
  for (const base of bases) {
    const list = (byBase.get(base) as BackupFile[]).sort((a, b) => a.volume - b.volume || a.key.localeCompare(b.key));
    const main = list.filter((f) => f.volume === 0);
    if (main.length === 0) {
      throw new OperationError('ERR_BACKUP_INCOMPLETE', `backup ${backupId} is incomplete: missing file ${backupPrefix}${base}.tar[.gz|.bz2|.snappy|.lz4|.zst]${base === 'data' ? ' (PGDATA)' : ` (tablespace oid ${base})`}`);
    }
    if (main.length > 1) {
      throw new OperationError('ERR_BACKUP_AMBIGUOUS', `backup ${backupId} has several first volumes for ${base}: ${main.map((f) => f.key).join(', ')}`);
    }
    files.push(...list);
  }
  return { files, ignored };
}
