/**
 * Tar extraction throughput, the restore's local half: a tar of a data directory (PostgreSQL-like: many
 * small catalog files and a few large relation files) held in memory, extracted by pgstow's extractTar into
 * a fresh directory, MB/s and files/s, median of N. `--impl` loads another build's tar-extract.js (e.g. the
 * previous commit's) so before/after run through the same script on the same machine, interleaved.
 *   node dist/bench/tar-extract.js [--dir PGDATA | --mb 256] [--reps 5] [--impl /other/dist/src/pipeline/tar-extract.js]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { makeTempDir, removeDir } from '../test/harness/tmp.js';
import { stats, fmt } from './lib/measure.js';

type Extract = (source: AsyncIterable<Buffer>, o: { root: string; restoreOwners: boolean }) => Promise<{ members: number }>;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

function syntheticDir(mb: number): string {
  const root = makeTempDir('extract-src');
  fs.mkdirSync(path.join(root, 'base', '5'), { recursive: true });
  const big = Buffer.alloc(16 * 1024 * 1024, 0x5a);
  for (let n = 0; n < Math.floor((mb * 0.8) / 16); n++) fs.writeFileSync(path.join(root, 'base', '5', `${16384 + n}`), big);
  for (let n = 0; n < Math.floor((mb * 0.2 * 1024) / 16); n++) fs.writeFileSync(path.join(root, 'base', '5', `${30000 + n}`), big.subarray(0, 16 * 1024));
  return root;
}

async function* chunks(tar: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < tar.length; i += size) yield tar.subarray(i, i + size);
}

const reps = Number(arg('reps') ?? 5);
const own = (await import('../src/pipeline/tar-extract.js')).extractTar as Extract;
const implPath = arg('impl');
const other = implPath ? (await import(path.resolve(implPath))).extractTar as Extract : undefined;
const dir = arg('dir');
const src = dir ?? syntheticDir(Number(arg('mb') ?? 256));
const tar = execFileSync('tar', ['-C', src, '--exclude=pg_wal/*', '--exclude=postmaster.pid', '-cf', '-', '.'], { maxBuffer: 8 << 30 });
const files = Number(execFileSync('sh', ['-c', `tar -tvf - | grep -c '^-'`], { input: tar }).toString().trim());
console.log(`tar: ${(tar.length / 1e6).toFixed(0)} MB, ${files} files; fed in 1 MiB chunks (a decompressor's output size)`);

const impls: Array<[string, Extract]> = [['this build', own], ...(other ? [[`--impl ${implPath}`, other] as [string, Extract]] : [])];
const results = new Map<string, number[]>(impls.map(([n]) => [n, []]));
for (let r = 0; r < reps; r++) {
  for (const [name, extract] of r % 2 ? [...impls].reverse() : impls) {
    const out = makeTempDir('extract-out');
    const t0 = process.hrtime.bigint();
    await extract(chunks(tar, 1 << 20), { root: out, restoreOwners: process.getuid?.() === 0 });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    results.get(name)?.push(tar.length / 1e6 / s);
    removeDir(out);
  }
}
for (const [name, v] of results) console.log(`${name.padEnd(60)} ${fmt(stats(v), 0)} MB/s`);
if (!dir) removeDir(src);
