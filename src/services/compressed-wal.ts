/**
 * A WAL file compressed for archiving as it is read: the file streams through the codec's compressor in
 * 256 KiB reads, and only the compressed chunks are kept (hashed as they come), to be sent as they are. A 16
 * MiB segment read whole and compressed in one call held the segment, the compressor's output chunks and their
 * concatenation at once (gzip, half-compressible WAL: 32 MB of buffers; lz4: 40); this holds the compressed
 * bytes and one read.
 */
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CodecError, type Codec } from '../pipeline/codecs.js';
import type { BytePacer } from '../gc-pacer.js';
import type { FileIdentity } from './wal-spool.js';

export interface CompressedWal {
  /** A fresh stream of the compressed bytes for each attempt. */
  body: () => Readable;
  size: number;
  md5: Buffer;
  /** The file's identity when it was read (the caller checks it again after the upload). */
  identity: FileIdentity;
  /** The compressed bytes as the compressor gave them (what a read-back is compared with). */
  chunks: readonly Buffer[];
}

const READ_CHUNK = 256 * 1024;

/**
 * Compresses `file`, feeding every byte read to `inspect` (the segment check). File system errors reject as
 * they are (the caller names the file), the compressor's as CodecError.
 */
export async function compressWalFile(file: string, codec: Codec, level: number | undefined,
  inspect: (chunk: Buffer) => void, pacer?: BytePacer): Promise<CompressedWal> {
  const fh = await fsp.open(file, 'r');
  try {
    const st = await fh.stat();
    const identity: FileIdentity = { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
    const chunks: Buffer[] = [];
    const hash = createHash('md5');
    let size = 0;
    const read = new Transform({
      transform(chunk: Buffer, _enc, cb) { inspect(chunk); pacer?.note(chunk.length); cb(null, chunk); },
    });
    const compressor = codec.createCompressor(level);
    let codecFailure: unknown;
    compressor.once('error', (err) => { codecFailure = err; });
    const keep = new Writable({
      write(chunk: Buffer, _enc, cb) { chunks.push(chunk); hash.update(chunk); size += chunk.length; cb(); },
    });
    try {
      await pipeline(fh.createReadStream({ highWaterMark: READ_CHUNK, autoClose: false, start: 0 }), read, compressor, keep);
    } catch (err) {
      if (err === codecFailure) throw new CodecError(`cannot compress ${codec.name} data: ${(err as Error).message}`, { cause: err });
      throw err;
    }
    return { body: () => Readable.from(chunks, { objectMode: false }), size, md5: hash.digest(), identity, chunks };
  } finally {
    await fh.close();
  }
}
