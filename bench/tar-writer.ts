/**
 * Tar writer throughput: pgstow's TarArchiveWriter (own ustar/PAX headers, 1 MiB reads) versus tar-stream
 * 3.2.2's pack() fed by fs.createReadStream, over the same files, output discarded (no compression, no store).
 *   node dist/bench/tar-writer.js [--mb 256]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tarStream from 'tar-stream';
import { TarArchiveWriter } from '../src/pipeline/tar-archive-writer.js';
import { VolumeSink } from '../src/pipeline/volume-sink.js';
import { PathRules } from '../src/pipeline/backup-exclusions.js';
import { walkTree } from '../src/pipeline/pgdata-walker.js';
import { makeTempDir, removeDir } from '../test/harness/tmp.js';

const i = process.argv.indexOf('--mb');
const mb = i > 0 ? Number(process.argv[i + 1]) : 256;
const root = makeTempDir('tar-bench');
// PostgreSQL-like: mostly 1 GiB-segment-style large files (here 8 MiB), plus many 8 KiB relation files.
const big = Math.floor((mb * 0.8) / 8);
fs.mkdirSync(path.join(root, 'base', '5'), { recursive: true });
const chunk = Buffer.alloc(8 * 1024 * 1024, 0x5a);
for (let n = 0; n < big; n++) fs.writeFileSync(path.join(root, 'base', '5', `${16384 + n}`), chunk);
const small = Math.floor((mb * 0.2 * 1024) / 8);
for (let n = 0; n < small; n++) fs.writeFileSync(path.join(root, 'base', '5', `${30000 + n}_fsm`), chunk.subarray(0, 8192));
const discard = (): Writable => new Writable({ write(_c, _e, cb) { cb(); } });

async function ours(): Promise<number> {
  const w = new TarArchiveWriter({ maxArchiveSize: 1e15, openVolume: () => new VolumeSink({ upload: (body) => pipeline(body, discard()) }) });
  for await (const e of walkTree(root, new PathRules([]))) await w.addPath(e);
  const [v] = await w.close();
  return v?.tarSize ?? 0;
}

async function theirs(): Promise<number> {
  const pack = tarStream.pack();
  let bytes = 0;
  const done = pipeline(pack, new Writable({ write(c: Buffer, _e, cb) { bytes += c.length; cb(); } }));
  for await (const e of walkTree(root, new PathRules([]))) {
    const st = await fs.promises.lstat(e.path);
    if (st.isDirectory()) { pack.entry({ name: e.name, type: 'directory', mode: st.mode, mtime: st.mtime, uid: st.uid, gid: st.gid }); continue; }
    const entry = pack.entry({ name: e.name, size: st.size, mode: st.mode, mtime: st.mtime, uid: st.uid, gid: st.gid });
    await pipeline(fs.createReadStream(e.path), entry);
  }
  pack.finalize();
  await done;
  return bytes;
}

for (const [label, fn] of [['pgstow TarArchiveWriter', ours], ['tar-stream 3.2.2 pack', theirs], ['pgstow TarArchiveWriter', ours], ['tar-stream 3.2.2 pack', theirs]] as const) {
  const t0 = process.hrtime.bigint();
  const bytes = await fn();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`${label.padEnd(24)} ${(bytes / 1e6).toFixed(0)} MB in ${s.toFixed(2)} s = ${(bytes / 1e6 / s).toFixed(0)} MB/s`);
}
removeDir(root);
