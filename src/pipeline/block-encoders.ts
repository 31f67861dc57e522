/**
 * Each backup codec cut into blocks that are compressed independently, off the main thread, and joined in
 * order into one valid stream of that codec, so a tar volume compresses on several cores and stays one
 * single-codec file that Barman restores:
 *   gzip   one gzip member (as `pigz -i` writes): independent raw deflate blocks, each ended by a full flush
 *          (no match reaches into another block), an empty final block, CRC32 and size of the whole. Python's
 *          tarfile reads only the first member of a multi-member gzip ("unexpected end of data", measured with
 *          Barman 3.4), so independent members would not do.
 *   bzip2  one stream: a bzip2 process per block, the block bits spliced together (bzip2-blocks.ts).
 *   snappy the framing format is already independent 64 KiB chunks, compressed on the main thread (see
 *          snappyEncoder: the async binding cost ~40 MiB of RSS, and snappy is faster than any upload).
 *   zstd   one frame per block; a sequence of frames is a valid zstd stream (the zstd program, pgstow).
 *          Barman 3.19 restores no .tar.zst at all (it skips the suffix), so no reader of ours needs one frame.
 *   lz4    one frame of independent blocks (python-lz4, hence Barman 3.19, reads only the first frame of a
 *          file): blocks compressed on their own, in order joined under one header, end mark and content
 *          checksum.
 * Work runs on the libuv thread pool (zlib, zstd in node:zlib, snappy) or in a child process (bzip2): no
 * worker threads, whose ~12 MiB each would not fit a sidecar's memory. lz4 is the exception: JavaScript on
 * the main thread (lz4-frames.ts says why), one core; it is only the fallback for machines without the lz4
 * program, which backup-compression.ts runs per volume when it is installed.
 */
import * as zlib from 'node:zlib';
import type { BackupCompression } from '../domain/backup/backup-manifest.js';
import { clamp, getCodec, loadSnappy } from './codecs.js';
import { lz4CompressBlocks, lz4FrameEnd, lz4FrameHeader } from './lz4-compress.js';
import { xxh32Stream } from './xxhash32.js';
import { runFilterProgram } from './child-process-transform.js';
import { Bzip2StreamBuilder, maxBlockInput, parseSingleBlockStream } from './bzip2-blocks.js';
import { SNAPPY_CHUNK, SNAPPY_STREAM_IDENTIFIER, snappyChunk } from './snappy-framing.js';

export type BlockCodec = Exclude<BackupCompression, 'none'>;

/** One stream's encoder: start(), then compress() concurrently and append() in order, then finish(). */
export interface BlockEncoder {
  /** Input bytes per block (bzip2's follows its level; the others take the size asked for). */
  readonly blockSize: number;
  start(): Buffer;
  /** Off the main thread. `previous` is the preceding block's input, for an encoder that primes a dictionary with it (none now). */
  compress(block: Buffer, previous: Buffer | undefined): Promise<Buffer>;
  /** In stream order on the main thread: the bytes to write for this block. */
  append(block: Buffer, compressed: Buffer): Buffer;
  finish(): Buffer;
  /** Frees what the encoder holds (after finish, or when the stream fails). */
  close?(): void;
}

const EMPTY = Buffer.alloc(0);

/**
 * Output buffer size for one block: at least what deflate or zstd can make of it (stored blocks of incompressible
 * input are a little larger than the input: zlib's deflateBound, ZSTD_compressBound), so a block's output is one
 * piece of one buffer in one pass.
 */
export function deflateOutputSize(blockSize: number): number {
  return blockSize + (blockSize >> 10) + 256;
}

/**
 * `outputChunk`: the output buffer of each gzip or zstd stream (the memory plan's compressionOutputChunk); a block's
 * compressed bytes are cut from it, in several pieces when they do not fit (joined once). Default: one block's bound.
 */
export function createBlockEncoder(codec: BlockCodec, level: number | undefined, blockSize: number, outputChunk?: number): BlockEncoder {
  switch (codec) {
    case 'gzip': return gzipEncoder(clamp(getCodec('gzip'), level, 6), blockSize, outputChunk ?? 2 * deflateOutputSize(blockSize));
    case 'zstd': return zstdEncoder(clamp(getCodec('zstd'), level, 4), blockSize, outputChunk ?? 256 * 1024);
    case 'lz4': return lz4Encoder(blockSize);
    case 'snappy': return snappyEncoder(blockSize);
    case 'bzip2': return bzip2Encoder(clamp(getCodec('bzip2'), level, 9));
  }
}

