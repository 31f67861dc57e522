import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
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
