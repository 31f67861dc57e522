/**
 * Compression codecs for WAL files and backup tar streams, with Barman's names and key suffixes.
 * Libraries (chosen by measurement on a real 16 MiB WAL segment, see docs/wal.md):
 *   gzip   node:zlib                 bzip2  the bzip2 program (libbz2); unbzip2-stream to read without it
 *   snappy snappy + @node-rs/crc32   xz     lzma-native (liblzma)
 *   zstd   node:zlib (Node ≥ 22.15)  lz4    lz4-frames.ts (blocks decoded in WebAssembly), lz4-compress.ts
 * (zstd was zstd-napi: node:zlib's libzstd compresses as fast and runs on the thread pool rather than blocking
 * the event loop, and a fresh install no longer compiles libzstd from source; measured in docs/wal.md.)
 * Native bindings are loaded on first use (createRequire), so an archive_command with gzip or no
 * compression never loads them. Every codec offers streaming Transforms and whole-buffer fast paths.
 */
import { createRequire } from 'node:module';
import { Duplex, PassThrough, Readable, pipeline as pipelineCb, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants as fsConstants } from 'node:fs';
import { access } from 'node:fs/promises';
import * as zlib from 'node:zlib';
import { ExitCode, PgstowError, UsageError } from '../errors.js';
import { filterThroughProgram, FilterProgramError } from './child-process-transform.js';
import { lz4Compress, lz4Decompress, Lz4CompressStream, Lz4DecompressStream } from './lz4-frames.js';
import {
  snappyFrameCompress, snappyFrameDecompress, SnappyFrameCompressStream, SnappyFrameDecompressStream,
  type Crc32c, type SnappyBinding,
} from './snappy-framing.js';

export type CodecName = 'gzip' | 'bzip2' | 'snappy' | 'xz' | 'zstd' | 'lz4';
export const CODEC_NAMES: readonly CodecName[] = ['gzip', 'bzip2', 'snappy', 'xz', 'zstd', 'lz4'];

/** Compressed data that cannot be decoded (corrupt, truncated, wrong codec). Exit 4 as in Barman. */
export class CodecError extends PgstowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CODEC', ExitCode.GENERAL, message, options);
  }
}
CodecError.prototype.name = 'CodecError';

export interface Codec {
  readonly name: CodecName;
  /** Barman's key suffix, with the dot. */
  readonly suffix: string;
  /** Leading bytes of a stream in this format (Barman's identify_compression). */
  readonly magic: Buffer;
  /** Accepted levels and Barman's low/medium/high mapping (≥ 3.14). */
  readonly levels: { min: number; max: number; low: number; medium: number; high: number };
  createCompressor(level?: number): Duplex;
  createDecompressor(): Duplex;
  /** Whole-buffer fast path (WAL files). */
  compress(data: Buffer, level?: number): Promise<Buffer>;
  decompress(data: Buffer): Promise<Buffer>;
}

const require = createRequire(import.meta.url);
let snappyLib: { snappy: SnappyBinding; crc32c: Crc32c } | undefined;
export function loadSnappy(): { snappy: SnappyBinding; crc32c: Crc32c } {
  if (!snappyLib) {
    const snappy = require('snappy') as SnappyBinding;
    const { crc32c } = require('@node-rs/crc32') as { crc32c: (d: Buffer, initial?: number) => number };
    snappyLib = { snappy, crc32c: (d) => crc32c(d) };
  }
  return snappyLib;
}
interface LzmaModule {
  createCompressor(o?: { preset?: number; threads?: number }): Transform;
  createDecompressor(o?: Record<string, unknown>): Transform;
}
const lzma = (): LzmaModule => require('lzma-native') as LzmaModule;

export function clamp(codec: { levels: Codec['levels']; name: string }, level: number | undefined, fallback: number): number {
  if (level === undefined) return fallback;
  return Math.min(codec.levels.max, Math.max(codec.levels.min, Math.trunc(level)));
}

/** Runs `data` through a streaming transform (for codecs whose binding has no buffer API). */
async function throughStream(data: Buffer, stream: Duplex): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => chunks.push(c));
  await pipeline(Readable.from([data]), stream, sink);
  return Buffer.concat(chunks);
}

/** Wraps codec failures (library errors, corrupt input) in CodecError naming the codec. */
export function decodeErrors(name: CodecName, stream: Duplex): Duplex {
  // Bindings report errors through destroy() or a bare emit('error'); both pass through emit.
  const emit = stream.emit.bind(stream) as (event: string | symbol, ...args: unknown[]) => boolean;
  stream.emit = ((event: string | symbol, ...args: unknown[]) => {
    if (event === 'error') args[0] = toCodecError(name, args[0], 'decompress');
    return emit(event, ...args);
  }) as typeof stream.emit;
  return stream;
}

function toCodecError(name: CodecName, err: unknown, what: 'compress' | 'decompress'): PgstowError {
  if (err instanceof PgstowError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof FilterProgramError && err.missing) return new CodecError(message, { cause: err });
  return new CodecError(`cannot ${what} ${name} data: ${message}`, { cause: err });
}

