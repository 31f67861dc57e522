import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { lz4Compress, lz4Decompress, Lz4CompressStream, Lz4DecompressStream, Lz4FormatError } from '../../../src/pipeline/lz4-frames.js';
import { lz4CompressFrame } from '../../../src/pipeline/lz4-compress.js';
import { createTarCompressor } from '../../../src/pipeline/backup-compression.js';
import { TaskLimiter } from '../../../src/pipeline/task-limiter.js';
import { xxh32, xxh32Stream } from '../../../src/pipeline/xxhash32.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';
import { REPO_ROOT } from '../../harness/postgres.js';
import { requireInstalled } from '../../harness/test-env.js';
import { BARMAN_PYTHON, hasBarman, INSTALL_HINT } from '../../harness/peers.js';

function sample(size: number): Buffer {
  const out = Buffer.alloc(size);
  const rnd = crypto.randomBytes(4096);
  for (let o = 0; o < size; o += 1000) {
    const row = Buffer.from(`row ${o % 7919} status shipped ${'abc'.repeat(o % 13)} `);
    row.copy(out, o, 0, Math.min(row.length, size - o));
    if (o % 3000 === 0) rnd.copy(out, o + 200, 0, Math.max(0, Math.min(300, size - o - 200)));
  }
  return out;
}

