/**
 * pgstow's record of what a base backup uploaded: every tar object with its stored size and sha256, so a
 * restore can verify each download end to end. Barman Cloud has no such object (its catalog is pure
 * listing), so the manifest lives beside backup.info as `base/<ID>/pgstow-manifest.json`: barman-cloud 3.4
 * ignores it when listing (it only opens backup.info), restoring (it only fetches `data*`/`<oid>*` tars) and
 * deleting (it deletes the tars and backup.info; the manifest is left as a small orphan that pgstow ignores).
 * Written after the tars and before backup.info, so a backup listed as DONE always has its manifest
 * (unless it was made by barman-cloud-backup, which restore must accept without one).
 */

export const BACKUP_MANIFEST_NAME = 'pgstow-manifest.json';
export const BACKUP_MANIFEST_FORMAT = 'pgstow-backup-manifest';
export const BACKUP_MANIFEST_VERSION = 1;

/** Tar stream compressions: Barman's three plus pgstow's lz4 and zstd. */
export type BackupCompression = 'none' | 'gzip' | 'bzip2' | 'snappy' | 'lz4' | 'zstd';

export interface ManifestObject {
  /** Object name relative to the backup directory, e.g. "data.tar.gz", "data_0001.tar.gz", "16384.tar". */
  name: string;
  /** "data" for PGDATA, or the tablespace oid as a decimal string. */
  archive: string;
  /** 0 for the first volume (no number in the name), n for name_000n. */
  volume: number;
  /** Bytes stored (after compression). */
  size: number;
  /** Lowercase hex SHA-256 of the stored bytes. */
  sha256: string;
  /** Bytes of the tar stream before compression. */
  tarSize: number;
  /** Number of tar members (files, directories, links) in this volume. */
  members: number;
}

export interface BackupManifest {
  format: typeof BACKUP_MANIFEST_FORMAT;
  version: typeof BACKUP_MANIFEST_VERSION;
  backupId: string;
  /** pgstow version that wrote the backup. */
  createdBy: string;
  compression: BackupCompression;
  /** ISO-8601 time the manifest was written. */
  createdAt: string;
  /** Every tar object of the backup, in archive then volume order. */
  objects: ManifestObject[];
  /**
   * What backup.info must say about the WAL of this backup (written by pgstow since the backup.info integrity
   * checks; absent in older manifests). A restore refuses a backup.info that disagrees.
   */
  backupInfo?: ManifestBackupInfo;
}

export interface ManifestBackupInfo {
  beginWal: string;
  beginXlog: string;
  endWal: string;
  endXlog: string;
  timeline: number;
  systemid: string | null;
}

/** copy_stats key (a Python dict Barman reads and ignores) holding the manifest's sha256: pgstow backup.info says a manifest exists. */
export const MANIFEST_SHA256_COPY_STAT = 'pgstow_manifest_sha256';

/** Fields of `summary` that `actual` (from backup.info) contradicts, as "name: manifest value ≠ backup.info value". */
export function manifestDisagreements(summary: ManifestBackupInfo, actual: Partial<Record<keyof ManifestBackupInfo, string | number | null | undefined>>): string[] {
  const out: string[] = [];
  for (const k of Object.keys(summary) as Array<keyof ManifestBackupInfo>) {
    if (String(summary[k]) !== String(actual[k] ?? null)) out.push(`${k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}: ${String(summary[k])} in the manifest, ${String(actual[k] ?? null)} in backup.info`);
  }
  return out;
}

export function serializeBackupManifest(m: BackupManifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}

/** Parses and validates a manifest; throws Error naming the first problem (callers wrap it with the key). */
export function parseBackupManifest(text: string): BackupManifest {
  const raw: unknown = JSON.parse(text);
  if (typeof raw !== 'object' || raw === null) throw new Error('manifest is not a JSON object');
  const m = raw as Record<string, unknown>;
  if (m.format !== BACKUP_MANIFEST_FORMAT) throw new Error(`unexpected manifest format ${String(m.format)}`);
  if (m.version !== BACKUP_MANIFEST_VERSION) throw new Error(`unsupported manifest version ${String(m.version)}`);
  if (typeof m.backupId !== 'string') throw new Error('manifest has no backupId');
  if (!Array.isArray(m.objects)) throw new Error('manifest has no objects list');
  for (const o of m.objects as unknown[]) {
    const e = o as Record<string, unknown>;
    if (typeof e.name !== 'string' || typeof e.archive !== 'string' || typeof e.size !== 'number'
      || typeof e.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.sha256) || typeof e.volume !== 'number') {
      throw new Error(`invalid manifest entry ${JSON.stringify(o)}`);
    }
  }
  return m as unknown as BackupManifest;
}
