/**
 * Which stored object answers a restore request for a WAL name (Barman's wal-restore scan, §4.2), across
 * every compression suffix pgstow knows. Pure: takes the keys a listing returned.
 *
 * Barman takes the first listed key that is the name plus one compression suffix (or a WAL-ish name such
 * as X.partial), falling back to the exact uncompressed key. pgstow keeps that order but prefers a
 * complete segment over a `.partial` one (Barman would return X.partial when both X and X.partial exist),
 * and never returns a `.backup` history file for a segment request.
 */
export interface WalCandidate {
  key: string;
  /** The compression suffix found at the end of the key ("" = uncompressed). */
  suffix: string;
  /** True when the object is the `.partial` fallback for a requested segment. */
  partial: boolean;
}

export interface CandidateOptions {
  /** Known compression suffixes with the dot, e.g. [".gz", ".bz2"]. */
  suffixes: readonly string[];
  /** Barman ≥ 3.11 --no-partial: never fall back to X.partial. */
  noPartial?: boolean;
}

export function selectWalCandidate(walName: string, dir: string, keys: Iterable<string>, options: CandidateOptions): WalCandidate | undefined {
  const base = dir + walName;
  let exact: WalCandidate | undefined;
  let compressed: WalCandidate | undefined;
  let partial: WalCandidate | undefined;
  for (const key of keys) {
    if (!key.startsWith(base)) continue;
    if (key === base) { exact = { key, suffix: '', partial: false }; continue; }
    const rest = key.slice(base.length);
    const suffix = options.suffixes.find((s) => rest.endsWith(s)) ?? '';
    const middle = rest.slice(0, rest.length - suffix.length);
    if (middle === '' && suffix !== '') { compressed ??= { key, suffix, partial: false }; continue; }
    if (middle === '.partial' && !options.noPartial && !walName.includes('.')) { partial ??= { key, suffix, partial: true }; continue; }
  }
  return compressed ?? exact ?? partial;
}
