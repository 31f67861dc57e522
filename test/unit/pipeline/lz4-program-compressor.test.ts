/**
 * Backup volumes compressed with lz4 go through the lz4 program when the machine has it: its output is one LZ4
 * frame that pgstow's own decoder, the lz4 program and Barman 3.19's lz4 reader decode to the input; without the
 * program the JavaScript encoder writes the volume; a program that dies mid-stream fails the stream, naming lz4.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough, Readable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { lz4TarCompressor } from '../../../src/pipeline/backup-compression.js';
import { createBlockEncoder } from '../../../src/pipeline/block-encoders.js';
import { ParallelCompressor } from '../../../src/pipeline/parallel-compressor.js';
import { CodecError, getCodec } from '../../../src/pipeline/codecs.js';
import { TaskLimiter } from '../../../src/pipeline/task-limiter.js';
import { xxh32 } from '../../../src/pipeline/xxhash32.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';
import { requireInstalled } from '../../harness/test-env.js';
import { BARMAN_PYTHON, hasBarman } from '../../harness/peers.js';

const hasLz4 = spawnSync('sh', ['-c', 'command -v lz4']).status === 0;

/** Text rows, random bytes and zero pages: compressible, with stored (incompressible) stretches. */
function tableLike(size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let off = 0, page = 0; off < size; off += 8192, page++) {
    if (page % 4 === 0) continue;
    if (page % 4 === 1) { crypto.randomFillSync(out, off, Math.min(8192, size - off)); continue; }
    Buffer.from(`${page} row shipped lorem ipsum ${page * 7919} `.repeat(300)).copy(out, off, 0, Math.min(8192, size - off));
  }
  return out;
}

async function through(data: Buffer, stream: Duplex): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let o = 0; o < data.length; o += 100_003) parts.push(data.subarray(o, o + 100_003));
  const out: Buffer[] = [];
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => out.push(c));
  await pipeline(Readable.from(parts), stream, sink);
  return Buffer.concat(out);
}

/** The JavaScript encoder alone (createTarCompressor's fallback). */
const jsLz4 = (): Duplex => new ParallelCompressor({ encoder: createBlockEncoder('lz4', undefined, 256 * 1024), limiter: new TaskLimiter(2) });

describe('lz4 backup volumes through the lz4 program', () => {
  const data = tableLike(5 * 1024 * 1024 + 333);

  it('one frame (independent 1 MiB blocks, content checksum) that pgstow, the lz4 program and Barman 3.19 decode to the input', async (t) => {
    if (!requireInstalled(t, 'lz4 (Debian package lz4)', hasLz4)) return;
    let fellBack = false;
    const packed = await through(data, lz4TarCompressor(() => { fellBack = true; return jsLz4(); }));
    assert.equal(fellBack, false, 'the program compressed, not the JavaScript encoder');
    assert.ok(packed.length < data.length * 0.8, `compressed: ${packed.length} of ${data.length}`);
    assert.deepEqual([...packed.subarray(0, 6)], [0x04, 0x22, 0x4d, 0x18, 0x64, 0x60], 'magic, FLG 01 B.Indep C.Checksum, BD 1 MiB');
    // One frame: the end mark and the content checksum of the whole input close the file.
    assert.equal(packed.readUInt32LE(packed.length - 8), 0, 'end mark');
    assert.equal(packed.readUInt32LE(packed.length - 4), xxh32(data) >>> 0, 'content checksum of all the input');
    assert.ok((await through(packed, getCodec('lz4').createDecompressor())).equals(data), "pgstow's decoder");
    const dir = makeTempDir('lz4-prog');
    t.after(() => removeDir(dir));
    const file = path.join(dir, 'data.tar.lz4');
    fs.writeFileSync(file, packed);
    assert.ok(execFileSync('lz4', ['-dc', file], { maxBuffer: 64 << 20 }).equals(data), 'the lz4 program');
    if (!requireInstalled(t, 'Barman 3.19 (scripts/install-peers)', hasBarman('3.19'))) return;
    // Barman 3.19's own reader: its ChunkedCompressor for lz4, fed in 64 KiB pieces as it reads a download.
    const digest = execFileSync(BARMAN_PYTHON['3.19'], ['-c', [
      'import sys, hashlib', 'from barman.clients.cloud_compression import get_compressor',
      'd = get_compressor("lz4"); h = hashlib.sha256(); f = open(sys.argv[1], "rb")',
      'while True:', '    b = f.read(65536)', '    if not b: break', '    h.update(d.decompress(b))',
      'print(h.hexdigest())'].join('\n'), file], { encoding: 'utf8' }).trim();
    assert.equal(digest, crypto.createHash('sha256').update(data).digest('hex'), 'Barman 3.19 decodes the same bytes');
  });

  it('without the program the JavaScript encoder writes the volume', async () => {
    let fellBack = false;
    const packed = await through(data, lz4TarCompressor(() => { fellBack = true; return jsLz4(); }, '/nonexistent/pgstow-test/lz4'));
    assert.equal(fellBack, true);
    assert.deepEqual([...packed.subarray(4, 6)], [0x64, 0x70], "the JavaScript encoder's frame (4 MiB blocks)");
    assert.ok((await getCodec('lz4').decompress(packed)).equals(data));
  });

  for (const [what, script, why] of [
    ['killed mid-stream', 'head -c 1000000 | lz4 -c -q\nkill -KILL $$', /killed by SIGKILL/],
    ['failing mid-stream', 'head -c 1000000 | lz4 -c -q\necho "lz4: cannot allocate memory" >&2\nexit 3', /lz4: cannot allocate memory/],
  ] as const) {
    it(`a program ${what} fails the stream with a CodecError naming lz4 and the cause`, async (t) => {
      if (!requireInstalled(t, 'lz4 (Debian package lz4)', hasLz4)) return;
      const dir = makeTempDir('lz4-dies');
      t.after(() => removeDir(dir));
      const program = path.join(dir, 'lz4');
      fs.writeFileSync(program, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
      const err = await through(data, lz4TarCompressor(() => assert.fail('no fallback: the program exists'), program)).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof CodecError, `a CodecError: ${String(err)}`);
      assert.match(err.message, /^cannot compress lz4 data: /);
      assert.match(err.message, why);
    });
  }
});
