/**
 * Compression of backup tar streams. Barman writes gzip (`-z`), bzip2 (`-j`), snappy framing (`--snappy`)
 * and lz4 (`--lz4`; Barman 3.19 has it, 3.4 not); pgstow adds zstd (which no Barman restores). The compression is only
 * visible in the object key suffix (backup.info says compression=None), so restore picks the decompressor
 * from the key. Every codec compresses on several cores (parallel-compressor.ts, block-encoders.ts) and
 * still writes one stream of its format; lz4 goes through the lz4 program when the machine has it.
 */
import { constants as fsConstants } from 'node:fs';
import { access } from 'node:fs/promises';
import { Duplex, PassThrough, pipeline as pipelineCb } from 'node:stream';
import type { BackupCompression } from '../domain/backup/backup-manifest.js';
import { createBlockEncoder } from './block-encoders.js';
import { filterThroughProgram } from './child-process-transform.js';
import { CodecError, hasProgram } from './codecs.js';
import { ParallelCompressor } from './parallel-compressor.js';
import { TaskLimiter } from './task-limiter.js';

export const TAR_SUFFIX: Record<BackupCompression, string> = {
  none: '', gzip: '.gz', bzip2: '.bz2', snappy: '.snappy', lz4: '.lz4', zstd: '.zst',
};

/** Input bytes per compressed block: the ratio is within 0.2 % of one stream from 256 KiB up (measured). */
export const DEFAULT_COMPRESSION_BLOCK = 1024 * 1024;

export interface TarCompressorOptions {
  /** Shared by every archive of the backup: blocks compressing at once across all of them. Default: 1. */
  limiter?: TaskLimiter;
  blockSize?: number;
  /** Output buffer of each gzip or zstd stream (the memory plan's compressionOutputChunk). */
  outputChunk?: number;
}

/** A fresh compressor for one tar volume, or undefined for none. `level` defaults per codec (gzip 6). */
export function createTarCompressor(compression: BackupCompression, level?: number, options: TarCompressorOptions = {}): Duplex | undefined {
  if (compression === 'none') return undefined;
  if (compression === 'lz4') return lz4TarCompressor(() => jsTarCompressor('lz4', level, options));
  return jsTarCompressor(compression, level, options);
}

function jsTarCompressor(compression: Exclude<BackupCompression, 'none'>, level: number | undefined, options: TarCompressorOptions): Duplex {
  return new ParallelCompressor({
    encoder: createBlockEncoder(compression, level, options.blockSize ?? DEFAULT_COMPRESSION_BLOCK, options.outputChunk),
    limiter: options.limiter ?? new TaskLimiter(1),
  });
}

/**
 * `lz4 -1 -BI -B6`, content checksum on (the program's defaults but the block size): one frame of independent
 * 1 MiB blocks with a content checksum, as python-lz4 (Barman 3.19) and liblz4 read it, from stdin so without a
 * content size. 1 MiB blocks rather than the default 4 MiB keep the program at ~3 MB RSS instead of ~7 (measured).
 * The level is not passed: Barman's lz4 compressor has one speed (level 0, the fast one) and so does ours.
 */
export const LZ4_PROGRAM_ARGS: readonly string[] = ['-c', '-q', '-1', '-BI', '-B6'];

/**
 * lz4 through the lz4 program (liblz4, on a core of its own, ~10× the JavaScript encoder's speed) when the
 * machine has it, else `fallback()` (JavaScript on the main thread, which held a 1.1 GB backup to 49 MB/s).
 * One program per tar volume; archives written at once are at most --jobs, so are the programs. A program that
 * fails (killed, out of memory, exit code) fails the volume with an error naming lz4 and the program's reason.
 */
export function lz4TarCompressor(fallback: () => Duplex, program = 'lz4'): Duplex {
  const input = new PassThrough({ highWaterMark: 256 * 1024 });
  const output = new PassThrough({ highWaterMark: 256 * 1024 });
  const found = program.includes('/') ? access(program, fsConstants.X_OK).then(() => true, () => false) : hasProgram(program);
  found.then((has) => {
    // Destroyed while the check ran (the backup failed first): no program to start.
    if (input.destroyed || output.destroyed) return;
    const inner = has ? filterThroughProgram(program, LZ4_PROGRAM_ARGS) : fallback();
    pipelineCb(input, inner, output, (err) => { if (err) output.destroy(err); });
  }).catch((err: unknown) => output.destroy(err as Error));
  return compressErrors(Duplex.from({ writable: input, readable: output }));
}

/**
 * Errors of the joined streams (whichever stage failed) as CodecError naming lz4 and the cause; a cut-off (the
 * volume stopped because the upload failed) stays what it is, so the upload's own error is the one reported.
 */
function compressErrors(stream: Duplex): Duplex {
  const emit = stream.emit.bind(stream) as (event: string | symbol, ...args: unknown[]) => boolean;
  stream.emit = ((event: string | symbol, ...args: unknown[]) => {
    const err = args[0];
    const code = (err as { code?: string; name?: string } | undefined);
    const cutOff = code?.name === 'AbortError' || code?.code === 'ABORT_ERR' || code?.code === 'ERR_STREAM_PREMATURE_CLOSE';
    if (event === 'error' && !cutOff && !(err instanceof CodecError)) {
      args[0] = new CodecError(`cannot compress lz4 data: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    return emit(event, ...args);
  }) as typeof stream.emit;
  return stream;
}
