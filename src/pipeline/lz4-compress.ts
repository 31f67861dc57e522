/**
 * LZ4 compression in JavaScript: a greedy block compressor (64 KiB window, 4-byte hash) writing standard
 * frames (independent blocks, content checksum), read by the lz4 program, python-lz4 and Barman 3.19.
 * Why not lz4-napi's encoder: its memory is never given back (RSS grew from 177 to ~370 MB compressing 1 GB
 * in 1 MiB frames, and compressFrameSync grows without bound; measured for issue 15), and a sidecar must stay
 * within its budget. One core of this is faster than the stores' upload rates measured here.
 */
import { xxh32 } from './xxhash32.js';

const HASH_LOG = 16;
const MIN_MATCH = 4;
const LAST_LITERALS = 5;
const MF_LIMIT = 12;
const MAX_OFFSET = 65535;
/** Block maximum 4 MiB (BD 0x70): one block per pgstow frame of up to 4 MiB. */
const BLOCK_MAX = 4 << 20;

/** Worst-case compressed size of n bytes in one block. */
const blockBound = (n: number): number => n + Math.floor(n / 255) + 16;

function writeLength(dst: Buffer, d: number, n: number): number {
  while (n >= 255) { dst[d++] = 255; n -= 255; }
  dst[d++] = n;
  return d;
}

function emitSequence(src: Buffer, anchor: number, ip: number, dst: Buffer, d: number, offset: number, matchLength: number): number {
  const lit = ip - anchor;
  const ml = matchLength - MIN_MATCH;
  const token = d++;
  dst[token] = ((lit >= 15 ? 15 : lit) << 4) | (ml >= 15 ? 15 : ml);
  if (lit >= 15) d = writeLength(dst, d, lit - 15);
  src.copy(dst, d, anchor, ip);
  d += lit;
  dst[d++] = offset & 0xff;
  dst[d++] = offset >>> 8;
  if (ml >= 15) d = writeLength(dst, d, ml - 15);
  return d;
}

function emitLastLiterals(src: Buffer, anchor: number, end: number, dst: Buffer, d: number): number {
  const lit = end - anchor;
  dst[d++] = (lit >= 15 ? 15 : lit) << 4;
  if (lit >= 15) d = writeLength(dst, d, lit - 15);
  src.copy(dst, d, anchor, end);
  return d + lit;
}

const read32 = (b: Buffer, i: number): number => (b[i] as number) | ((b[i + 1] as number) << 8) | ((b[i + 2] as number) << 16) | ((b[i + 3] as number) << 24);

/** Compresses src[start, end) into dst at d as one LZ4 block; returns the new end in dst. */
export function compressBlock(src: Buffer, start: number, end: number, dst: Buffer, d: number, table: Int32Array): number {
  table.fill(-1);
  let anchor = start;
  let ip = start;
  const mfLimit = end - MF_LIMIT;
  const matchLimit = end - LAST_LITERALS;
  while (ip < mfLimit) {
    const seq = read32(src, ip);
    const h = Math.imul(seq, 2654435761) >>> (32 - HASH_LOG);
    const ref = table[h] as number;
    table[h] = ip;
    if (ref < 0 || ip - ref > MAX_OFFSET || read32(src, ref) !== seq) {
      ip += 1 + ((ip - anchor) >> 6); // skip faster through incompressible data, as LZ4 does
      continue;
    }
    let len = MIN_MATCH;
    while (ip + len + 4 <= matchLimit && read32(src, ip + len) === read32(src, ref + len)) len += 4;
    while (ip + len < matchLimit && src[ip + len] === src[ref + len]) len++;
    d = emitSequence(src, anchor, ip, dst, d, ip - ref, len);
    ip += len;
    anchor = ip;
  }
  return emitLastLiterals(src, anchor, end, dst, d);
}

/**
 * Frame descriptor of pgstow's LZ4 frames: version 01, independent blocks (each block can be compressed on
 * its own, in any order), content checksum, blocks of up to 4 MiB. One frame holds a whole stream: python-lz4
 * (Barman 3.19) decodes only the first frame of a file.
 */
export function lz4FrameHeader(): Buffer {
  const header = Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x64, 0x70, 0]);
  header[6] = (xxh32(header.subarray(4, 6)) >>> 8) & 0xff;
  return header;
}

/** End mark and content checksum (xxHash32 of everything the frame's blocks hold). */
export function lz4FrameEnd(contentChecksum: number): Buffer {
  const end = Buffer.alloc(8);
  end.writeUInt32LE(contentChecksum >>> 0, 4);
  return end;
}

/** `data` as independent blocks of up to 4 MiB (size word and block each), for a frame of lz4FrameHeader(). */
export function lz4CompressBlocks(data: Buffer, table: Int32Array = new Int32Array(1 << HASH_LOG)): Buffer {
  const out = Buffer.allocUnsafe(blocksBound(data.length));
  return Buffer.from(out.subarray(0, compressBlocksInto(data, out, 0, table)));
}

/** The room lz4CompressBlocksInto needs for `n` bytes. */
export function lz4BlocksBound(n: number): number {
  return blocksBound(n);
}

/** `data` as independent blocks written into `out` (at least lz4BlocksBound long) from its start; returns their length. */
export function lz4CompressBlocksInto(data: Buffer, out: Buffer, table: Int32Array): number {
  return compressBlocksInto(data, out, 0, table);
}

function blocksBound(n: number): number {
  let bound = 0;
  for (let off = 0; off < n; off += BLOCK_MAX) bound += 4 + blockBound(Math.min(BLOCK_MAX, n - off));
  return bound;
}

/** Writes `data`'s blocks into `out` from `d`; returns the new end in `out`. */
function compressBlocksInto(data: Buffer, out: Buffer, d: number, table: Int32Array): number {
  for (let off = 0; off < data.length; off += BLOCK_MAX) {
    const end = Math.min(data.length, off + BLOCK_MAX);
    const after = compressBlock(data, off, end, out, d + 4, table);
    const size = after - d - 4;
    if (size >= end - off) { // incompressible: stored as is
      out.writeUInt32LE(((end - off) | 0x80000000) >>> 0, d);
      data.copy(out, d + 4, off, end);
      d += 4 + end - off;
    } else {
      out.writeUInt32LE(size, d);
      d = after;
    }
  }
  return d;
}

/**
 * One LZ4 frame of `data` (independent blocks of up to 4 MiB, content checksum), written into one buffer and
 * copied once to its exact size (a 16 MiB WAL segment: its bound and the frame, not also two copies of the frame).
 */
export function lz4CompressFrame(data: Buffer, table: Int32Array = new Int32Array(1 << HASH_LOG)): Buffer {
  const header = lz4FrameHeader();
  const out = Buffer.allocUnsafe(header.length + blocksBound(data.length) + 8);
  header.copy(out, 0);
  let d = compressBlocksInto(data, out, header.length, table);
  d += lz4FrameEnd(xxh32(data)).copy(out, d);
  return Buffer.from(out.subarray(0, d));
}
