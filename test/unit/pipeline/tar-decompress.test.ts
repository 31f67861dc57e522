import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { requireInstalled } from '../../harness/test-env.js';
import * as zlib from 'node:zlib';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createTarDecompressor, lz4TarPieces } from '../../../src/pipeline/tar-decompress.js';
import { xxh32 } from '../../../src/pipeline/xxhash32.js';
import { CodecError } from '../../../src/pipeline/codecs.js';
import { lz4Compress } from '../../../src/pipeline/lz4-frames.js';

/** Rows of text with random runs: compressible, several 4 MiB LZ4 blocks. */
function sample(size: number): Buffer {
  const out = Buffer.alloc(size);
  const rnd = crypto.randomBytes(8192);
  for (let o = 0; o < size; o += 500) {
    Buffer.from(`row ${o} status shipped ${'lorem ipsum '.repeat(o % 7)}`).copy(out, o, 0, Math.min(200, size - o));
    if (o % 1500 === 0) rnd.copy(out, o + 200, o % 4096, o % 4096 + Math.max(0, Math.min(250, size - o - 200)));
  }
  return out;
}

/** The object's bytes in 64 KiB pieces (as a download hands them over) through the tar decompressor. */
async function decode(data: Buffer, codec: 'lz4' | 'gzip' = 'lz4', chunks: Buffer[] = []): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let o = 0; o < data.length; o += 65536) pieces.push(data.subarray(o, o + 65536));
  await pipeline(Readable.from(pieces), createTarDecompressor(codec), new Writable({ write(c: Buffer, _e, cb) { chunks.push(c); cb(); } }));
  return Buffer.concat(chunks);
}

describe('tar decompression of gzip volumes', () => {
  it('hands over most bytes in chunks of at least a quarter of their buffer (smaller ones the file writer copies)', async () => {
    // Half random, half text: ~2× compression as in a database's tables (a 64 KiB piece inflates to ~130 KiB).
    const original = Buffer.concat(Array.from({ length: 64 }, (_, i) => Buffer.concat([crypto.randomBytes(64 << 10), Buffer.from(`row ${i} lorem ipsum dolor `.repeat(2700)).subarray(0, 64 << 10)])));
    const chunks: Buffer[] = [];
    assert.ok((await decode(zlib.gzipSync(original), 'gzip', chunks)).equals(original));
    const copied = chunks.filter((c) => c.length < c.buffer.byteLength / 4).reduce((n, c) => n + c.length, 0);
    // With 1 MiB output buffers 60-70 % of the bytes came in such slices (measured on a restore: 312 of 461 MB).
    assert.ok(copied < original.length * 0.3, `${copied} of ${original.length} bytes in slices under a quarter of their buffer`);
  });

  it('a truncated volume fails as damaged gzip data', async () => {
    const gz = zlib.gzipSync(sample(1 << 20));
    await assert.rejects(decode(gz.subarray(0, gz.length - 100), 'gzip'), (err: unknown) => err instanceof CodecError && /gzip/.test(err.message));
  });
});

describe('tar decompression of lz4 volumes (in-process, WebAssembly)', () => {
  const original = sample(9 << 20);
  const frame = lz4Compress(original);

  it('decodes a frame of several blocks to the original bytes', async () => {
    assert.ok((await decode(frame)).equals(original));
  });

  it('a truncated volume fails as damaged lz4 data', async () => {
    await assert.rejects(decode(frame.subarray(0, frame.length >> 1)), (err: unknown) => err instanceof CodecError && /lz4/.test(err.message));
  });

  it('a changed content checksum fails', async () => {
    const bad = Buffer.from(frame);
    bad[bad.length - 2] = (bad[bad.length - 2] as number) ^ 0x5a;
    await assert.rejects(decode(bad), (err: unknown) => err instanceof CodecError && /lz4/.test(err.message));
  });

  it('a changed byte in the blocks fails or decodes to the original bytes, never to other bytes', async () => {
    // A changed match offset can point at equal bytes in repetitive data: then the output is still the original.
    for (const at of [frame.length >> 2, frame.length >> 1, (frame.length >> 2) * 3]) {
      const bad = Buffer.from(frame);
      bad[at] = (bad[at] as number) ^ 0x5a;
      const out = await decode(bad).catch((err: unknown) => {
        assert.ok(err instanceof CodecError && /lz4/.test(err.message), String(err));
        return undefined;
      });
      if (out) assert.ok(out.equals(original), `byte ${at} changed gave other bytes, not an error`);
    }
  });

  it('bytes after the last frame fail', async () => {
    await assert.rejects(decode(Buffer.concat([frame, Buffer.from('not an lz4 frame')])), (err: unknown) => err instanceof CodecError);
  });
});

