/**
 * Synthetic WAL segments that PostgreSQL's reader (and pgstow's check) accepts: real page headers and
 * XLOG_NOOP records with valid CRC-32C and back-links, of varied lengths so records cross page boundaries and
 * the last one runs into the next segment. For tests that archive and restore "WAL" without a server.
 */
import { crc32c } from '../../src/domain/wal/crc32c.js';
import { parseWalFileName } from '../../src/domain/wal/wal-file-name.js';

export interface SyntheticSegmentOptions {
  /** Default 1 MiB (the tests' initdb --wal-segsize=1). */
  segmentSize?: number;
  pageSize?: number;
  /** Varies record lengths and payloads. */
  seed?: number;
  /** Bytes of a record continued from the previous segment at the start (default 0). */
  continuedBytes?: number;
  /** End with an XLOG_SWITCH record after this many bytes, the rest zeroes (default: records to the end). */
  switchAfter?: number;
  /** Page magic (PostgreSQL 15's by default). */
  magic?: number;
  /** Record payloads (default: runs of one byte): e.g. a mix of random, zero and text bytes for compression benchmarks. */
  payload?: (length: number) => Buffer;
  /**
   * Records starting before this offset get pseudo-random payloads (incompressible, like real WAL full-page
   * images); later ones a repeated byte (default 0: every payload compresses well).
   */
  randomPayloadUntil?: number;
}

const MAGIC_PG15 = 0xd110;
const SYSID = 7712053398126997143n;

export function syntheticSegment(name: string, o: SyntheticSegmentOptions = {}): Buffer {
  const segSize = o.segmentSize ?? 1 << 20;
  const pageSize = o.pageSize ?? 8192;
  const w = parseWalFileName(name);
  const segStart = (BigInt(w.log ?? 0) << 32n) + BigInt(w.seg ?? 0) * BigInt(segSize);
  const buf = Buffer.alloc(segSize);
  let rng = ((o.seed ?? 1) * 2654435761) >>> 0;
  const rand = (n: number): number => { rng = (rng * 1103515245 + 12345) >>> 0; return rng % n; };
  // Incompressible payload bytes (xorshift32's high byte): rand()'s low bits repeat every 256 values, so
  // `rand(256)` bytes gzip 64:1 and a "random" 1 MiB segment became a 15 KB .gz.
  let x = (((o.seed ?? 1) * 2654435761) ^ 0x9e3779b9) >>> 0 || 1;
  const noise = (): number => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x >>> 24; };
  let pos = 0;

  const header = (remLen: number): void => {
    const k = pos / pageSize;
    buf.writeUInt16LE(o.magic ?? MAGIC_PG15, pos);
    buf.writeUInt16LE((remLen > 0 ? 1 : 0) | (k === 0 ? 2 : 0), pos + 2);
    buf.writeUInt32LE(w.timeline, pos + 4);
    buf.writeBigUInt64LE(segStart + BigInt(pos), pos + 8);
    buf.writeUInt32LE(remLen, pos + 16);
    if (k === 0) {
      buf.writeBigUInt64LE(SYSID, pos + 24);
      buf.writeUInt32LE(segSize, pos + 32);
      buf.writeUInt32LE(pageSize, pos + 36);
      pos += 40;
    } else {
      pos += 24;
    }
  };
  /** Writes bytes through page boundaries (a header on each new page); false once the segment is full. */
  const write = (bytes: Buffer, remainingAfterThis: () => number): boolean => {
    let i = 0;
    while (i < bytes.length) {
      if (pos >= segSize) return false;
      if (pos % pageSize === 0) header(remainingAfterThis() - i);
      const n = Math.min(bytes.length - i, pageSize - (pos % pageSize));
      bytes.copy(buf, pos, i, i + n);
      pos += n;
      i += n;
    }
    return true;
  };
  const align = (): void => { pos = (pos + 7) & ~7; };

  header(o.continuedBytes ?? 0);
  if (o.continuedBytes) {
    const cont = Buffer.alloc(o.continuedBytes, 0x5a);
    write(cont, () => cont.length);
    align();
  }
  let prev = -1n;
  const limit = o.switchAfter ?? segSize;
  while (pos < segSize) {
    align();
    if (pos >= segSize) break;
    if (pos % pageSize === 0) header(0);
    const isSwitch = pos >= limit;
    const length = rand(4) === 0 ? rand(20000) : rand(300);
    const data = isSwitch ? Buffer.alloc(0) : o.payload ? o.payload(length).subarray(0, length) : Buffer.alloc(length, rand(256));
    if (pos < (o.randomPayloadUntil ?? 0)) for (let i = 0; i < data.length; i++) data[i] = noise();
    const rec = Buffer.alloc(24 + data.length);
    rec.writeUInt32LE(rec.length, 0);
    rec.writeUInt32LE(0, 4);
    rec.writeBigUInt64LE(prev < 0n ? segStart - 64n : prev, 8);
    rec[16] = isSwitch ? 0x40 : 0x20; // XLOG_SWITCH or XLOG_NOOP
    rec[17] = 0; // RM_XLOG_ID
    data.copy(rec, 24);
    rec.writeUInt32LE(crc32c(rec, crc32c(rec, 0, 24), 0, 20), 20);
    const start = segStart + BigInt(pos);
    if (!write(rec, () => rec.length)) break;
    prev = start;
    if (isSwitch) {
      // PostgreSQL zeroes the rest of the segment, page headers included.
      buf.fill(0, pos);
      break;
    }
  }
  return buf;
}
