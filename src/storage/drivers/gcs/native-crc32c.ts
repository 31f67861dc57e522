/**
 * CRC32C for the GCS SDK's upload and download validation, computed by @node-rs/crc32 (native, SSE4.2)
 * instead of the SDK's table-driven JavaScript: 16 MiB costs ~6 ms against ~250 ms of CPU, per WAL segment.
 * Same contract as the SDK's CRC32C class (base64 of the big-endian value; validate() takes the same inputs).
 */
import { createRequire } from 'node:module';
import type { CRC32CValidator, CRC32CValidatorGenerator } from '@google-cloud/storage';

type Crc32cFn = (input: Uint8Array, initialState?: number) => number;

class NativeCrc32c implements CRC32CValidator {
  private crc = 0;
  constructor(private readonly fn: Crc32cFn) {}

  update(data: Buffer): void { this.crc = this.fn(data, this.crc); }

  validate(input: unknown): boolean {
    if (typeof input === 'number') return input === this.valueOf();
    if (typeof input === 'string') return input === this.toString();
    if (Buffer.isBuffer(input)) return Buffer.compare(input, this.toBuffer()) === 0;
    return String(input) === this.toString();
  }

  toBuffer(): Buffer {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(this.crc >>> 0);
    return b;
  }

  toJSON(): string { return this.toString(); }
  toString(): string { return this.toBuffer().toString('base64'); }
  /** Signed 32-bit, as the SDK's class returns it. */
  valueOf(): number { return this.crc | 0; }
}

/** The generator for Storage({ crc32cGenerator }), or undefined (SDK default) where the native module is missing. */
export function nativeCrc32cGenerator(): CRC32CValidatorGenerator | undefined {
  let fn: Crc32cFn;
  try {
    fn = (createRequire(import.meta.url)('@node-rs/crc32') as { crc32c: Crc32cFn }).crc32c;
  } catch {
    return undefined;
  }
  return () => new NativeCrc32c(fn);
}
