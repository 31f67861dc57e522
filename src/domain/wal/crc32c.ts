/**
 * CRC-32C (Castagnoli), the checksum PostgreSQL puts on every WAL record (pg_crc32c). Pure TypeScript, slicing by
 * 8: no native module in the domain layer, and no per-call overhead when checking a record of 30 bytes.
 */

const POLY = 0x82f63b78;
const TABLE = buildTable();

function buildTable(): Int32Array {
  const t = new Int32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[i] = c;
  }
  for (let i = 0; i < 256; i++) {
    for (let s = 1; s < 8; s++) {
      const prev = t[(s - 1) * 256 + i] as number;
      t[s * 256 + i] = (prev >>> 8) ^ (t[prev & 0xff] as number);
    }
  }
  return t;
}

/**
 * Continues `crc` (the result of an earlier call, 0 to start) over bytes [start, end) of `bytes`:
 * crc32c(a ‖ b) === crc32c(b, crc32c(a)).
 */
export function crc32c(bytes: Uint8Array, crc = 0, start = 0, end = bytes.length): number {
  const t = TABLE;
  const b = bytes;
  let c = ~crc;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const a = ((b[i] as number) | ((b[i + 1] as number) << 8) | ((b[i + 2] as number) << 16) | ((b[i + 3] as number) << 24)) ^ c;
    c = (t[1792 + (a & 0xff)] as number) ^ (t[1536 + ((a >>> 8) & 0xff)] as number) ^ (t[1280 + ((a >>> 16) & 0xff)] as number)
      ^ (t[1024 + (a >>> 24)] as number) ^ (t[768 + (b[i + 4] as number)] as number) ^ (t[512 + (b[i + 5] as number)] as number)
      ^ (t[256 + (b[i + 6] as number)] as number) ^ (t[b[i + 7] as number] as number);
  }
  for (; i < end; i++) c = (t[(c ^ (b[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}
