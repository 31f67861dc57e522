/**
 * What pgstow checks so that restore_command never hands PostgreSQL bytes other than those archived:
 *  - at archive time, the MD5 of the stored object goes into its metadata (Barman ignores metadata);
 *  - at restore time, the download's MD5 must match that record and the MD5 the store itself reports, the
 *    codec's own checksums must hold, and the decoded bytes must be a WAL segment of the right name and size
 *    with intact page headers and record CRCs (WalSegmentChecker). Objects Barman wrote have no record: they
 *    get the store's MD5, the codec and the segment checks.
 */
import { createHash, type Hash } from 'node:crypto';
import { ExitCode } from '../errors.js';
import { WalSegmentChecker } from '../domain/wal/wal-segment-check.js';
import { walCrc32c } from './wal-crc32c.js';
import type { WalFileName } from '../domain/wal/wal-file-name.js';
import { StorageError } from '../storage/errors.js';
import type { ObjectInfo } from '../storage/object-store.js';

/** User metadata key holding the hex MD5 of the stored WAL object (S3 x-amz-meta-, Azure and GCS metadata). */
export const WAL_MD5_METADATA = 'pgstowmd5';

/** A WAL object that exists but does not hold what was archived. Exit 128 in wal-restore (ExitCode.DAMAGED_WAL). */
export class DamagedWalError extends StorageError {
  constructor(provider: string, key: string, why: string, cause?: unknown) {
    super('ERR_WAL_DAMAGED', ExitCode.DAMAGED_WAL, `WAL object ${key} is damaged: ${why}; it was not restored`,
      { provider, operation: 'get', key, retryable: false, ...(cause !== undefined ? { cause } : {}) });
  }
}
DamagedWalError.prototype.name = 'DamagedWalError';

/** Checks one WAL download as it streams: raw bytes (as stored) and decoded bytes (as PostgreSQL gets them). */
export class WalDownloadCheck {
  private readonly md5: Hash = createHash('md5');
  private readonly segment: WalSegmentChecker | undefined;
  private info: ObjectInfo | undefined;
  /** Whether the download is hashed: decided at its first byte, when the store has said what MD5 to expect. */
  private hashing: boolean | undefined;

  constructor(private readonly provider: string, private readonly key: string, wal: WalFileName, fromPartial: boolean) {
    if (wal.kind === 'segment' || wal.kind === 'partial') {
      const name = wal.name.slice(0, 24);
      const firstPageOnly = fromPartial || wal.kind === 'partial';
      this.segment = new WalSegmentChecker(name, { firstPageOnly, ...(firstPageOnly ? {} : { crc32c: walCrc32c() }) });
    }
  }

  /** For GetOptions.onInfo. */
  readonly onInfo = (info: ObjectInfo): void => { this.info = info; };

  raw(chunk: Buffer): void {
    this.hashing ??= this.expectsMd5();
    if (this.hashing) this.md5.update(chunk);
  }

  /**
   * MD5 costs ~35 ms of CPU per 16 MiB: computed only when there is one to compare it with (a record from
   * archive time, or the store's own). Objects Barman wrote on S3-compatible servers and file:// stores have
   * neither; their codec and segment checks still run. Unknown (no info before the bytes): hashed.
   */
  private expectsMd5(): boolean {
    const info = this.info;
    return info === undefined || info.md5 !== undefined || info.metadata?.[WAL_MD5_METADATA] !== undefined;
  }

  decoded(chunk: Buffer): void { this.segment?.update(chunk); }

  /** Throws DamagedWalError when the object is not what was archived. */
  verify(segmentSize: number | undefined): void {
    if (this.hashing !== false) {
      const md5 = this.md5.digest('hex');
      const recorded = this.info?.metadata?.[WAL_MD5_METADATA]?.toLowerCase();
      if (recorded !== undefined && recorded !== md5) this.damaged(`its MD5 is ${md5}, but ${recorded} was recorded when it was archived`);
      const stored = this.info?.md5?.toLowerCase();
      if (stored !== undefined && stored !== md5) this.damaged(`its MD5 is ${md5}, but the store recorded ${stored} for it`);
    }
    if (!this.segment) return;
    const problem = this.segment.finish();
    if (problem !== undefined) this.damaged(problem);
    if (segmentSize !== undefined && this.segment.size !== segmentSize) {
      this.damaged(`it holds a ${this.segment.size}-byte segment where ${segmentSize}-byte segments are restored`);
    }
  }

  damaged(why: string, cause?: unknown): never {
    throw new DamagedWalError(this.provider, this.key, why, cause);
  }
}
