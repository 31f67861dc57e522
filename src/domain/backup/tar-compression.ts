/**
 * Compression of a backup tar object, told by its key's extension only (barman-cloud never sniffs):
 * .tar, .tar.gz, .tar.bz2, .tar.snappy (Barman, every version), .tar.lz4 (Barman 3.19, pgstow) and .tar.zst (pgstow
 * only: Barman skips the suffix).
 */
export type TarCompression = 'none' | 'gzip' | 'bzip2' | 'snappy' | 'lz4' | 'zstd';

export const TAR_EXTENSIONS: ReadonlyArray<readonly [string, TarCompression]> = [
  ['tar', 'none'], ['tar.gz', 'gzip'], ['tar.bz2', 'bzip2'], ['tar.snappy', 'snappy'], ['tar.lz4', 'lz4'], ['tar.zst', 'zstd'],
];

/** The compression for an extension after the first "." (e.g. "tar.gz"); undefined if not a tar. */
export function tarCompressionOf(extension: string): TarCompression | undefined {
  return TAR_EXTENSIONS.find(([s]) => s === extension)?.[1];
}
