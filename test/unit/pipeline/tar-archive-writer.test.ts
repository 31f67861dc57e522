import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { Readable } from 'node:stream';
import { TarArchiveWriter } from '../../../src/pipeline/tar-archive-writer.js';
import { VolumeSink } from '../../../src/pipeline/volume-sink.js';
import { PathRules } from '../../../src/pipeline/backup-exclusions.js';
import { walkTree } from '../../../src/pipeline/pgdata-walker.js';
import { createTarCompressor } from '../../../src/pipeline/backup-compression.js';
import { TaskLimiter } from '../../../src/pipeline/task-limiter.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

/** Writes an archive of `root` into files volume-N.tar in `out` and returns their paths. */
async function archive(root: string, out: string, maxArchiveSize: number, beforeAdd?: (name: string) => void): Promise<{ files: string[]; warnings: string[] }> {
  const files: string[] = [];
  const warnings: string[] = [];
  const w = new TarArchiveWriter({
    maxArchiveSize,
    onWarning: (code, m) => warnings.push(`${code} ${m}`),
    openVolume: (n) => {
      const file = path.join(out, `volume-${n}.tar`);
      files.push(file);
      return new VolumeSink({ upload: async (body: Readable) => { await fs.promises.writeFile(file, body); } });
    },
  });
  for await (const e of walkTree(root, new PathRules(['skipme']))) {
    beforeAdd?.(e.name);
    await w.addPath(e);
  }
  await w.addBuffer({ name: 'backup_label', mode: 0o644, uid: 0, gid: 0, uname: '', gname: '', mtime: 0 }, Buffer.from('label\n'));
  const vols = await w.close();
  assert.equal(vols.length, files.length);
  return { files, warnings };
}

function pyMembers(file: string): { name: string; type: string; size: number; link: string }[] {
  const script = `import tarfile, json, sys
with tarfile.open(sys.argv[1], 'r|') as t:
    print(json.dumps([{'name': m.name, 'type': 'dir' if m.isdir() else 'sym' if m.issym() else 'file', 'size': m.size, 'link': m.linkname} for m in t]))`;
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script, file]).toString()) as { name: string; type: string; size: number; link: string }[];
}

test('tar layout: ".", "./root-file", dirs before files, long and non-ASCII names, file symlinks, no dir symlinks', async (t) => {
  const root = makeTempDir('tar-src');
  const out = makeTempDir('tar-out');
  t.after(() => { removeDir(root); removeDir(out); });
  fs.writeFileSync(path.join(root, 'top.txt'), 'top');
  const deep = path.join(root, 'a'.repeat(60), 'b'.repeat(60));
  fs.mkdirSync(deep, { recursive: true });
  const longName = `${'c'.repeat(120)}.dat`;
  fs.writeFileSync(path.join(deep, longName), Buffer.alloc(1000, 7));
  fs.mkdirSync(path.join(root, 'ünï'));
  fs.writeFileSync(path.join(root, 'ünï', 'fïle'), 'x');
  fs.symlinkSync('top.txt', path.join(root, 'link-to-file'));
  fs.symlinkSync(deep, path.join(root, 'link-to-dir'));
  fs.mkdirSync(path.join(root, 'skipme'));
  fs.writeFileSync(path.join(root, 'skipme', 'inner'), 'no');

  const { files } = await archive(root, out, 1e12);
  assert.equal(files.length, 1);
  const m = pyMembers(files[0] as string);
  const names = m.map((x) => x.name);
  assert.equal(names[0], '.');
  assert.ok(names.includes('./top.txt'));
  assert.ok(names.includes(`${'a'.repeat(60)}/${'b'.repeat(60)}/${longName}`));
  assert.ok(names.includes('ünï/fïle'));
  assert.deepEqual(m.find((x) => x.name === './link-to-file'), { name: './link-to-file', type: 'sym', size: 0, link: 'top.txt' });
  assert.ok(!names.some((n) => n.includes('link-to-dir')));
  assert.ok(!names.some((n) => n.includes('skipme')));
  assert.equal(names.at(-1), 'backup_label');
  assert.equal(m.find((x) => x.name.endsWith('.dat'))?.size, 1000);
  // GNU tar reads it too, and extracts the same bytes.
  const x = makeTempDir('tar-x');
  t.after(() => removeDir(x));
  execFileSync('tar', ['-xf', files[0] as string, '-C', x]);
  assert.deepEqual(fs.readFileSync(path.join(x, 'a'.repeat(60), 'b'.repeat(60), longName)), Buffer.alloc(1000, 7));
});

