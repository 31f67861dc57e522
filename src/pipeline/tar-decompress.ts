/**
 * Decompression of backup tar objects, chosen by the key's suffix only (as barman-cloud-restore does). The
 * codecs are the shared ones (codecs.ts): native libraries load only when a backup uses them. gzip gets
 * 1 MiB output chunks here: zlib's default 16 KiB made a 330 MB restore three times slower (1.6 s vs 0.5 s).
 */
import { PassThrough, type Duplex } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { TarCompression } from '../domain/backup/tar-compression.js';
import { getCodec } from './codecs.js';

/** A stream that turns the object's bytes into tar bytes. */
export function createTarDecompressor(compression: TarCompression): Duplex {
  if (compression === 'none') return new PassThrough({ highWaterMark: 1 << 20 });
  if (compression === 'gzip') return createGunzip({ chunkSize: 1 << 20 });
  return getCodec(compression).createDecompressor();
}
