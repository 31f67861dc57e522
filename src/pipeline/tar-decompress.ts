/**
 * Decompression of backup tar objects, chosen by the key's suffix only (as barman-cloud-restore does). The
 * codecs are the shared ones (codecs.ts): native libraries load only when a backup uses them. Decompression
 * runs off the main thread where it costs, which extracts the tar meanwhile: gzip and zstd in node:zlib run on
 * the libuv thread pool; lz4 decodes in-process in WebAssembly (lz4-wasm.ts), cheaper than a pipe to the lz4
 * program (docs/performance.md, "LZ4 in WebAssembly").
 *
 * gzip's output buffers are 256 KiB. zlib's default 16 KiB made a 330 MB restore three times slower (1.6 s vs
 * 0.5 s). But node:zlib pushes what each input chunk inflates to as a slice of its output buffer, and a 64 KiB
 * download chunk inflates to ~140 KiB: with 1 MiB buffers most slices were under a quarter of their buffer,
 * which the file writer copies so as not to pin the whole buffer (file-write-queue.ts): 312 of 461 MB copied
 * once more on the main thread, and twice the scavenge time. With 256 KiB: 69 MB copied, 5 MB less peak RSS.
 */
import { PassThrough, type Duplex } from 'node:stream';
import * as zlib from 'node:zlib';
import type { TarCompression } from '../domain/backup/tar-compression.js';
import { CodecError, decodeErrors, getCodec, lz4StreamDecompressor } from './codecs.js';
import { Lz4Decoder, Lz4FormatError } from './lz4-frames.js';

const CHUNK = 1 << 20;
/**
 * Pieces of an lz4 block's output handed to the extractor: views, so their size costs no memory; 256 KiB instead of
 * 64 KiB is a quarter of the trips through the generators and the tar parser (pgstow's blocks are 4 MiB; Barman's
 * 64 KiB blocks give 64 KiB pieces either way).
 */
const LZ4_TAR_PIECE = 256 << 10;
const GZIP_CHUNK = 256 << 10;

/** A stream that turns the object's bytes into tar bytes. */
export function createTarDecompressor(compression: TarCompression): Duplex {
  if (compression === 'none') return new PassThrough({ highWaterMark: CHUNK });
  if (compression === 'gzip') return decodeErrors('gzip', zlib.createGunzip({ chunkSize: GZIP_CHUNK }));
  if (compression === 'lz4') return lz4StreamDecompressor();
  return getCodec(compression).createDecompressor();
}

/**
 * An lz4 object's tar bytes for an extractor that pulls, without a stream in between: blocks decode as the
 * extractor asks, and each piece (≤ 256 KiB, LZ4_TAR_PIECE) is a view of the decoder's memory, valid until the extractor asks
 * for the next one (extractTar's `borrowed`), which copies it once into its write buffers. Through the Duplex
 * every piece was first copied out into a new Buffer (18,000 allocations per 1.2 GB, garbage for the young
 * collections) and then copied again by the file writer. With `lent` source chunks (a download's reused memory),
 * the decoder copies what it holds of one before the next is asked for.
 */
export async function* lz4TarPieces(source: AsyncIterable<Buffer>, lent: () => boolean = () => false): AsyncGenerator<Buffer> {
  const decoder = new Lz4Decoder();
  try {
    for await (const chunk of source) {
      decoder.input(chunk);
      for (let piece = decoder.view(LZ4_TAR_PIECE); piece; piece = decoder.view(LZ4_TAR_PIECE)) yield piece;
      // A lent chunk is valid until the next is asked for: the few bytes the decoder still holds of it are copied.
      if (lent()) decoder.own();
    }
    decoder.end();
  } catch (err) {
    // As the lz4 Duplex reports it (decodeErrors): damaged data is a codec error, which names the object.
    if (err instanceof Lz4FormatError) throw new CodecError(`cannot decompress lz4 data: ${err.message}`, { cause: err });
    throw err;
  }
}