async function guard<T>(name: CodecName, what: 'compress' | 'decompress', fn: () => Promise<T> | T): Promise<T> {
  try { return await fn(); } catch (err) { throw toCodecError(name, err, what); }
}

const gzip: Codec = {
  name: 'gzip', suffix: '.gz', magic: Buffer.from([0x1f, 0x8b, 0x08]),
  levels: { min: 1, max: 9, low: 1, medium: 6, high: 9 },
  createCompressor(level) { return zlib.createGzip({ level: clamp(this, level, 6) }); },
  createDecompressor() { return decodeErrors('gzip', zlib.createGunzip()); },
  compress(data, level) { return guard('gzip', 'compress', () => promisify(zlib.gzip, data, { level: clamp(this, level, 6) })); },
  decompress(data) { return guard('gzip', 'decompress', () => promisify(zlib.gunzip, data, {})); },
};

function promisify(fn: (b: Buffer, o: zlib.ZlibOptions, cb: (e: Error | null, r: Buffer) => void) => void, data: Buffer, o: zlib.ZlibOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => fn(data, o, (e, r) => (e ? reject(e) : resolve(r))));
}

/**
 * Whether a bzip2 program is on the PATH the spawn will search (the process's own: child_process resolves the
 * program there). Checked once per process, asynchronously, on the first bzip2 decompression: whether the
 * machine has the program is a fact about the machine, not a setting, so one answer serves every engine.
 */
function hasBzip2Program(): Promise<boolean> {
  return hasProgram('bzip2');
}
const programs = new Map<string, Promise<boolean>>();
export function hasProgram(name: string): Promise<boolean> {
  let p = programs.get(name);
  if (!p) {
    p = (async () => {
      for (const d of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
        if (d !== '' && await access(`${d}/${name}`, fsConstants.X_OK).then(() => true, () => false)) return true;
      }
      return false;
    })();
    programs.set(name, p);
  }
  return p;
}

/**
 * Node 22's zstd decompressor stops after the first frame ("Unknown frame descriptor" on the second), and a
 * parallel-compressed backup volume is a sequence of frames. On Node 22 the zstd program decodes them when the
 * machine has it (the one-frame objects Barman and WAL archiving write decode in node:zlib either way).
 */
const ZSTD_FRAMES_IN_ZLIB = Number(process.versions.node.split('.')[0]) >= 24;

function zstdDecompressor(): Duplex {
  if (ZSTD_FRAMES_IN_ZLIB) return zlib.createZstdDecompress({ chunkSize: 1 << 20 });
  const input = new PassThrough();
  const output = new PassThrough();
  hasProgram('zstd').then((has) => {
    if (input.destroyed || output.destroyed) return;
    const inner = has ? filterThroughProgram('zstd', ['-dcq']) : zlib.createZstdDecompress({ chunkSize: 1 << 20 });
    pipelineCb(input, inner, output, (err) => { if (err) output.destroy(err); });
  }).catch((err: unknown) => output.destroy(err as Error));
  return Duplex.from({ writable: input, readable: output });
}

/**
 * A backup volume's LZ4, decoded in-process (lz4-frames.ts, blocks and the content checksum in WebAssembly).
 * Until 2026-12-07 this fed the `lz4` program through a pipe: the program decodes on another core, but moving
 * every compressed and decoded byte through the pipe cost the main thread more CPU than decoding in place
 * (docs/performance.md, "LZ4 in WebAssembly").
 */
export function lz4StreamDecompressor(): Duplex {
  return decodeErrors('lz4', new Lz4DecompressStream());
}

/** The bzip2 program (libbz2, fast) when there is one, else unbzip2-stream, joined in once the check answers. */
function bzip2Decompressor(): Duplex {
  const input = new PassThrough();
  const output = new PassThrough();
  hasBzip2Program().then((has) => {
    // Destroyed while the check ran (the download failed first): nothing to join, no program to start.
    if (input.destroyed || output.destroyed) return;
    const inner = has ? filterThroughProgram('bzip2', ['-dc']) : (require('unbzip2-stream') as () => Duplex)();
    pipelineCb(input, inner, output, (err) => { if (err) output.destroy(err); });
  }).catch((err: unknown) => output.destroy(err as Error));
  return Duplex.from({ writable: input, readable: output });
}

const bzip2: Codec = {
  name: 'bzip2', suffix: '.bz2', magic: Buffer.from([0x42, 0x5a, 0x68]),
  levels: { min: 1, max: 9, low: 1, medium: 5, high: 9 },
  createCompressor(level) { return filterThroughProgram('bzip2', ['-c', `-${clamp(this, level, 9)}`]); },
  createDecompressor() { return decodeErrors('bzip2', bzip2Decompressor()); },
  compress(data, level) { return guard('bzip2', 'compress', () => throughStream(data, this.createCompressor(level))); },
  decompress(data) { return guard('bzip2', 'decompress', () => throughStream(data, this.createDecompressor())); },
};

