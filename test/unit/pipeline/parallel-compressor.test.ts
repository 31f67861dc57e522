import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createTarCompressor } from '../../../src/pipeline/backup-compression.js';
import { createBlockEncoder, type BlockCodec, type BlockEncoder } from '../../../src/pipeline/block-encoders.js';
import { ParallelCompressor } from '../../../src/pipeline/parallel-compressor.js';
import { TaskLimiter } from '../../../src/pipeline/task-limiter.js';
import { getCodec } from '../../../src/pipeline/codecs.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';
import { requireInstalled } from '../../harness/test-env.js';

/** Table-like bytes: text rows, numbers, random bytes and empty pages (a few MiB). */
function tableLike(size: number): Buffer {
  const out = Buffer.alloc(size);
  const rnd = crypto.randomBytes(256 * 1024);
  for (let off = 0, page = 0; off < size; off += 8192, page++) {
    if (page % 5 === 0) continue;
    const row = Buffer.from(`${page} order shipped note: lorem ipsum dolor sit amet ref ${page * 7919} `.repeat(60));
    row.copy(out, off, 0, Math.min(5000, size - off));
    if (off + 5000 < size) rnd.copy(out, off + 5000, (page * 3000) % (rnd.length - 3192), (page * 3000) % (rnd.length - 3192) + Math.min(3192, size - off - 5000));
  }
  return out;
}

async function through(data: Buffer, chunk: number, stream: NodeJS.ReadWriteStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let o = 0; o < data.length; o += chunk) parts.push(data.subarray(o, o + chunk));
  const out: Buffer[] = [];
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => out.push(c));
  await pipeline(Readable.from(parts), stream, sink);
  return Buffer.concat(out);
}

const have = (p: string): boolean => spawnSync('sh', ['-c', `command -v ${p}`]).status === 0;
const BARMAN_PYTHON = '/usr/bin/python3';
const CODECS: BlockCodec[] = ['gzip', 'bzip2', 'snappy', 'zstd', 'lz4'];
const PROGRAM: Partial<Record<BlockCodec, string>> = { gzip: 'gzip', bzip2: 'bzip2', zstd: 'zstd', lz4: 'lz4' };

