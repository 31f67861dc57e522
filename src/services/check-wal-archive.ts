/**
 * Pre-flight for a server about to archive into a destination (barman-cloud-check-wal-archive): without a
 * timeline the archive must hold no WAL at all; with --timeline N nothing on timeline N or newer. A missing
 * bucket passes and is created (Barman ≥ 3.16), where the store and the credentials allow it.
 */
import { OperationError } from '../errors.js';
import type { BarmanLayout } from '../repository/barman-layout.js';
import { listWals } from '../repository/backup-catalog.js';
import { BucketNotFoundError } from '../storage/errors.js';
import type { ObjectStore } from '../storage/object-store.js';

export interface CheckWalArchiveResult {
  /** WAL objects that make the check fail (all of them without a timeline). */
  conflicting: number;
  bucketMissing: boolean;
  /** The bucket was missing and this check created it (Barman ≥ 3.16). */
  bucketCreated: boolean;
  /** First few conflicting keys, for messages. */
  examples: string[];
}

export class WalArchiveNotEmptyError extends OperationError {
  constructor(serverName: string, detail: string) {
    super('ERR_WAL_ARCHIVE_NOT_EMPTY', `WAL archive check failed for server ${serverName}: ${detail}`);
  }
}
WalArchiveNotEmptyError.prototype.name = 'WalArchiveNotEmptyError';

export async function checkWalArchive(deps: { store: ObjectStore; layout: BarmanLayout }, input: { timeline?: number; signal?: AbortSignal }): Promise<CheckWalArchiveResult> {
  const result: CheckWalArchiveResult = { conflicting: 0, bucketMissing: false, bucketCreated: false, examples: [] };
  const names = new Set<string>();
  try {
    for await (const w of listWals(deps.store, deps.layout, input.signal)) {
      const tli = parseInt(w.name.slice(0, 8), 16);
      if (input.timeline !== undefined && tli < input.timeline) continue;
      // Barman counts WAL names (one per name, whatever the compressed copies).
      if (names.has(w.name)) continue;
      names.add(w.name);
      result.conflicting++;
      if (result.examples.length < 5) result.examples.push(w.key);
      // Without a timeline the first WAL decides; no need to list a large archive to the end.
      if (input.timeline === undefined) break;
    }
  } catch (err) {
    if (!(err instanceof BucketNotFoundError)) throw err;
    // Barman ≥ 3.16 creates the bucket here, and CloudNativePG runs this check before a new cluster's first archive:
    // without it every archive_command would fail on the missing bucket.
    if (!deps.store.createBucket) return { ...result, bucketMissing: true };
    await deps.store.createBucket(input.signal ? { signal: input.signal } : {});
    return { ...result, bucketMissing: true, bucketCreated: true };
  }
  if (result.conflicting > 0) {
    const detail = input.timeline === undefined
      ? 'Expected empty archive'
      : `Found ${result.conflicting} file${result.conflicting > 1 ? 's' : ''} in WAL archive equal to or newer than timeline ${input.timeline}`;
    throw new WalArchiveNotEmptyError(deps.layout.serverName, detail);
  }
  return result;
}