const snappy: Codec = {
  name: 'snappy', suffix: '.snappy', magic: Buffer.from([0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59]),
  levels: { min: 0, max: 0, low: 0, medium: 0, high: 0 },
  createCompressor() { const l = loadSnappy(); return new SnappyFrameCompressStream(l.snappy, l.crc32c); },
  createDecompressor() { const l = loadSnappy(); return decodeErrors('snappy', new SnappyFrameDecompressStream(l.snappy, l.crc32c)); },
  compress(data) { return guard('snappy', 'compress', () => { const l = loadSnappy(); return snappyFrameCompress(l.snappy, l.crc32c, data); }); },
  decompress(data) { return guard('snappy', 'decompress', () => { const l = loadSnappy(); return snappyFrameDecompress(l.snappy, l.crc32c, data); }); },
};

const xz: Codec = {
  name: 'xz', suffix: '.xz', magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]),
  levels: { min: 0, max: 9, low: 1, medium: 3, high: 5 },
  createCompressor(level) { return lzma().createCompressor({ preset: clamp(this, level, 3) }); },
  createDecompressor() { return decodeErrors('xz', lzma().createDecompressor()); },
  compress(data, level) { return guard('xz', 'compress', () => throughStream(data, this.createCompressor(level))); },
  decompress(data) { return guard('xz', 'decompress', () => throughStream(data, this.createDecompressor())); },
};

const zstdLevel = (level: number): zlib.ZstdOptions => ({ params: { [zlib.constants.ZSTD_c_compressionLevel]: level } });
const zstdCodec: Codec = {
  name: 'zstd', suffix: '.zst', magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]),
  levels: { min: -22, max: 22, low: 1, medium: 4, high: 9 },
  createCompressor(level) { return zlib.createZstdCompress(zstdLevel(clamp(this, level, 4))); },
  createDecompressor() { return decodeErrors('zstd', zstdDecompressor()); },
  compress(data, level) { return guard('zstd', 'compress', () => promisifyZstd(zlib.zstdCompress, data, zstdLevel(clamp(this, level, 4)))); },
  decompress(data) { return guard('zstd', 'decompress', () => (ZSTD_FRAMES_IN_ZLIB ? promisifyZstd(zlib.zstdDecompress, data, {}) : throughStream(data, zstdDecompressor()))); },
};

function promisifyZstd(fn: (b: Buffer, o: zlib.ZstdOptions, cb: (e: Error | null, r: Buffer) => void) => void, data: Buffer, o: zlib.ZstdOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => fn(data, o, (e, r) => (e ? reject(e) : resolve(r))));
}

const lz4Codec: Codec = {
  name: 'lz4', suffix: '.lz4', magic: Buffer.from([0x04, 0x22, 0x4d, 0x18]),
  levels: { min: 0, max: 16, low: 0, medium: 6, high: 10 },
  // One speed (lz4-compress.ts); the level is accepted for Barman compatibility.
  createCompressor() { return new Lz4CompressStream(); },
  createDecompressor() { return decodeErrors('lz4', new Lz4DecompressStream()); },
  compress(data) { return guard('lz4', 'compress', () => lz4Compress(data)); },
  decompress(data) { return guard('lz4', 'decompress', () => lz4Decompress(data)); },
};

export const CODECS: Readonly<Record<CodecName, Codec>> = { gzip, bzip2, snappy, xz, zstd: zstdCodec, lz4: lz4Codec };

export function getCodec(name: string): Codec {
  const c = (CODECS as Record<string, Codec | undefined>)[name];
  if (!c) throw new UsageError(`unknown compression "${name}" (expected one of: ${CODEC_NAMES.join(', ')})`);
  return c;
}

/** The codec whose suffix ends `key` (".gz" → gzip), or undefined for an uncompressed key. */
export function codecForSuffix(key: string): Codec | undefined {
  for (const c of Object.values(CODECS)) if (key.endsWith(c.suffix)) return c;
  return undefined;
}

/** Barman's identify_compression: the codec whose magic bytes start `head`. */
export function detectCodec(head: Uint8Array): Codec | undefined {
  const buf = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  for (const c of Object.values(CODECS)) if (buf.length >= c.magic.length && buf.subarray(0, c.magic.length).equals(c.magic)) return c;
  return undefined;
}

/** Barman ≥ 3.14 --compression-level: low/medium/high or an integer (clamped to the codec's range). */
export function resolveLevel(codec: Codec, level: string | number | undefined): number | undefined {
  if (level === undefined) return undefined;
  if (typeof level === 'number') return clamp(codec, level, codec.levels.medium);
  if (level === 'low' || level === 'medium' || level === 'high') return codec.levels[level];
  if (/^[+-]?\d+$/.test(level)) return clamp(codec, parseInt(level, 10), codec.levels.medium);
  throw new UsageError(`invalid compression level '${level}' (expected low, medium, high or an integer)`);
}
