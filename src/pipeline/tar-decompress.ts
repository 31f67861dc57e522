/**
 * Decompression of backup tar objects, chosen by the key's suffix only (as barman-cloud-restore does). The
 * codecs are the shared ones (codecs.ts): native libraries load only when a backup uses them. Decompression
 * runs off the main thread where it costs, which extracts the tar meanwhile: gzip and zstd in node:zlib run on
 * the libuv thread pool, lz4 in the lz4 program when the machine has it (else in JavaScript, lz4-frames.ts). gzip gets 1 MiB output chunks: zlib's default 16 KiB
 * made a 330 MB restore three times slower (1.6 s vs 0.5 s).
 */
import { PassThrough, type Duplex } from 'node:stream';
import * as zlib from 'node:zlib';
import type { TarCompression } from '../domain/backup/tar-compression.js';
import { decodeErrors, getCodec, lz4StreamDecompressor } from './codecs.js';

const CHUNK = 1 << 20;

/** A stream that turns the object's bytes into tar bytes. */
export function createTarDecompressor(compression: TarCompression): Duplex {
  if (compression === 'none') return new PassThrough({ highWaterMark: CHUNK });
  if (compression === 'gzip') return decodeErrors('gzip', zlib.createGunzip({ chunkSize: CHUNK }));
  if (compression === 'lz4') return lz4StreamDecompressor();
  return getCodec(compression).createDecompressor();
}