function gzipEncoder(level: number, blockSize: number, outputChunk: number): BlockEncoder {
  // Long-lived raw deflate streams, one per block in flight, each write compressed with a full flush (flush: the
  // whole block in one pass; the pool's own full flush after it then adds nothing): a block's output is cut from
  // the stream's output buffer (outputChunk: one piece, or a few joined once). A fresh zlib call per block (primed
  // with the previous 32 KiB as dictionary) made a zlib context, its dictionary copy and two or three 256 KiB Buffers per block (the output, and its
  // concatenation), which outlived young collections behind the blocks before them (issue 15); it also took
  // ~15 % more CPU. Independent blocks cost +0.2 % of size against the dictionary's +0.02 % (table-like data).
  const pool = new FramePool(() => zlib.createDeflateRaw({
    level, flush: zlib.constants.Z_FULL_FLUSH, chunkSize: outputChunk,
  }), zlib.constants.Z_FULL_FLUSH);
  let crc = 0;
  let size = 0;
  return {
    blockSize,
    // ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=unix, as Node's own gzip header.
    start: () => Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03]),
    compress: (block) => pool.frame(block),
    append(block, compressed) {
      crc = zlib.crc32(block, crc);
      size = (size + block.length) % 2 ** 32;
      return compressed;
    },
    finish() {
      // An empty final fixed-Huffman block (the stream is byte-aligned after a full flush), CRC32, ISIZE.
      const tail = Buffer.alloc(10);
      tail[0] = 0x03;
      tail.writeUInt32LE(crc >>> 0, 2);
      tail.writeUInt32LE(size, 6);
      return tail;
    },
    close: () => pool.close(),
  };
}

function zstdEncoder(level: number, blockSize: number, outputChunk: number): BlockEncoder {
  const z = zlib as typeof zlib & { createZstdCompress?: (o: zlib.ZlibOptions) => zlib.Gzip };
  const zc = (zlib.constants as unknown as Record<string, number>);
  if (typeof z.createZstdCompress === 'function' && zc.ZSTD_e_end !== undefined) {
    const create = z.createZstdCompress;
    // Each block is a frame of its own, so no match reaches further back than the block: a window as large as
    // the block (not level 4's 2 MiB) compresses the same and keeps each pooled context ~2 MiB smaller (issue 15).
    // Each frame ends with the flush after its block (ZSTD_e_end). Not a write ended by itself (flush: e_end):
    // that measured 121-127 MB peak RSS against 108-112 (zstd then knows each frame's size and sizes its context
    // anew per frame).
    const pool = new FramePool(() => create({ params: zstdBlockParams(level, blockSize), chunkSize: outputChunk } as zlib.ZlibOptions), zc.ZSTD_e_end);
    return { ...framesEncoder(blockSize, (b) => pool.frame(b)), close: () => pool.close() };
  }
  // engines: Node >= 22.15, which has zstd in node:zlib.
  throw new Error('zstd needs Node 22.15 or later (node:zlib has no zstd here)');
}

/**
 * zstd's parameters for one block-sized frame. At levels 3-4 (zstd's "dfast", pgstow's default 4) its tables for a
 * source of unknown size have 2^18 entries each (2 MiB per context); for a frame no larger than the window
 * 2^(window-1) and 2^(window-2) entries compress the same (256 KiB blocks: 768 KiB, measured: same ratio and CPU).
 */
export function zstdBlockParams(level: number, blockSize: number): Record<number, number> {
  const zc = zlib.constants as unknown as Record<string, number>;
  const windowLog = zstdWindowLog(blockSize);
  return {
    [zc.ZSTD_c_compressionLevel as number]: level, [zc.ZSTD_c_checksumFlag as number]: 1, [zc.ZSTD_c_windowLog as number]: windowLog,
    ...(level >= 3 && level <= 4 ? { [zc.ZSTD_c_hashLog as number]: windowLog - 1, [zc.ZSTD_c_chainLog as number]: windowLog - 2 } : {}),
  };
}

