/**
 * What wal-archive does when the store already holds an object for the WAL it is asked to archive (under any
 * compression suffix): identical content is success; different content is a conflict (two servers archive to one
 * destination), refused and left as it is; an object that is not a valid copy at all (truncated by a store crash,
 * undecodable, not the segment its name says) is damage, replaced when the local file is a valid segment.
 */
import { createHash } from 'node:crypto';
import { OperationError } from '../errors.js';
import { parseWalFileName } from '../domain/wal/wal-file-name.js';
import { walSegmentProblem } from '../domain/wal/wal-segment-check.js';
import { CODECS, CodecError, codecForSuffix } from '../pipeline/codecs.js';
import type { BarmanLayout } from '../repository/barman-layout.js';
import { readAll } from '../storage/object-store-helpers.js';
import { isCommonPrefix, type ObjectStore } from '../storage/object-store.js';
import { WAL_MD5_METADATA } from './wal-verification.js';

export interface StoredCopy {
  readonly key: string;
  /** The decoded content, when the object is a valid copy of the WAL. */
  readonly content?: Buffer;
  /** Why the object is not a valid copy. */
  readonly damage?: string;
}

export type ExistingVerdict =
  | { kind: 'identical'; keys: string[] }
  /** Damaged copies only (plus possibly identical ones): `damaged` must go, `keep` is a good identical copy. */
  | { kind: 'damaged'; damaged: StoredCopy[]; keep: string | undefined };

/** Keys of every object stored for `walName` (uncompressed and every codec suffix). */
export async function existingCopies(store: ObjectStore, layout: BarmanLayout, walName: string, signal?: AbortSignal): Promise<string[]> {
  const base = layout.walKey(walName);
  const wanted = new Set([base, ...Object.values(CODECS).map((c) => base + c.suffix)]);
  const found: string[] = [];
  for await (const entry of store.list(base, signal ? { signal } : {})) {
    if (!isCommonPrefix(entry) && wanted.has(entry.key)) found.push(entry.key);
  }
  return found;
}

/** Reads and decodes one stored copy; a copy that cannot be a valid one is returned with its damage. */
export async function readCopy(store: ObjectStore, key: string, walName: string, signal?: AbortSignal): Promise<StoredCopy> {
  let recorded: string | undefined;
  let computed: string | undefined;
  const raw = await readAll(store, key, signal, (info) => { recorded = info.metadata?.[WAL_MD5_METADATA]?.toLowerCase(); computed = info.md5?.toLowerCase(); });
  // A store that ignores create-only writes can end up with one archiver's bytes and another's metadata: restore
  // refuses such an object, so it is damage, never an identical copy. Restore also checks the MD5 the store
  // computed (Azure's Content-MD5: the only one of a WAL hashed as it was sent).
  const actual = recorded === undefined && computed === undefined ? undefined : createHash('md5').update(raw).digest('hex');
  if (recorded !== undefined && actual !== recorded) return { key, damage: `its MD5 is ${actual}, but ${recorded} was recorded when it was archived` };
  if (computed !== undefined && actual !== computed) return { key, damage: `its MD5 is ${actual}, but the store recorded ${computed} for it` };
  const codec = codecForSuffix(key);
  let content: Buffer;
  try {
    content = codec ? await codec.decompress(raw) : raw;
  } catch (err) {
    if (err instanceof CodecError) return { key, damage: err.message };
    throw err;
  }
  const kind = parseWalFileName(walName).kind;
  if (kind === 'segment' || kind === 'partial') {
    const problem = walSegmentProblem(walName.slice(0, 24), content, { firstPageOnly: kind === 'partial' });
    if (problem !== undefined) return { key, damage: problem };
  }
  return { key, content };
}

/**
 * Judges the stored copies against the local file's bytes: throws the conflict (different, valid content, exit 1,
 * nothing overwritten); otherwise says whether every copy is identical or which ones are damaged.
 */
export function judgeCopies(store: ObjectStore, walName: string, file: string, data: Buffer, copies: readonly StoredCopy[]): ExistingVerdict {
  for (const c of copies) {
    if (c.content === undefined || c.content.equals(data)) continue;
    throw new OperationError('ERR_WAL_CONFLICT',
      `refusing to archive ${file}: ${store.description} already holds ${c.key} for WAL ${walName} with different content `
      + `(${c.content.length} bytes stored, ${data.length} bytes local); nothing was overwritten. `
      + 'This usually means two servers archive to the same destination and server name.',
      { details: { walName, key: c.key, file } });
  }
  const damaged = copies.filter((c) => c.damage !== undefined);
  if (damaged.length === 0) return { kind: 'identical', keys: copies.map((c) => c.key) };
  return { kind: 'damaged', damaged, keep: copies.find((c) => c.content !== undefined)?.key };
}

/** Refuses to replace a damaged object with a local file that is not a valid segment either. */
export function assertReplaceable(store: ObjectStore, walName: string, file: string, data: Buffer, damaged: readonly StoredCopy[]): void {
  const kind = parseWalFileName(walName).kind;
  if (kind !== 'segment' && kind !== 'partial') return;
  const problem = walSegmentProblem(walName.slice(0, 24), data, { firstPageOnly: kind === 'partial' });
  if (problem === undefined) return;
  const first = damaged[0] as StoredCopy;
  throw new OperationError('ERR_WAL_NOT_REPLACEABLE',
    `cannot archive ${file}: ${store.description} holds a damaged ${first.key} (${first.damage}), and the local file is not a valid `
    + `segment either (${problem}); nothing was changed`, { details: { walName, key: first.key, file } });
}
