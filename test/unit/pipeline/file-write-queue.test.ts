import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import * as path from 'node:path';
import { FileWriteQueue } from '../../../src/pipeline/file-write-queue.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

/** Deterministic bytes, so a reordered, lost or repeated chunk shows in the comparison. */
function pattern(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = 12345;
  for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; b[i] = x >>> 24; }
  return b;
}

test('thousands of small chunks of one file land in order, in batches larger than one writev takes', async (t) => {
  const dir = makeTempDir('fwq-batches');
  t.after(() => removeDir(dir));
  const data = pattern(3 * 1024 * 1024);
  // Every chunk is its own buffer (no slice to copy), and 2500 of them queue up while the file opens.
  const chunks: Buffer[] = [];
  for (let off = 0, i = 0; off < data.length; i++) { const n = Math.min(data.length - off, 7 + (i * 131) % 1500); chunks.push(Buffer.from(data.subarray(off, off + n))); off += n; }
  assert.ok(chunks.length > 2500);
  const queue = new FileWriteQueue({ maxBytes: 64 * 1024 * 1024, maxFiles: 4 });
  const file = await queue.open(path.join(dir, 'a', 'big'), 0o600);
  for (const c of chunks) await file.write(c);
  void file.close({ mode: 0o640, mtime: 1_600_000_000 });
  await queue.drain();
  assert.ok(fs.readFileSync(path.join(dir, 'a', 'big')).equals(data));
  assert.equal(fs.statSync(path.join(dir, 'a', 'big')).mode & 0o777, 0o640);
});

test('a file whose open fails gives its pending bytes back: writers behind a small budget do not wait forever', async (t) => {
  const dir = makeTempDir('fwq-failed');
  t.after(() => removeDir(dir));
  fs.mkdirSync(path.join(dir, 'clash'));
  const queue = new FileWriteQueue({ maxBytes: 4096, maxFiles: 2 });
  const bad = await queue.open(path.join(dir, 'clash'), 0o600); // a directory: EISDIR
  const written = (async () => {
    for (let i = 0; i < 40; i++) await bad.write(Buffer.alloc(1000, 1));
  })();
  // Either every write was accepted (the failed batches released their bytes) or the failure surfaced.
  await written.catch((err: NodeJS.ErrnoException) => assert.equal(err.code, 'EISDIR'));
  void bad.close();
  await assert.rejects(queue.drain(), (err: NodeJS.ErrnoException) => err.code === 'EISDIR');
});

test('a file\'s 64 KiB chunks are written in batches of at least 256 KiB (its last bytes at close)', async (t) => {
  const dir = makeTempDir('fwq-min-write');
  t.after(() => removeDir(dir));
  const sizes: number[] = [];
  // Counts the writes the queue makes (node:fs's named exports follow its object after syncBuiltinESMExports).
  const cjsFs = createRequire(import.meta.url)('node:fs') as { writev: typeof fs.writev };
  const writev = cjsFs.writev;
  cjsFs.writev = ((fd: number, buffers: NodeJS.ArrayBufferView[], ...rest: unknown[]) => {
    sizes.push(buffers.reduce((n, b) => n + b.byteLength, 0));
    return (writev as (...a: unknown[]) => void)(fd, buffers, ...rest);
  }) as typeof fs.writev;
  syncBuiltinESMExports();
  t.after(() => { cjsFs.writev = writev; syncBuiltinESMExports(); });
  const data = pattern(4 * 1024 * 1024 + 1000);
  const queue = new FileWriteQueue({ maxBytes: 16 * 1024 * 1024, maxFiles: 4 });
  const file = await queue.open(path.join(dir, 'f'), 0o600);
  for (let off = 0; off < data.length; off += 65536) {
    await file.write(Buffer.from(data.subarray(off, off + 65536)));
    await new Promise((r) => setTimeout(r, 1)); // the previous write has finished: nothing joins it
  }
  void file.close({ mode: 0o600, mtime: 1_600_000_000 });
  await queue.drain();
  assert.ok(fs.readFileSync(path.join(dir, 'f')).equals(data));
  assert.ok(sizes.length <= 17, `${sizes.length} writes: ${sizes.join(' ')}`);
  assert.ok(sizes.slice(0, -1).every((n) => n >= 256 * 1024), sizes.join(' '));
});

test('bytes a file holds back for a larger write are written when another file needs the room (no wait for ever)', async (t) => {
  const dir = makeTempDir('fwq-held');
  t.after(() => removeDir(dir));
  const queue = new FileWriteQueue({ maxBytes: 300 * 1024, maxFiles: 4 });
  const a = await queue.open(path.join(dir, 'a'), 0o600);
  const b = await queue.open(path.join(dir, 'b'), 0o600);
  const da = pattern(200 * 1024);
  const db = pattern(200 * 1024 + 7);
  await a.write(Buffer.from(da)); // below the batch size: held
  const second = b.write(Buffer.from(db)); // needs a's bytes written first
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('the second file waited for room for ever')), 5000); });
  try {
    await Promise.race([second, timeout]);
  } finally {
    clearTimeout(timer);
  }
  void a.close({ mode: 0o600, mtime: 1_600_000_000 });
  void b.close({ mode: 0o600, mtime: 1_600_000_000 });
  await queue.drain();
  assert.ok(fs.readFileSync(path.join(dir, 'a')).equals(da));
  assert.ok(fs.readFileSync(path.join(dir, 'b')).equals(db));
});

