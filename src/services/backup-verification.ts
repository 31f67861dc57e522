/**
 * Why a backup cannot be verified before it is restored: a status other than DONE, a backup.info that does not
 * hold together (backupInfoProblem), a pgstow backup whose manifest is missing or is not the one its backup.info
 * records, or a backup.info that contradicts what the manifest says of it. restore refuses such a backup, naming
 * the object, unless the user asks for it (--allow-unverified).
 */
import { manifestDisagreements, type ManifestBackupInfo } from '../domain/backup/backup-manifest.js';
import type { RestoreBackupInfo } from '../domain/recovery/restore-backup-info.js';

export interface ManifestSeen {
  key: string;
  /** sha256 of the manifest object as stored. */
  sha256: string;
  summary: ManifestBackupInfo | undefined;
}

export function unverifiedReasons(backup: RestoreBackupInfo, infoKey: string, manifestKey: string, manifest: ManifestSeen | undefined): string[] {
  const reasons: string[] = [];
  if (backup.status !== 'DONE') reasons.push(`${infoKey} says status ${backup.status}, not DONE: the backup may be incomplete`);
  if (backup.problem !== undefined) reasons.push(`${infoKey} does not hold together: ${backup.problem}`);
  if (backup.manifestSha256 !== undefined) {
    if (!manifest) reasons.push(`${infoKey} records a pgstow manifest, but ${manifestKey} is missing: the tars cannot be checked`);
    else if (manifest.sha256 !== backup.manifestSha256) reasons.push(`${manifestKey} is not the manifest ${infoKey} records (sha256 ${manifest.sha256}, recorded ${backup.manifestSha256})`);
  }
  if (manifest?.summary) {
    const diff = manifestDisagreements(manifest.summary, {
      beginWal: backup.beginWal, beginXlog: backup.beginXlog, endWal: backup.endWal, endXlog: backup.endXlog,
      timeline: backup.timeline, systemid: backup.systemId,
    });
    if (diff.length > 0) reasons.push(`${infoKey} contradicts ${manifestKey}: ${diff.join('; ')}`);
  }
  return reasons;
}