describe('LZ4 frames (blocks and content checksum decoded in WebAssembly)', () => {
  it('xxHash32 matches the reference values', () => {
    assert.equal(xxh32(Buffer.alloc(0)), 0x02cc5d05);
    assert.equal(xxh32(Buffer.from('a')), 0x550d7456);
    assert.equal(xxh32(Buffer.from('abc')), 0x32d153ff);
    assert.equal(xxh32(Buffer.from('Nobody inspects the spammish repetition')), 0xe2293b2f);
    const data = crypto.randomBytes(1000);
    for (const cuts of [[0], [1, 15, 16, 17], [3, 500, 999], [16, 32, 48]]) {
      const h = xxh32Stream();
      let at = 0;
      for (const c of [...cuts, data.length]) { h.update(data.subarray(at, c)); at = c; }
      assert.equal(h.digest(), xxh32(data), `cut at ${cuts.join(',')}`);
    }
  });

  it('decodes what the lz4 program writes: linked and independent blocks, every block size, block and content checksums, content size', (t) => {
    if (!requireInstalled(t, 'lz4', spawnSync('sh', ['-c', 'command -v lz4']).status === 0)) return;
    const dir = makeTempDir('lz4-cli');
    t.after(() => removeDir(dir));
    const data = sample(3 * 1024 * 1024 + 333);
    const plain = path.join(dir, 'plain');
    fs.writeFileSync(plain, data);
    for (const flags of [[], ['-BD'], ['-BI'], ['-B4'], ['-B5', '-BD'], ['-B6'], ['-B7'], ['-BX'], ['--content-size'], ['--no-frame-crc'], ['-9', '-BD'], ['-1']]) {
      const packed = execFileSync('lz4', ['-c', '-f', ...flags, plain], { maxBuffer: 64 << 20 });
      assert.ok(lz4Decompress(packed).equals(data), flags.join(' ') || 'defaults');
    }
  });

  it('refuses corrupt and truncated frames with Lz4FormatError', (t) => {
    if (!requireInstalled(t, 'lz4', spawnSync('sh', ['-c', 'command -v lz4']).status === 0)) return;
    const packed = execFileSync('lz4', ['-c', '-BX'], { input: sample(200_000) });
    assert.throws(() => lz4Decompress(packed.subarray(0, packed.length - 10)), Lz4FormatError);
    for (const at of [5, 6, 40, Math.floor(packed.length / 2), packed.length - 2]) {
      const bad = Buffer.from(packed);
      bad[at] = (bad[at] as number) ^ 0x55;
      assert.throws(() => lz4Decompress(bad), Lz4FormatError, `byte ${at}`);
    }
  });

  it('decodes matches of every short period and length (overlapping copies), runs of one byte and incompressible data', (t) => {
    if (!requireInstalled(t, 'lz4', spawnSync('sh', ['-c', 'command -v lz4']).status === 0)) return;
    const rnd = crypto.randomBytes(1 << 16);
    const parts: Buffer[] = [];
    let r = 0;
    for (let period = 1; period <= 20; period++) {
      for (const len of [4, 5, 7, 8, 9, 13, 15, 16, 17, 31, 33, 64, 65, 300, 5000, 70_000]) {
        const run = Buffer.alloc(len + period);
        for (let i = 0; i < run.length; i++) run[i] = rnd[r + (i % period)] as number;
        r = (r + period) % 60_000;
        parts.push(run, rnd.subarray(r, r + 1 + (len % 23))); // a few bytes that end the run
      }
    }
    parts.push(Buffer.alloc(3 << 20), rnd, Buffer.alloc(100_001, 7));
    const data = Buffer.concat([...parts, ...parts.slice(0, 200)]); // the repeat: matches far back
    for (const flags of [['-1'], ['-9'], ['-12', '-BD'], ['-1', '-BD', '-B4']]) {
      const packed = execFileSync('lz4', ['-c', ...flags], { input: data, maxBuffer: 64 << 20 });
      assert.ok(lz4Decompress(packed).equals(data), flags.join(' '));
    }
    assert.ok(lz4Decompress(lz4Compress(data)).equals(data), 'pgstow\'s own frames');
  });

  it('checks the content checksum over blocks of any size, and refuses a frame whose checksum differs', () => {
    // FLG 0x64: version 1, independent blocks, content checksum; BD 0x40: 64 KiB blocks. Stored blocks whose
    // sizes are not multiples of xxHash32's 16-byte stripes.
    const data = sample(70_000);
    const descriptor = Buffer.from([0x64, 0x40]);
    const records: Buffer[] = [Buffer.from([0x04, 0x22, 0x4d, 0x18]), descriptor, Buffer.from([(xxh32(descriptor) >>> 8) & 0xff])];
    let at = 0;
    for (const n of [1, 15, 17, 100, 31, 16, 1000, 5, 3000]) {
      const word = Buffer.alloc(4);
      word.writeUInt32LE((n | 0x80000000) >>> 0);
      records.push(word, data.subarray(at, at + n));
      at += n;
    }
    const content = data.subarray(0, at);
    const sum = Buffer.alloc(4);
    sum.writeUInt32LE(xxh32(content));
    const frame = Buffer.concat([...records, Buffer.alloc(4), sum]);
    assert.ok(lz4Decompress(frame).equals(content));
    frame[frame.length - 1] = (frame[frame.length - 1] as number) ^ 1;
    assert.throws(() => lz4Decompress(frame), /content checksum mismatch/);
    if (spawnSync('sh', ['-c', 'command -v lz4']).status !== 0) return;
    const packed = execFileSync('lz4', ['-c'], { input: sample(300_000) }); // the program's frames carry one too
    packed[packed.length - 2] = (packed[packed.length - 2] as number) ^ 1;
    assert.throws(() => lz4Decompress(packed), /content checksum mismatch/);
  });

  it('the WebAssembly module is what src/pipeline/lz4-block.wat assembles to', () => {
    const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'build-lz4-wasm.mjs'), '--check'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });

  it('refuses a match that reaches before the start of the frame', () => {
    // Header: magic, FLG (version 1, independent blocks), BD (64 KiB), HC; one block: token 0x04 (no literal,
    // match length 8) with offset 1 at output position 0; end mark.
    const descriptor = Buffer.from([0x60, 0x40]);
    const hc = (xxh32(descriptor) >>> 8) & 0xff;
    const block = Buffer.from([0x04, 0x01, 0x00]);
    const frame = Buffer.concat([Buffer.from([0x04, 0x22, 0x4d, 0x18]), descriptor, Buffer.from([hc]), Buffer.from([block.length, 0, 0, 0]), block, Buffer.alloc(4)]);
    assert.throws(() => lz4Decompress(frame), /bad match/);
  });

  it('pgstow writes one frame per stream: backups (blocks compressed concurrently), WAL and the stream compressor', async () => {
    const data = sample(9 * 1024 * 1024 + 77);
    const outputs = {
      backup: await collect(Readable.from(pieces(data, 300_000)), createTarCompressor('lz4', undefined, { limiter: new TaskLimiter(3), blockSize: 1 << 20 }) as NodeJS.ReadWriteStream),
      whole: lz4Compress(data),
      stream: await collect(Readable.from(pieces(data, 1_000_000)), new Lz4CompressStream()),
    };
    for (const [what, packed] of Object.entries(outputs)) {
      assert.deepEqual(frameLengths(packed), [packed.length], `${what}: one frame`);
      assert.ok(lz4Decompress(packed).equals(data), `${what}: round trip`);
    }
    assert.deepEqual(frameLengths(await collect(Readable.from([]), new Lz4CompressStream())).length, 1, 'empty input: one empty frame');
  });

  it('stores incompressible blocks as they are (whole buffer and stream)', async () => {
    const data = crypto.randomBytes((1 << 20) + 3);
    const whole = lz4Compress(data);
    assert.ok(whole.readUInt32LE(7) & 0x80000000, 'the first block is stored');
    assert.ok(lz4Decompress(whole).equals(data));
    assert.ok(lz4Decompress(await collect(Readable.from([data]), new Lz4CompressStream())).equals(data));
  });

  it('the stream compressor (WAL archiving) compresses about 1 MiB of input at a time (64 KiB reads)', async () => {
    const data = crypto.randomBytes(5 * 1024 * 1024 + 5); // incompressible: each block is stored at its input's size
    const packed = await collect(Readable.from(pieces(data, 64 << 10)), new Lz4CompressStream());
    const sizes: number[] = [];
    for (let p = 7, size = packed.readUInt32LE(p); size !== 0; p += 4 + (size & 0x7fffffff), size = packed.readUInt32LE(p)) sizes.push(size & 0x7fffffff);
    assert.ok(sizes.length >= 5 && sizes.every((n) => n <= 1 << 20), `block sizes ${sizes.join(', ')}`);
    assert.ok(lz4Decompress(packed).equals(data));
  });

  it('decodes streaming, block by block: output comes before the frame ends, in any input pieces', async () => {
    const data = sample(13 * 1024 * 1024);
    const packed = lz4Compress(data); // one frame of four blocks
    const decoder = new Lz4DecompressStream();
    const got: Buffer[] = [];
    decoder.on('data', (b: Buffer) => got.push(b));
    decoder.write(packed.subarray(0, Math.floor(packed.length / 2)));
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(got.length > 0 && Buffer.concat(got).length >= 4 << 20, 'blocks of the first half are out before the rest arrives');
    for (const size of [7, 65536, 5_000_000]) {
      assert.ok((await collect(Readable.from(pieces(packed, size)), new Lz4DecompressStream())).equals(data), `pieces of ${size} bytes`);
    }
    const small = data.subarray(0, 70_000);
    assert.ok((await collect(Readable.from(pieces(lz4Compress(small), 1)), new Lz4DecompressStream())).equals(small), 'pieces of 1 byte');
  });

  it('holds at most one 64 KiB piece of output until its reader reads (a 4 MiB block is not pushed at once)', async () => {
    const data = sample(9 * 1024 * 1024);
    const packed = lz4Compress(data); // 4 MiB blocks
    const decoder = new Lz4DecompressStream();
    decoder.write(packed);
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(decoder.readableLength > 0 && decoder.readableLength <= 64 << 10, `output waiting: ${decoder.readableLength} bytes`);
    const got: Buffer[] = [];
    decoder.on('data', (b: Buffer) => { assert.ok(b.length <= 64 << 10, `a piece of ${b.length} bytes`); got.push(b); });
    decoder.end();
    await new Promise((resolve) => decoder.on('end', resolve));
    assert.ok(Buffer.concat(got).equals(data));
  });

  it('reads pgstow\'s earlier output (one frame per 4 MiB) and skippable frames between frames', async () => {
    const data = sample(10 * 1024 * 1024 + 5);
    const skippable = Buffer.from([0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
    const frames = [lz4CompressFrame(data.subarray(0, 4 << 20)), skippable, lz4CompressFrame(data.subarray(4 << 20, 8 << 20)), lz4CompressFrame(data.subarray(8 << 20))];
    const packed = Buffer.concat(frames);
    assert.ok(lz4Decompress(packed).equals(data));
    assert.ok((await collect(Readable.from(pieces(packed, 100_003)), new Lz4DecompressStream())).equals(data));
  });

  it('Barman 3.19 reads pgstow\'s lz4 volume with its own reader (Lz4Compressor.decompress, 64 KiB chunks), and pgstow reads Barman\'s', async (t) => {
    if (!requireInstalled(t, `Barman 3.19 (${INSTALL_HINT})`, hasBarman('3.19'))) return;
    const dir = makeTempDir('lz4-barman');
    t.after(() => removeDir(dir));
    const data = sample(9 * 1024 * 1024 + 123);
    fs.writeFileSync(path.join(dir, 'plain'), data);
    const volume = await collect(Readable.from(pieces(data, 256 * 1024)), createTarCompressor('lz4', undefined, { limiter: new TaskLimiter(2) }) as NodeJS.ReadWriteStream);
    fs.writeFileSync(path.join(dir, 'pgstow.lz4'), volume);
    // What barman-cloud-restore does with a .tar.lz4 (barman/cloud.py extract_tar → cloud_compression.Lz4Compressor).
    const script = [
      'import hashlib, sys',
      'from barman.clients.cloud_compression import Lz4Compressor',
      'd = Lz4Compressor(); h = hashlib.sha256(); n = 0',
      'with open(sys.argv[1], "rb") as f:',
      '    for chunk in iter(lambda: f.read(65536), b""):',
      '        out = d.decompress(chunk); h.update(out); n += len(out)',
      'print(n, h.hexdigest())',
      'c = Lz4Compressor()',
      'with open(sys.argv[2], "rb") as f, open(sys.argv[3], "wb") as o:',
      '    for chunk in iter(lambda: f.read(1 << 20), b""): o.write(c.add_chunk(chunk))',
      '    o.write(c.flush())',
    ].join('\n');
    const out = execFileSync(BARMAN_PYTHON['3.19'], ['-c', script, path.join(dir, 'pgstow.lz4'), path.join(dir, 'plain'), path.join(dir, 'barman.lz4')], { encoding: 'utf8' });
    assert.equal(out.trim(), `${data.length} ${crypto.createHash('sha256').update(data).digest('hex')}`, 'Barman 3.19 decodes all of it');
    const barman = fs.readFileSync(path.join(dir, 'barman.lz4'));
    assert.equal(frameLengths(barman).length, 1, 'Barman writes one frame');
    assert.ok((await collect(Readable.from(pieces(barman, 65536)), new Lz4DecompressStream())).equals(data), 'pgstow decodes Barman\'s');
  });

  it('a stream cut anywhere, even between blocks, is refused as truncated', async () => {
    const packed = lz4Compress(sample(9 * 1024 * 1024));
    const blockEnd = 7 + 4 + packed.readUInt32LE(7); // the first block ends here, a block begins
    for (const cut of [3, 7, 20, blockEnd, blockEnd + 2, Math.floor(packed.length / 2), packed.length - 4]) {
      await assert.rejects(collect(Readable.from([packed.subarray(0, cut)]), new Lz4DecompressStream()), /truncated LZ4 stream/, `cut at ${cut}`);
    }
  });
});

function pieces(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let o = 0; o < data.length; o += size) out.push(data.subarray(o, o + size));
  return out;
}

async function collect(source: Readable, transform: NodeJS.ReadWriteStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(source, transform, new Writable({ write(c: Buffer, _e, cb) { chunks.push(c); cb(); } }));
  return Buffer.concat(chunks);
}

/** Lengths of the LZ4 frames `packed` holds, read from their headers and block size words. */
function frameLengths(packed: Buffer): number[] {
  const lengths: number[] = [];
  let p = 0;
  while (p < packed.length) {
    assert.equal(packed.readUInt32LE(p), 0x184d2204, `frame magic at ${p}`);
    const flg = packed[p + 4] as number;
    let q = p + 7 + ((flg & 0x08) ? 8 : 0);
    for (let size = packed.readUInt32LE(q); size !== 0; size = packed.readUInt32LE(q)) q += 4 + (size & 0x7fffffff) + ((flg & 0x10) ? 4 : 0);
    q += 4 + ((flg & 0x04) ? 4 : 0);
    lengths.push(q - p);
    p = q;
  }
  return lengths;
}
