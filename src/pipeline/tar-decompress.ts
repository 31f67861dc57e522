/**
 * Decompression of backup tar objects, chosen by the key's suffix only (as barman-cloud-restore does). The
 * codecs are the shared ones (codecs.ts): native libraries load only when a backup uses them.
 */
import { PassThrough, type Duplex } from 'node:stream';
import type { TarCompression } from '../domain/backup/tar-compression.js';
import { getCodec } from './codecs.js';

/** A stream that turns the object's bytes into tar bytes. */
export function createTarDecompressor(compression: TarCompression): Duplex {
  if (compression === 'none') return new PassThrough({ highWaterMark: 1 << 20 });
  return getCodec(compression).createDecompressor();
}
