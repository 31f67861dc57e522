/**
 * LZ4 blocks decoded in WebAssembly (lz4-block.wat): 2–4× the JavaScript loop's speed, in-process, with no
 * native binding (lz4-napi kept the memory behind its buffers) and no child process (the pipe to the `lz4`
 * program costs the main thread more than the decoding itself; measured in docs/performance.md).
 *
 * The content checksum (xxHash32) runs there too, over each block's output in place (in JavaScript it cost
 * more than the decoding).
 *
 * Each decoder owns one WebAssembly memory laid out as
 *   [0, 16)                  the content checksum's unfinished 16-byte stripe
 *   [OUT, OUT + WINDOW + span)  output: up to 64 KiB of earlier output (linked blocks), then the block's; span is
 *                            the block size, or 1 MiB for smaller linked blocks (lz4-frames.ts: they follow
 *                            each other until the next would not fit)
 *   32 bytes of slack        for the decoder's 16-byte copies past the output's limit
 *   [inBase, inBase + n)     the compressed block, then 16 bytes it may read past the end
 * so memory is one block's output and one compressed block (≤ 2 × 4 MiB), grown as blocks need it.
 */
import { LZ4_BLOCK_WASM } from './lz4-block-wasm.js';
import { xxh32Finish, xxh32Lanes } from './xxhash32.js';

const OUT = 16;
const WINDOW = 64 << 10;
/** How far back linked blocks refer: the output area holds this much of earlier output before a block. */
export const LZ4_WINDOW = WINDOW;
const OUT_SLACK = 32;
const IN_SLACK = 16;
const PAGE = 64 << 10;

interface BlockExports {
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  decode(s: number, end: number, o: number, limit: number, base: number): number;
  stripes(p: number, end: number): void;
  readonly v1: { value: number };
  readonly v2: { value: number };
  readonly v3: { value: number };
  readonly v4: { value: number };
}
// The part of the WebAssembly global used here (TypeScript declares it only in the DOM libraries).
interface WasmModule { readonly kind?: never }
interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { readonly exports: object };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

// The compiled module (immutable code) is shared; each decoder instantiates its own memory.
let compiled: WasmModule | undefined;
function blockModule(): WasmModule {
  compiled ??= new wasm.Module(Buffer.from(LZ4_BLOCK_WASM, 'base64'));
  return compiled;
}

export class Lz4BlockCorrupt extends Error {}

/**
 * One stream's decoding memory: output window and block, compressed input, content checksum. Output positions
 * in its methods count from the start of the output area.
 */
export class WasmBlockArea {
  private readonly exports: BlockExports;
  private bytes: Uint8Array;
  private outSize = 0;
  /** Content checksum: bytes hashed, bytes of the unfinished stripe at [0, held). */
  private total = 0;
  private held = 0;

  constructor() {
    this.exports = new wasm.Instance(blockModule(), {}).exports as BlockExports;
    this.bytes = new Uint8Array(this.exports.memory.buffer);
  }

  /** Where the next block's `size` compressed bytes go (a view valid until the next call); output room `span`. */
  input(size: number, span: number): Uint8Array {
    const inBase = this.reserve(WINDOW + span, size);
    return this.bytes.subarray(inBase, inBase + size);
  }

  /** Decodes the `size` bytes put in input() (compressed, or stored when `stored`) to [start, end); returns end. */
  decode(size: number, stored: boolean, start: number, blockMax: number): number {
    const inBase = OUT + this.outSize + OUT_SLACK;
    if (stored) {
      this.bytes.copyWithin(OUT + start, inBase, inBase + size);
      return start + size;
    }
    const end = this.exports.decode(inBase, inBase + size, OUT + start, OUT + start + blockMax, OUT);
    if (end < 0) throw new Lz4BlockCorrupt(end === -2 ? 'bad match' : 'literals overrun or truncated sequence');
    return end - OUT;
  }

  /** A copy of output bytes [start, end). */
  copyOut(start: number, end: number): Buffer {
    return Buffer.from(this.bytes.subarray(OUT + start, OUT + end));
  }

  /** Output bytes [start, end) in place: valid until the next block is decoded or the memory grows. */
  view(start: number, end: number): Buffer {
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + OUT + start, end - start);
  }

  /** Moves the last 64 KiB of output up to `end` to the front (linked blocks); returns how many bytes. */
  keepWindow(end: number): number {
    const keep = Math.min(WINDOW, end);
    this.bytes.copyWithin(OUT, OUT + end - keep, OUT + end);
    return keep;
  }

  /** Starts a content checksum (seed 0). */
  hashStart(): void {
    const [a, b, c, d] = xxh32Lanes();
    const x = this.exports;
    x.v1.value = a; x.v2.value = b; x.v3.value = c; x.v4.value = d;
    this.total = 0;
    this.held = 0;
  }

  /** Adds output bytes [start, end) to the content checksum. */
  hashUpdate(start: number, end: number): void {
    let p = OUT + start;
    const stop = OUT + end;
    this.total += stop - p;
    if (this.held > 0) { // complete the unfinished stripe first
      const take = Math.min(16 - this.held, stop - p);
      this.bytes.copyWithin(this.held, p, p + take);
      this.held += take;
      p += take;
      if (this.held < 16) return;
      this.exports.stripes(0, 16);
      this.held = 0;
    }
    const whole = p + ((stop - p) & ~15);
    this.exports.stripes(p, whole);
    this.bytes.copyWithin(0, whole, stop);
    this.held = stop - whole;
  }

  hashDigest(): number {
    const x = this.exports;
    return xxh32Finish([x.v1.value, x.v2.value, x.v3.value, x.v4.value], this.total, this.bytes.subarray(0, this.held));
  }

  /** Makes room for an output area of `outSize` and `inSize` input bytes; returns where the input goes. */
  private reserve(outSize: number, inSize: number): number {
    if (outSize > this.outSize) this.outSize = outSize;
    const inBase = OUT + this.outSize + OUT_SLACK;
    const need = inBase + inSize + IN_SLACK;
    const have = this.exports.memory.buffer.byteLength;
    if (need > have) {
      this.exports.memory.grow(Math.ceil((need - have) / PAGE));
      this.bytes = new Uint8Array(this.exports.memory.buffer);
    }
    return inBase;
  }
}
