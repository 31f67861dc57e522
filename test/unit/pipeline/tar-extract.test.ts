import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import tarStream from 'tar-stream';
import { extractTar, TarFormatError } from '../../../src/pipeline/tar-extract.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

interface Entry { name: string; type?: 'file' | 'directory' | 'symlink' | 'link'; body?: string; linkname?: string; mode?: number; mtime?: Date; pax?: Record<string, string> }

async function makeTar(entries: Entry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => { chunks.push(c as Buffer); });
  const done = new Promise<void>((r) => { pack.on('end', () => r()); });
  for (const e of entries) {
    const header: Partial<tarStream.Header> & { name: string } = { name: e.name, type: e.type ?? 'file', mode: e.mode ?? 0o600, mtime: e.mtime ?? new Date(1_700_000_000_000) };
    if (e.linkname) header.linkname = e.linkname;
    if (e.pax) header.pax = e.pax;
    pack.entry(header, e.body ?? '');
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function* chunked(buf: Buffer, size = 700): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

test('extracts files, directories, long PAX names, symlinks; keeps modes and mtimes', async (t) => {
  const dir = makeTempDir('tar-ok');
  t.after(() => removeDir(dir));
  const long = `base/${'x'.repeat(150)}/${'y'.repeat(120)}`;
  const tar = await makeTar([
    { name: '.', type: 'directory', mode: 0o700 },
    { name: './PG_VERSION', body: '15\n', mode: 0o600 },
    { name: 'base', type: 'directory', mode: 0o750, mtime: new Date(1_600_000_000_000) },
    { name: long, body: 'deep' },
    { name: 'big', body: 'z'.repeat(100_000) },
    { name: 'link', type: 'symlink', linkname: 'PG_VERSION' },
  ]);
  const r = await extractTar(chunked(tar), { root: dir, restoreOwners: false });
  assert.equal(r.members, 6);
  assert.equal(fs.readFileSync(path.join(dir, 'PG_VERSION'), 'utf8'), '15\n');
  assert.equal(fs.readFileSync(path.join(dir, long), 'utf8'), 'deep');
  assert.equal(fs.statSync(path.join(dir, 'big')).size, 100_000);
  assert.equal(fs.readlinkSync(path.join(dir, 'link')), 'PG_VERSION');
  assert.equal(fs.statSync(path.join(dir, 'PG_VERSION')).mode & 0o777, 0o600);
  assert.equal(fs.statSync(path.join(dir, 'base')).mode & 0o777, 0o750);
  assert.equal(fs.statSync(path.join(dir, 'base')).mtimeMs, 1_600_000_000_000);
  assert.equal(fs.statSync(path.join(dir, 'PG_VERSION')).mtimeMs, 1_700_000_000_000);
});

test('refuses path traversal, absolute paths and writing through a symlink', async (t) => {
  const dir = makeTempDir('tar-evil');
  const outside = makeTempDir('tar-outside');
  t.after(() => { removeDir(dir); removeDir(outside); });
  for (const entries of [
    [{ name: '../escape', body: 'x' }],
    [{ name: 'a/../../escape', body: 'x' }],
    [{ name: 'ok', body: '', pax: { path: '/etc/evil' } }],
    [{ name: 'esc', type: 'symlink' as const, linkname: outside }, { name: 'esc/owned', body: 'x' }],
    [{ name: 'hl', type: 'link' as const, linkname: '../../etc/passwd' }],
  ]) {
    await assert.rejects(extractTar(chunked(await makeTar(entries)), { root: dir, restoreOwners: false }), TarFormatError, JSON.stringify(entries));
  }
  assert.deepEqual(fs.readdirSync(outside), []);
  assert.equal(fs.existsSync(path.join(dir, '..', 'escape')), false);
});

test('a tar cut short, even at a block boundary, is an error', async (t) => {
  const dir = makeTempDir('tar-trunc');
  t.after(() => removeDir(dir));
  const tar = await makeTar([{ name: 'a', body: 'a'.repeat(5000) }, { name: 'b', body: 'b'.repeat(5000) }]);
  // Cut after the first member (header + 5000 bytes padded to 5120): no end-of-archive marker.
  await assert.rejects(extractTar(chunked(tar.subarray(0, 512 + 5120)), { root: dir, restoreOwners: false }), /truncated.*without the end-of-archive marker/);
  await assert.rejects(extractTar(chunked(tar.subarray(0, 3000)), { root: dir, restoreOwners: false }), /truncated inside member "a"/);
  const bad = Buffer.from(tar);
  bad[10] = 0x41; // name byte of the first header: checksum no longer matches
  await assert.rejects(extractTar(chunked(bad), { root: dir, restoreOwners: false }), /checksum mismatch/);
});

test('reads GNU long names and plain ustar as written by GNU tar', async (t) => {
  const src = makeTempDir('tar-gnu-src');
  t.after(() => removeDir(src));
  const long = `${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(90)}`;
  fs.mkdirSync(path.join(src, path.dirname(long)), { recursive: true });
  fs.writeFileSync(path.join(src, long), 'long name');
  fs.symlinkSync(long, path.join(src, `link-${'g'.repeat(110)}`));
  fs.writeFileSync(path.join(src, 'short'), 'ustar');
  for (const format of ['gnu', 'ustar', 'pax']) {
    const dir = makeTempDir(`tar-${format}`);
    t.after(() => removeDir(dir));
    const members = format === 'ustar' ? ['short'] : ['.'];
    const tar = execFileSync('tar', [`--format=${format}`, '-cf', '-', '-C', src, ...members], { maxBuffer: 1 << 26 });
    await extractTar(chunked(tar), { root: dir, restoreOwners: false });
    if (format === 'ustar') {
      assert.equal(fs.readFileSync(path.join(dir, 'short'), 'utf8'), 'ustar');
    } else {
      assert.equal(fs.readFileSync(path.join(dir, long), 'utf8'), 'long name', format);
      assert.equal(fs.readlinkSync(path.join(dir, `link-${'g'.repeat(110)}`)), long, format);
    }
  }
});

test('many files through a small write budget: every byte, mode and mtime lands, a repeated path keeps its last copy', async (t) => {
  const dir = makeTempDir('tar-many');
  t.after(() => removeDir(dir));
  const entries: Entry[] = [];
  for (let i = 0; i < 300; i++) entries.push({ name: `base/${i % 7}/${i}`, body: `${i}:`.repeat(1 + (i * 37) % 3000), mode: 0o600 | (i % 2 ? 0o040 : 0), mtime: new Date(1_600_000_000_000 + i * 1000) });
  entries.push({ name: 'base/3/3', body: 'second copy' });
  const tar = await makeTar(entries);
  // 4 KiB of pending writes and 2 open files at most: the parser waits for the writers many times.
  const r = await extractTar(chunked(tar, 1000), { root: dir, restoreOwners: false, writeBufferBytes: 4096, openFiles: 2 });
  assert.equal(r.members, 301);
  for (let i = 0; i < 300; i++) {
    if (i === 3) continue;
    const file = path.join(dir, 'base', String(i % 7), String(i));
    assert.equal(fs.readFileSync(file, 'utf8'), `${i}:`.repeat(1 + (i * 37) % 3000), file);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600 | (i % 2 ? 0o040 : 0), file);
    assert.equal(fs.statSync(file).mtimeMs, 1_600_000_000_000 + i * 1000, file);
  }
  assert.equal(fs.readFileSync(path.join(dir, 'base', '3', '3'), 'utf8'), 'second copy');
});

