/**
 * The only module that builds object keys. Byte-identical to barman-cloud (barman/cloud.py, os.path.join
 * semantics): an empty prefix disappears, history files sit directly under wals/.
 *   <P>/<S>/wals/<hashdir>/<wal>[.gz|…]
 *   <P>/<S>/base/<ID>/backup.info, data.tar[.gz], data_0001.tar, <oid>.tar, annotations/keep
 */
import { walHashDir } from '../domain/wal/wal-file-name.js';
import { UsageError } from '../errors.js';

export class BarmanLayout {
  /** Everything for this server lives below this prefix (ends with "/"). */
  readonly serverPrefix: string;

  constructor(readonly prefix: string, readonly serverName: string) {
    assertServerName(serverName);
    this.serverPrefix = join(prefix, serverName) + '/';
  }

  get walsPrefix(): string { return `${this.serverPrefix}wals/`; }
  get basePrefix(): string { return `${this.serverPrefix}base/`; }

  /** Directory (with trailing "/") holding a WAL file's objects. */
  walDir(walName: string): string {
    const hash = walHashDir(walName);
    return hash ? `${this.walsPrefix}${hash}/` : this.walsPrefix;
  }

  /** Key of a WAL object; `suffix` is a compression suffix such as ".gz" or "". */
  walKey(walName: string, suffix = ''): string {
    return `${this.walDir(walName)}${walName}${suffix}`;
  }

  backupPrefix(backupId: string): string { return `${this.basePrefix}${backupId}/`; }
  backupInfoKey(backupId: string): string { return `${this.backupPrefix(backupId)}backup.info`; }
  keepAnnotationKey(backupId: string): string { return `${this.backupPrefix(backupId)}annotations/keep`; }
  /** pgstow's upload manifest (src/domain/backup/backup-manifest.ts); not a Barman object. */
  backupManifestKey(backupId: string): string { return `${this.backupPrefix(backupId)}pgstow-manifest.json`; }

  /**
   * Key of a tar volume: `name` is "data" or a tablespace oid; volume 0 is the first (no number),
   * volume n is name_000n; `suffix` is "", ".gz", ".bz2", ".snappy" (or pgstow's ".lz4", ".zst").
   */
  backupTarKey(backupId: string, name: string, volume = 0, suffix = ''): string {
    const base = volume === 0 ? name : `${name}_${String(volume).padStart(4, '0')}`;
    return `${this.backupPrefix(backupId)}${base}.tar${suffix}`;
  }
}

/**
 * A server name is one key segment of text: not empty, no "/", no control characters, and no U+FFFD, which is what
 * bytes that are not UTF-8 become on the command line (they would be stored as "srv\uFFFD" and never found again).
 */
export function assertServerName(name: string): void {
  const shown = JSON.stringify(name).replace(/\uFFFD/g, '\\uFFFD');
  if (name === '' || name === '.' || name === '..' || name.includes('/')) throw new UsageError(`invalid server name ${shown}`);
  if (name.includes('\uFFFD')) throw new UsageError(`invalid server name ${shown}: it is not valid UTF-8 text (bytes the command line could not decode)`);
  if (/\p{Cc}/u.test(name)) throw new UsageError(`invalid server name ${shown}: it contains a control character`);
}

function join(a: string, b: string): string {
  const left = a.replace(/\/+$/, '');
  return left ? `${left}/${b}` : b;
}