test('an abandoned file gives back the bytes it held: later files are not kept waiting', async (t) => {
  const dir = makeTempDir('fwq-abandoned');
  t.after(() => removeDir(dir));
  const queue = new FileWriteQueue({ maxBytes: 128 * 1024, maxFiles: 4 });
  const a = await queue.open(path.join(dir, 'a'), 0o600);
  await a.write(Buffer.from(pattern(100 * 1024)));
  void a.close(); // abandoned: nothing more is written to it
  const b = await queue.open(path.join(dir, 'b'), 0o600);
  const db = pattern(100 * 1024);
  await b.write(Buffer.from(db));
  void b.close({ mode: 0o600, mtime: 1_600_000_000 });
  await queue.drain();
  assert.ok(fs.readFileSync(path.join(dir, 'b')).equals(db));
  assert.ok(fs.statSync(path.join(dir, 'a')).size < 100 * 1024, 'the abandoned file got its held bytes written');
});

test('small chunks of many files, copied into reused buffers under a small budget, land intact', async (t) => {
  const dir = makeTempDir('fwq-slabs');
  t.after(() => removeDir(dir));
  const queue = new FileWriteQueue({ maxBytes: 256 * 1024, maxFiles: 3 });
  const files = Array.from({ length: 40 }, (_, i) => pattern(1000 + ((i * 7919) % 300_000)));
  // One source buffer per file, handed over in slices that are overwritten right after (as a reused download
  // buffer would be): only bytes the queue copied can land intact.
  for (const [i, data] of files.entries()) {
    const file = await queue.open(path.join(dir, `f${i}`), 0o600);
    const scratch = Buffer.alloc(140 * 1024);
    for (let off = 0, k = 0; off < data.length; k++) {
      const n = Math.min(data.length - off, 1 + ((k * 104_729 + i) % (140 * 1024)));
      data.copy(scratch, 0, off, off + n);
      await file.write(scratch.subarray(0, n).length <= 128 * 1024 ? scratch.subarray(0, n) : Buffer.from(scratch.subarray(0, n)));
      scratch.fill(0xee, 0, n);
      off += n;
    }
    void file.close({ mode: 0o600, mtime: 1_600_000_000 });
  }
  await queue.drain();
  for (const [i, data] of files.entries()) assert.ok(fs.readFileSync(path.join(dir, `f${i}`)).equals(data), `f${i} differs`);
});

test('borrowed chunks larger than a slab (a download\'s 256 KiB lent pieces) are copied, into reused buffers', async (t) => {
  const dir = makeTempDir('fwq-borrowed-large');
  t.after(() => removeDir(dir));
  const buffers = new Set<ArrayBufferLike>();
  const cjsFs = createRequire(import.meta.url)('node:fs') as { writev: typeof fs.writev };
  const writev = cjsFs.writev;
  cjsFs.writev = ((fd: number, bufs: NodeJS.ArrayBufferView[], ...rest: unknown[]) => {
    for (const b of bufs) buffers.add(b.buffer);
    return (writev as (...a: unknown[]) => void)(fd, bufs, ...rest);
  }) as typeof fs.writev;
  syncBuiltinESMExports();
  t.after(() => { cjsFs.writev = writev; syncBuiltinESMExports(); });
  const queue = new FileWriteQueue({ maxBytes: 2 * 1024 * 1024, maxFiles: 4 });
  const files = [pattern(8 * 1024 * 1024 + 333), pattern(300 * 1024), pattern(5)];
  // One lent buffer, overwritten as soon as write() resolves: only bytes the queue copied can land intact.
  const lent = Buffer.alloc(256 * 1024);
  for (const [i, data] of files.entries()) {
    const file = await queue.open(path.join(dir, `f${i}`), 0o600);
    for (let off = 0, k = 0; off < data.length; k++) {
      const n = Math.min(data.length - off, k % 3 === 0 ? lent.length : 1 + ((k * 104_729) % lent.length));
      data.copy(lent, 0, off, off + n);
      await file.write(lent.subarray(0, n), true);
      lent.fill(0xee);
      off += n;
    }
    void file.close({ mode: 0o600, mtime: 1_600_000_000 });
  }
  await queue.drain();
  for (const [i, data] of files.entries()) assert.ok(fs.readFileSync(path.join(dir, `f${i}`)).equals(data), `f${i} differs`);
  // 8.6 MB went through at most the budget's worth of slabs (16 of 128 KiB) and a few more while files overlapped.
  assert.ok(buffers.size <= 24, `${buffers.size} buffers written from`);
});