describe('parallel compression', () => {
  const data = tableLike(3 * 1024 * 1024 + 777);

  for (const codec of CODECS) {
    for (const jobs of [1, 3]) {
      it(`${codec}, ${jobs} job(s): one valid ${codec} stream that pgstow and the ${PROGRAM[codec] ?? codec} program decode to the input`, async (t) => {
        const packed = await through(data, 100_003, createTarCompressor(codec, undefined, { limiter: new TaskLimiter(jobs), blockSize: 256 * 1024 }) as NodeJS.ReadWriteStream);
        assert.ok(packed.length < data.length * 0.8, `${codec} compresses (${packed.length} of ${data.length})`);
        assert.ok((await through(packed, 65_536, getCodec(codec).createDecompressor())).equals(data), 'pgstow decodes it');
        const program = PROGRAM[codec];
        if (program && requireInstalled(t, program, have(program))) {
          const dir = makeTempDir('pc-prog');
          t.after(() => removeDir(dir));
          const file = path.join(dir, `x${getCodec(codec).suffix}`);
          fs.writeFileSync(file, packed);
          assert.ok(execFileSync(program, ['-dc', file], { maxBuffer: 64 << 20 }).equals(data), `${program} decodes it`);
        }
      });
    }
  }

  it('gzip is a single member (pigz style): the first member alone holds every byte, CRC32 and size in the trailer', async () => {
    const packed = await through(data, 50_000, createTarCompressor('gzip', 6, { limiter: new TaskLimiter(3), blockSize: 128 * 1024 }) as NodeJS.ReadWriteStream);
    // inflateRaw stops at the first final block: with several members it would return only the first one.
    assert.ok(zlib.inflateRawSync(packed.subarray(10, packed.length - 8)).equals(data));
    assert.equal(packed.readUInt32LE(packed.length - 8), zlib.crc32(data) >>> 0);
    assert.equal(packed.readUInt32LE(packed.length - 4), data.length);
    // About the ratio of one zlib stream at the same level (independent blocks: each starts without history).
    const single = zlib.gzipSync(data, { level: 6 }).length;
    assert.ok(packed.length < single * 1.01, `${packed.length} vs one stream ${single}`);
  });

  it('bzip2 is a single stream: one header, and it spans several blocks', async () => {
    const packed = await through(data, 70_000, createTarCompressor('bzip2', 9, { limiter: new TaskLimiter(3) }) as NodeJS.ReadWriteStream);
    assert.equal(packed.subarray(0, 4).toString('latin1'), 'BZh9');
    const blocks = Math.ceil(data.length / createBlockEncoder('bzip2', 9, 0).blockSize);
    assert.ok(blocks >= 4, `${blocks} blocks`);
    assert.ok((await getCodec('bzip2').decompress(packed)).equals(data));
  });

  it("Python's tarfile (what barman-cloud-restore uses) reads gzip and bzip2 tars compressed on several cores", async (t) => {
    if (!requireInstalled(t, `${BARMAN_PYTHON} (Barman's Python)`, fs.existsSync(BARMAN_PYTHON))) return;
    const dir = makeTempDir('pc-tarfile');
    t.after(() => removeDir(dir));
    fs.mkdirSync(path.join(dir, 'src', 'base', '5'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'src', 'base', '5', '16384'), data);
    fs.writeFileSync(path.join(dir, 'src', 'PG_VERSION'), '15\n');
    const tar = execFileSync('tar', ['-C', path.join(dir, 'src'), '-cf', '-', '.'], { maxBuffer: 64 << 20 });
    for (const [codec, mode] of [['gzip', 'r|gz'], ['bzip2', 'r|bz2']] as const) {
      const file = path.join(dir, `data.tar${getCodec(codec).suffix}`);
      fs.writeFileSync(file, await through(tar, 65_536, createTarCompressor(codec, undefined, { limiter: new TaskLimiter(2), blockSize: 256 * 1024 }) as NodeJS.ReadWriteStream));
      const out = path.join(dir, `out-${codec}`);
      execFileSync(BARMAN_PYTHON, ['-c', `import tarfile, sys\nwith tarfile.open(sys.argv[1], '${mode}') as t: t.extractall(sys.argv[2])`, file, out]);
      assert.ok(fs.readFileSync(path.join(out, 'base', '5', '16384')).equals(data), `${codec}: Python's tarfile restores the file`);
    }
  });

  it('an empty input still gives a valid stream of every codec', async () => {
    for (const codec of CODECS) {
      const packed = await through(Buffer.alloc(0), 1, createTarCompressor(codec, undefined, { limiter: new TaskLimiter(2) }) as NodeJS.ReadWriteStream);
      assert.equal((await getCodec(codec).decompress(packed)).length, 0, codec);
    }
  });

  it('streams sharing a limiter never compress more blocks at once than its limit, and keep block order', async () => {
    let running = 0;
    let peak = 0;
    const encoder = (): BlockEncoder => ({
      blockSize: 1000, start: () => Buffer.alloc(0), finish: () => Buffer.alloc(0), append: (_b, c) => c,
      async compress(block) {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, Math.random() * 5));
        running--;
        return Buffer.from(block);
      },
    });
    const limiter = new TaskLimiter(2);
    const input = crypto.randomBytes(50_000);
    const outs = await Promise.all([1, 2, 3].map(() => through(input, 777, new ParallelCompressor({ encoder: encoder(), limiter }))));
    for (const o of outs) assert.ok(o.equals(input));
    assert.equal(peak, 2);
  });

  it('reused block buffers: a gzip block whose compression starts late still compresses its own bytes', async () => {
    // Text that refers back across block boundaries: a block primed with a reused (overwritten) buffer would
    // inflate to other bytes. Each compression starts 20 ms after it is queued (as behind a limiter busy with
    // another archive's blocks): the block before it is written and the next one fills meanwhile.
    const text = Buffer.from(Array.from({ length: 40_000 }, (_, i) => `row ${i % 977} ${crypto.createHash('md5').update(String(i % 131)).digest('hex')}\n`).join(''));
    const late = { limit: 2, run: async <T>(task: () => Promise<T>): Promise<T> => { await new Promise((r) => setTimeout(r, 20)); return task(); } } as unknown as TaskLimiter;
    for (const maxQueued of [2, 3]) {
      const packed = await through(text, 10_007, new ParallelCompressor({ encoder: createBlockEncoder('gzip', 6, 16 * 1024), limiter: late, maxQueued }));
      assert.ok(zlib.gunzipSync(packed).equals(text), `${maxQueued} queued`);
    }
  });

  it('a failing block fails the stream with its error', async () => {
    const encoder: BlockEncoder = {
      blockSize: 1000, start: () => Buffer.alloc(0), finish: () => Buffer.alloc(0), append: (_b, c) => c,
      compress: async (block) => { if (block[0] === 7) throw new Error('block 7 failed'); return block; },
    };
    const input = Buffer.alloc(20_000);
    for (let i = 0; i < 20; i++) input[i * 1000] = i;
    await assert.rejects(through(input, 3000, new ParallelCompressor({ encoder, limiter: new TaskLimiter(3) })), /block 7 failed/);
  });
});