describe('lz4 volumes decoded as the extractor pulls (lz4TarPieces: pieces lent from the decoder)', () => {
  const original = sample(9 << 20);
  const frame = lz4Compress(original);
  /** Each piece copied before the next is asked for, as extractTar's borrowed mode does. */
  async function pull(data: Buffer, size = 65536): Promise<Buffer> {
    const copies: Buffer[] = [];
    for await (const piece of lz4TarPieces(chunksOf(data, size))) copies.push(Buffer.from(piece));
    return Buffer.concat(copies);
  }

  it('decodes a frame of several blocks to the original bytes, in pieces of at most 256 KiB', async () => {
    let largest = 0;
    for await (const piece of lz4TarPieces(chunksOf(frame, 65536))) largest = Math.max(largest, piece.length);
    // pgstow's 4 MiB blocks leave in 256 KiB views (a quarter of the trips through the extractor of 64 KiB ones).
    assert.equal(largest, 256 * 1024);
    assert.ok((await pull(frame)).equals(original));
    assert.ok((await pull(frame, 1000)).equals(original));
  });

  it('a linked block ending past 64 KiB keeps its last piece intact until the next is asked for', async () => {
    // Two stored, linked 40,000-byte blocks in a frame of 4 MiB blocks: after the second, its last 64 KiB of output
    // move to the front of the decoder's memory, over bytes of the piece just lent (the move must wait for the
    // next pull).
    const a = crypto.randomBytes(40_000);
    const b = crypto.randomBytes(40_000);
    const descriptor = Buffer.from([0x40, 0x70]); // version 1, linked blocks, no checksums; 4 MiB blocks
    const stored = (x: Buffer): Buffer => { const size = Buffer.alloc(4); size.writeUInt32LE((x.length | 0x80000000) >>> 0); return Buffer.concat([size, x]); };
    const lz = Buffer.concat([Buffer.from([0x04, 0x22, 0x4d, 0x18]), descriptor, Buffer.from([(xxh32(descriptor) >>> 8) & 0xff]), stored(a), stored(b), Buffer.alloc(4)]);
    assert.ok((await pull(lz)).equals(Buffer.concat([a, b])));
  });

  it('decodes 64 KiB linked blocks with a content checksum (as python-lz4 writes for Barman) across the window\'s moves', async (t) => {
    if (!requireInstalled(t, 'lz4', spawnSync('sh', ['-c', 'command -v lz4']).status === 0)) return;
    const linked = execFileSync('lz4', ['-c', '-BD', '-B4'], { input: original, maxBuffer: 64 << 20 });
    assert.ok((await pull(linked)).equals(original));
    assert.ok((await pull(linked, 777)).equals(original));
  });

  it('lent input (each chunk overwritten once the next is asked for, as a download lends them): the same bytes', async (t) => {
    const pullLent = async (data: Buffer, size: number): Promise<Buffer> => {
      const copies: Buffer[] = [];
      for await (const piece of lz4TarPieces(lentChunksOf(data, size), () => true)) copies.push(Buffer.from(piece));
      return Buffer.concat(copies);
    };
    for (const size of [65536, 1000]) assert.ok((await pullLent(frame, size)).equals(original), `chunks of ${size}`);
    // Chunks that split frame headers, block sizes and checksums (a smaller frame: one chunk per pull).
    const small = sample(300_000);
    for (const size of [3, 7]) assert.ok((await pullLent(lz4Compress(small), size)).equals(small), `chunks of ${size}`);
    if (!requireInstalled(t, 'lz4', spawnSync('sh', ['-c', 'command -v lz4']).status === 0)) return;
    const linked = execFileSync('lz4', ['-c', '-BD', '-B4', '-BX'], { input: original, maxBuffer: 64 << 20 });
    assert.ok((await pullLent(linked, 777)).equals(original), 'linked 64 KiB blocks with block checksums');
  });

  it('damaged volumes fail as damaged lz4 data', async () => {
    await assert.rejects(pull(frame.subarray(0, frame.length >> 1)), (err: unknown) => err instanceof CodecError && /lz4/.test(err.message));
    const bad = Buffer.from(frame);
    bad[bad.length - 2] = (bad[bad.length - 2] as number) ^ 0x5a;
    await assert.rejects(pull(bad), (err: unknown) => err instanceof CodecError && /checksum/.test(err.message));
  });
});

async function* chunksOf(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let o = 0; o < data.length; o += size) yield data.subarray(o, o + size);
}

/** The chunks in one buffer, overwritten with garbage when the next is asked for. */
async function* lentChunksOf(data: Buffer, size: number): AsyncGenerator<Buffer> {
  const shared = Buffer.alloc(size);
  for (let o = 0; o < data.length; o += size) {
    const n = data.copy(shared, 0, o, o + size);
    yield shared.subarray(0, n);
    shared.fill(0xee);
  }
}
