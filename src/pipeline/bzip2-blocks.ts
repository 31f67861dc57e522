/**
 * One bzip2 stream out of pieces compressed separately, so several bzip2 processes can compress one tar
 * volume while the result stays a single bzip2 stream: Python's tarfile (barman-cloud-restore) reads one
 * stream only and fails on concatenated ones ("End of stream already reached", measured with Barman 3.4).
 *
 * Each piece is small enough to become exactly one bzip2 block (bzip2's first run-length stage grows input
 * by at most 5/4, so maxBlockInput bytes always fit the level's block). The block's bits are taken out of
 * the program's one-block stream and appended bit-aligned after the previous block; the stream CRC is
 * folded from the block CRCs as bzip2 does (c = rotl(c, 1) ^ blockCrc).
 */
const HEADER = Buffer.from('BZh', 'latin1');
const BLOCK_MAGIC = Buffer.from([0x31, 0x41, 0x59, 0x26, 0x53, 0x59]);
const EOS_MAGIC = Buffer.from([0x17, 0x72, 0x45, 0x38, 0x50, 0x90]);

export class Bzip2SpliceError extends Error {}

/** Largest input that bzip2 at `level` (1–9) always compresses into a single block. */
export function maxBlockInput(level: number): number {
  return Math.floor((level * 100_000 - 19) / 1.25) - 16;
}

export interface Bzip2Block {
  /** The block's bits, starting at its magic number (byte-aligned in the program's output). */
  bits: Buffer;
  bitLength: number;
  crc: number;
}

function bitsAt(buf: Buffer, bitPos: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) {
    const p = bitPos + i;
    v = v * 2 + (((buf[p >> 3] as number) >> (7 - (p & 7))) & 1);
  }
  return v;
}

/** The single block of a one-block stream written by `bzip2 -c -<level>`. */
export function parseSingleBlockStream(stream: Buffer, level: number): Bzip2Block {
  if (stream.length < 4 + 10 + 10 || !stream.subarray(0, 3).equals(HEADER) || stream[3] !== 0x30 + level) {
    throw new Bzip2SpliceError('bzip2 output is not a stream of the expected level');
  }
  if (!stream.subarray(4, 10).equals(BLOCK_MAGIC)) throw new Bzip2SpliceError('bzip2 output has no block');
  const crc = stream.readUInt32BE(10);
  const total = stream.length * 8;
  const eosHigh = EOS_MAGIC.readUIntBE(0, 3);
  const eosLow = EOS_MAGIC.readUIntBE(3, 3);
  for (let pad = 0; pad < 8; pad++) {
    const p = total - 80 - pad;
    // One block: the stream CRC equals the block CRC. Two blocks would not match (and are not expected).
    if (bitsAt(stream, p, 24) === eosHigh && bitsAt(stream, p + 24, 24) === eosLow && bitsAt(stream, p + 48, 32) === crc) {
      return { bits: stream.subarray(4), bitLength: p - 32, crc };
    }
  }
  throw new Bzip2SpliceError('bzip2 output is not a single-block stream');
}

/** Builds one stream: header(), then append() per block in order, then finish(). */
export class Bzip2StreamBuilder {
  private combined = 0;
  /** Pending bits (the high `pendingBits` bits of this byte) not yet written out. */
  private pending = 0;
  private pendingBits = 0;

  constructor(private readonly level: number) {}

  header(): Buffer {
    return Buffer.concat([HEADER, Buffer.from([0x30 + this.level])]);
  }

  append(block: Bzip2Block): Buffer {
    this.combined = ((((this.combined << 1) | (this.combined >>> 31)) >>> 0) ^ block.crc) >>> 0;
    return this.appendBits(block.bits, block.bitLength);
  }

  finish(): Buffer {
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(this.combined);
    const tail = Buffer.concat([this.appendBits(EOS_MAGIC, 48), this.appendBits(crc, 32)]);
    if (this.pendingBits === 0) return tail;
    const last = Buffer.from([this.pending]);
    this.pending = 0;
    this.pendingBits = 0;
    return Buffer.concat([tail, last]);
  }

  /** Appends the first `nbits` bits of `src` (MSB first); returns the whole bytes completed. */
  private appendBits(src: Buffer, nbits: number): Buffer {
    const out = Buffer.allocUnsafe((this.pendingBits + nbits) >> 3);
    const srcBytes = (nbits + 7) >> 3;
    const rem = nbits & 7;
    let cur = this.pending;
    let have = this.pendingBits;
    let k = 0;
    for (let i = 0; i < srcBytes; i++) {
      const last = i === srcBytes - 1 && rem !== 0;
      const b = last ? (src[i] as number) & ((0xff << (8 - rem)) & 0xff) : (src[i] as number);
      const n = last ? rem : 8;
      cur |= b >> have;
      if (have + n >= 8) {
        out[k++] = cur;
        cur = (b << (8 - have)) & 0xff;
        have = have + n - 8;
      } else {
        have += n;
      }
    }
    this.pending = cur;
    this.pendingBits = have;
    return out;
  }
}