test('volumes split before a member once over the limit; a vanished file is skipped with a warning', async (t) => {
  const root = makeTempDir('tar-vol');
  const out = makeTempDir('tar-vol-out');
  t.after(() => { removeDir(root); removeDir(out); });
  for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(root, `f${i}`), Buffer.alloc(40_000, i));
  fs.writeFileSync(path.join(root, 'gone'), 'soon gone');
  const { files, warnings } = await archive(root, out, 50_000, (name) => { if (name === './gone') fs.rmSync(path.join(root, 'gone')); });
  assert.ok(files.length >= 3, `${files.length} volumes`);
  const all = files.flatMap((f) => pyMembers(f).map((x) => x.name));
  assert.deepEqual(all.filter((n) => /^\.\/f\d$/.test(n)).sort(), ['./f0', './f1', './f2', './f3', './f4', './f5']);
  assert.ok(!all.includes('./gone'));
  assert.match(warnings.join('\n'), /WARN_FILE_VANISHED .*gone: it disappeared during the backup/);
  assert.equal(pyMembers(files.at(-1) as string).at(-1)?.name, 'backup_label');
});

test('into a compressed volume (a sink that copies each chunk) file reads take turns in two buffers, and every byte arrives', async (t) => {
  const root = makeTempDir('tar-ring');
  const out = makeTempDir('tar-ring-out');
  t.after(() => { removeDir(root); removeDir(out); });
  // Distinct bytes in every 256 KiB read: a buffer reused before the compressor copied it would show in the output.
  const big = Buffer.alloc(3 * 1024 * 1024 + 12_344);
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);
  fs.writeFileSync(path.join(root, 'big'), big);
  fs.writeFileSync(path.join(root, 'small'), 'small');
  const file = path.join(out, 'data.tar.gz');
  const sinks: VolumeSink[] = [];
  const w = new TarArchiveWriter({
    maxArchiveSize: 1e12,
    openVolume: () => {
      // 128 KiB blocks: the compressor's own buffers are not the size of the writer's 256 KiB reads.
      const sink = new VolumeSink({
        compressor: createTarCompressor('gzip', 1, { limiter: new TaskLimiter(2), blockSize: 128 * 1024 }),
        upload: async (body: Readable) => { await fs.promises.writeFile(file, body); },
      });
      sinks.push(sink);
      return sink;
    },
  });
  const readSized: number[] = [];
  const allocUnsafe = Buffer.allocUnsafe;
  Buffer.allocUnsafe = ((size: number) => { if (size === 256 * 1024) readSized.push(size); return allocUnsafe(size); }) as typeof Buffer.allocUnsafe;
  try {
    for await (const e of walkTree(root, new PathRules([]))) await w.addPath(e);
    await w.close();
  } finally {
    Buffer.allocUnsafe = allocUnsafe;
  }
  assert.equal(sinks[0]?.consumesChunks, true);
  assert.equal(readSized.length, 2, 'two read buffers for 13 reads');
  const x = makeTempDir('tar-ring-x');
  t.after(() => removeDir(x));
  execFileSync('tar', ['-xzf', file, '-C', x]);
  assert.ok(fs.readFileSync(path.join(x, 'big')).equals(big));
  assert.equal(fs.readFileSync(path.join(x, 'small'), 'utf8'), 'small');
});

test('a compressed volume whose upload fails: a waiting write fails with the upload\'s error', async () => {
  const sink = new VolumeSink({
    compressor: createTarCompressor('gzip', 1, { limiter: new TaskLimiter(1), blockSize: 64 * 1024 }),
    upload: async (body: Readable) => { await new Promise((r) => setTimeout(r, 5)); body.destroy(); throw new Error('store is down'); },
  });
  assert.equal(sink.consumesChunks, true);
  const chunk = Buffer.alloc(256 * 1024, 1);
  await assert.rejects(async () => { for (let i = 0; i < 1000; i++) await sink.write(chunk); }, /store is down/);
  await assert.rejects(sink.end(), /store is down/);
});

test('an uncompressed volume does not copy: its writes never let the writer reuse a chunk', () => {
  const sink = new VolumeSink({ upload: async (body: Readable) => { for await (const _ of body) { /* drain */ } } });
  assert.equal(sink.consumesChunks, false);
  sink.abort(new Error('done'));
});
