/**
 * Compression of backup tar streams. Barman writes gzip (`-z`), bzip2 (`-j`) and snappy framing
 * (`--snappy`); pgstow adds lz4 and zstd (barman-cloud cannot restore those). The compression is only
 * visible in the object key suffix (backup.info says compression=None), so restore picks the decompressor
 * from the key. The codecs themselves live in codecs.ts (shared with WAL archiving).
 */
import type { Duplex } from 'node:stream';
import type { BackupCompression } from '../domain/backup/backup-manifest.js';
import { getCodec } from './codecs.js';

export const TAR_SUFFIX: Record<BackupCompression, string> = {
  none: '', gzip: '.gz', bzip2: '.bz2', snappy: '.snappy', lz4: '.lz4', zstd: '.zst',
};

/** A fresh compressor for one tar volume, or undefined for none. `level` defaults per codec (gzip 6). */
export function createTarCompressor(compression: BackupCompression, level?: number): Duplex | undefined {
  if (compression === 'none') return undefined;
  return getCodec(compression).createCompressor(level);
}