test('a file that cannot be written fails the extraction with the system error, after every pending write settled', async (t) => {
  const dir = makeTempDir('tar-unwritable');
  t.after(() => removeDir(dir));
  // A directory where the archive has a file: open() fails with EISDIR.
  fs.mkdirSync(path.join(dir, 'base', 'clash'), { recursive: true });
  const entries: Entry[] = [{ name: 'base/clash', body: 'x'.repeat(10_000) }];
  for (let i = 0; i < 50; i++) entries.push({ name: `base/f${i}`, body: 'y'.repeat(20_000) });
  await assert.rejects(extractTar(chunked(await makeTar(entries)), { root: dir, restoreOwners: false, openFiles: 4 }), (err: NodeJS.ErrnoException) => err.code === 'EISDIR');
  // Nothing is still being written once the promise rejected: the directory does not change afterwards.
  const before = fs.readdirSync(path.join(dir, 'base')).sort().join(',');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(fs.readdirSync(path.join(dir, 'base')).sort().join(','), before);
});

/** The tar in pieces that all live in one buffer, overwritten (with garbage first) when the next one is asked for. */
async function* lent(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  const shared = Buffer.alloc(size);
  for (let i = 0; i < buf.length; i += size) {
    shared.fill(0xee);
    const n = buf.copy(shared, 0, i, i + size);
    yield shared.subarray(0, n);
  }
  shared.fill(0xee);
}

test('borrowed chunks (valid until the next is asked for): headers, PAX records and file bytes held across pulls are copies', async (t) => {
  const entries: Entry[] = [{ name: '.', type: 'directory', mode: 0o700 }];
  for (let i = 0; i < 60; i++) {
    const name = i % 5 === 0 ? `base/${'p'.repeat(120)}/${i}` : `base/${i % 4}/${i}`; // long names: PAX headers
    entries.push({ name, body: `${i};`.repeat(1 + (i * 7919) % 90_000), mode: 0o600 });
  }
  const tar = await makeTar(entries);
  // Odd sizes split headers and PAX records between pieces; 200 KiB pieces are larger than the writer's slabs.
  for (const size of [700, 4099, 200 << 10]) {
    const dir = makeTempDir(`tar-lent-${size}`);
    t.after(() => removeDir(dir));
    const r = await extractTar(lent(tar, size), { root: dir, restoreOwners: false, borrowed: true, writeBufferBytes: 64 << 10, openFiles: 3 });
    assert.equal(r.members, 61);
    for (const e of entries.slice(1)) assert.equal(fs.readFileSync(path.join(dir, e.name), 'utf8'), e.body, `${e.name}, pieces of ${size}`);
  }
  // Asked each time (a download knows whether it lends its chunks once it has started).
  let started = false;
  const pieces = async function* (): AsyncGenerator<Buffer> { started = true; yield* lent(tar, 4099); };
  const dir = makeTempDir('tar-lent-asked');
  t.after(() => removeDir(dir));
  const r = await extractTar(pieces(), { root: dir, restoreOwners: false, borrowed: () => started, writeBufferBytes: 64 << 10, openFiles: 3 });
  assert.equal(r.members, 61);
  for (const e of entries.slice(1)) assert.equal(fs.readFileSync(path.join(dir, e.name), 'utf8'), e.body, `${e.name}, borrowed once started`);
});
