import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CODEC_NAMES, CODECS, CodecError, codecForSuffix, detectCodec, resolveLevel, type Codec } from '../../../src/pipeline/codecs.js';

/** WAL-like data: runs of zeros, repeated records and some noise, a few MiB. */
function walLike(size: number): Buffer {
  const buf = Buffer.alloc(size);
  const rnd = crypto.randomBytes(64 * 1024);
  for (let off = 0; off < size; off += 8192) {
    const n = Math.min(8192, size - off);
    if ((off / 8192) % 3 === 0) continue; // empty page
    const text = Buffer.from(`INSERT INTO pgbench_history VALUES (${off}, 42, 'abc', now());`.repeat(40));
    text.copy(buf, off, 0, Math.min(n, 2000));
    rnd.copy(buf, off + 2000, off % 32768, off % 32768 + Math.min(Math.max(n - 2000, 0), 1024));
  }
  return buf;
}

async function streamThrough(data: Buffer, chunkSize: number, stream: NodeJS.ReadWriteStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => chunks.push(c));
  const parts: Buffer[] = [];
  for (let o = 0; o < data.length; o += chunkSize) parts.push(data.subarray(o, o + chunkSize));
  await pipeline(Readable.from(parts), stream, sink);
  return Buffer.concat(chunks);
}

function haveProgram(p: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${p}`]).status === 0;
}

const PROGRAMS: Record<string, string> = { gzip: 'gzip', bzip2: 'bzip2', xz: 'xz', zstd: 'zstd', lz4: 'lz4' };
const BARMAN_PYTHON = '/usr/bin/python3';

describe('codecs', () => {
  const data = walLike(3 * 1024 * 1024 + 12345);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstow-codecs-'));

  for (const name of CODEC_NAMES) {
    const codec: Codec = CODECS[name];
    describe(name, () => {
      it('round-trips whole buffers, with the magic bytes first', async () => {
        const packed = await codec.compress(data);
        assert.ok(packed.length < data.length, 'compressed is smaller');
        assert.equal(detectCodec(packed)?.name, name);
        assert.ok((await codec.decompress(packed)).equals(data));
      });

      it('round-trips as streams in odd-sized chunks, and reads buffer output as a stream', async () => {
        const packed = await streamThrough(data, 100_003, codec.createCompressor());
        assert.ok((await streamThrough(packed, 7_777, codec.createDecompressor())).equals(data));
        assert.ok((await codec.decompress(packed)).equals(data));
        const whole = await codec.compress(data);
        assert.ok((await streamThrough(whole, 65_000, codec.createDecompressor())).equals(data));
      });

      it('round-trips empty input', async () => {
        assert.equal((await codec.decompress(await codec.compress(Buffer.alloc(0)))).length, 0);
      });

      it('rejects corrupt data with a CodecError (exit 4)', async () => {
        const packed = await codec.compress(data);
        const bad = Buffer.from(packed.subarray(0, Math.floor(packed.length / 2)));
        for (let i = 200; i < bad.length; i += 97) bad[i] = (bad[i] as number) ^ 0x5a;
        await assert.rejects(codec.decompress(bad), (err: unknown) => err instanceof CodecError && err.exitCode === 4);
        await assert.rejects(streamThrough(bad, 4096, codec.createDecompressor()), (err: unknown) => err instanceof CodecError);
      });

      const program = PROGRAMS[name];
      if (program) {
        it(`is read by and reads the ${program} program`, async (t) => {
          if (!haveProgram(program)) { t.skip(`${program} not installed`); return; }
          const ours = path.join(tmp, `ours${codec.suffix}`);
          fs.writeFileSync(ours, await codec.compress(data));
          assert.ok(execFileSync(program, ['-dc', ours], { maxBuffer: 64 << 20 }).equals(data), `${program} reads pgstow's output`);
          const streamed = path.join(tmp, `streamed${codec.suffix}`);
          fs.writeFileSync(streamed, await streamThrough(data, 300_000, codec.createCompressor()));
          assert.ok(execFileSync(program, ['-dc', streamed], { maxBuffer: 64 << 20 }).equals(data), `${program} reads the streamed output`);
          const plain = path.join(tmp, 'plain');
          fs.writeFileSync(plain, data);
          const theirs = execFileSync(program, ['-c', plain], { maxBuffer: 64 << 20 });
          assert.ok((await codec.decompress(theirs)).equals(data), `pgstow reads ${program}'s output`);
        });
      }
    });
  }

  it('snappy is read by and reads barman-cloud 3.4 (python-snappy)', async (t) => {
    const probe = spawnSync(BARMAN_PYTHON, ['-c', 'import snappy, barman.clients.cloud_compression']);
    if (probe.status !== 0) { t.skip('barman 3.4 python with python3-snappy is not installed'); return; }
    const plain = path.join(tmp, 'snappy-plain');
    const ours = path.join(tmp, 'ours.snappy');
    const theirs = path.join(tmp, 'theirs.snappy');
    const back = path.join(tmp, 'back');
    const small = data.subarray(0, 300_000);
    fs.writeFileSync(plain, small);
    fs.writeFileSync(ours, await CODECS.snappy.compress(small));
    // Debian bookworm's python3-snappy 0.5.3 C extension fails in _crc32c ("PY_SSIZE_T_CLEAN macro must be
    // defined") on Python 3.11, so barman-cloud 3.4 cannot use --snappy there at all. Patch a pure-Python
    // CRC32C into python-snappy's framing module; the framing and barman code under test stay unchanged.
    const script = `
import sys
import snappy.snappy as framing
_T = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    _T.append(c)
def _crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _T[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF
try:
    framing._crc32c(b'x')
except SystemError:
    framing._crc32c = _crc32c
from barman.clients.cloud_compression import compress, decompress_to_file
with open(sys.argv[1], 'rb') as src, open(sys.argv[2], 'wb') as out:
    out.write(compress(src, 'snappy').read())
with open(sys.argv[3], 'rb') as src, open(sys.argv[4], 'wb') as out:
    decompress_to_file(src, out, 'snappy')
`;
    execFileSync(BARMAN_PYTHON, ['-c', script, plain, theirs, ours, back]);
    assert.ok(fs.readFileSync(back).equals(small), 'barman decodes pgstow snappy');
    const theirBytes = fs.readFileSync(theirs);
    assert.ok((await CODECS.snappy.decompress(theirBytes)).equals(small), 'pgstow decodes barman snappy');
  });

  it('maps suffixes, magic bytes and levels', () => {
    assert.equal(codecForSuffix('wals/0000000100000000/000000010000000000000001.gz')?.name, 'gzip');
    assert.equal(codecForSuffix('x.zst')?.name, 'zstd');
    assert.equal(codecForSuffix('000000010000000000000001'), undefined);
    assert.equal(detectCodec(Buffer.from('BZh91AY')), CODECS.bzip2);
    assert.equal(detectCodec(Buffer.from('plain')), undefined);
    assert.equal(resolveLevel(CODECS.gzip, 'low'), 1);
    assert.equal(resolveLevel(CODECS.gzip, 'high'), 9);
    assert.equal(resolveLevel(CODECS.gzip, '42'), 9);
    assert.equal(resolveLevel(CODECS.zstd, 'medium'), 4);
    assert.throws(() => resolveLevel(CODECS.gzip, 'fast'), /invalid compression level/);
  });

  it('names a missing program', async () => {
    const saved = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await assert.rejects(CODECS.bzip2.compress(data), /the "bzip2" program is not installed/);
    } finally { process.env.PATH = saved; }
  });
});