/** log2 of the smallest zstd window that holds a whole block (zstd's range: 2^10 to 2^27 here). */
export function zstdWindowLog(blockSize: number): number {
  return Math.min(27, Math.max(10, Math.ceil(Math.log2(Math.max(1, blockSize)))));
}

/**
 * Long-lived compressor streams (zstd, raw deflate), one per block compressing at once: each block is written
 * and ended by the flush `endFrame` after it (ZSTD_e_end: a frame; Z_FULL_FLUSH: deflate blocks that refer to
 * nothing before them), so the next block starts anew; its callback says the block's bytes were all handed out.
 * A fresh compressor per block (zlib.zstdCompress) allocated a ~5 MB context on a thread-pool thread each time,
 * and glibc kept what those threads freed: +48 MB RSS for two at a time (measured).
 */
class FramePool {
  private readonly idle: zlib.Gzip[] = [];
  private readonly all: zlib.Gzip[] = [];

  constructor(private readonly create: () => zlib.Gzip, private readonly endFrame: number) {}

  async frame(block: Buffer): Promise<Buffer> {
    const stream = this.idle.pop() ?? this.make();
    const out: Buffer[] = [];
    const onData = (c: Buffer): void => { out.push(c); };
    stream.on('data', onData);
    try {
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        stream.once('error', onError);
        stream.write(block);
        stream.flush(this.endFrame, () => { stream.off('error', onError); resolve(); });
      });
    } finally {
      stream.off('data', onData);
    }
    this.idle.push(stream);
    return out.length === 1 ? out[0] as Buffer : Buffer.concat(out);
  }

  close(): void {
    for (const s of this.all) s.destroy();
    this.all.length = 0;
    this.idle.length = 0;
  }

  private make(): zlib.Gzip {
    const s = this.create();
    this.all.push(s);
    return s;
  }
}

/** Codecs whose frames concatenate into a valid stream: one frame per block. */
function framesEncoder(blockSize: number, compressFrame: (block: Buffer) => Promise<Buffer>): BlockEncoder {
  return { blockSize, start: () => EMPTY, compress: (block) => compressFrame(block), append: (_b, c) => c, finish: () => EMPTY };
}

function lz4Encoder(blockSize: number): BlockEncoder {
  const table = new Int32Array(1 << 16);
  const hash = xxh32Stream();
  return {
    blockSize,
    start: () => lz4FrameHeader(),
    // Synchronous JavaScript (lz4-frames.ts says why): blocks never interleave, one hash table serves them all.
    compress: async (block) => lz4CompressBlocks(block, table),
    append(block, compressed) { hash.update(block); return compressed; },
    finish: () => lz4FrameEnd(hash.digest()),
  };
}

function snappyEncoder(blockSize: number): BlockEncoder {
  const { snappy, crc32c } = loadSnappy();
  return {
    blockSize: Math.max(SNAPPY_CHUNK, blockSize - (blockSize % SNAPPY_CHUNK)),
    start: () => SNAPPY_STREAM_IDENTIFIER,
    async compress(block) {
      const chunks: Buffer[] = [];
      for (let off = 0; off < block.length; off += SNAPPY_CHUNK) chunks.push(block.subarray(off, off + SNAPPY_CHUNK));
      // On the main thread: snappy's async calls (one thread-pool task per 64 KiB chunk) held a backup at a peak
      // RSS of 166-172 MiB, synchronous ones at 128-133 MiB for the same CPU (142 MiB PGDATA, s3rver, measured);
      // one core compresses snappy far faster than any store takes it.
      const compressed = chunks.map((c) => snappy.compressSync(c));
      return Buffer.concat(chunks.flatMap((c, i) => snappyChunk(crc32c, c, compressed[i] as Buffer)));
    },
    append: (_b, c) => c,
    finish: () => EMPTY,
  };
}

function bzip2Encoder(level: number): BlockEncoder {
  const builder = new Bzip2StreamBuilder(level);
  return {
    blockSize: maxBlockInput(level),
    start: () => builder.header(),
    compress: (block) => (block.length === 0 ? Promise.resolve(EMPTY) : runFilterProgram('bzip2', ['-c', `-${level}`], block)),
    append: (block, compressed) => (block.length === 0 ? EMPTY : builder.append(parseSingleBlockStream(compressed, level))),
    finish: () => builder.finish(),
  };
}
