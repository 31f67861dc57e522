/** Local file helpers for WAL restore and the spools: atomic replacement with fsync. */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, type Duplex } from 'node:stream';

function tempNameFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.pgstow-tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try { await fh.sync(); } finally { await fh.close(); }
}

/**
 * Writes the stream (through `stages`, e.g. a decompressor) to a temp file beside `target`, fsyncs it, renames
 * it over `target` and fsyncs the directory: a reader (PostgreSQL) sees no file or the whole file, never a
 * partial one. The stages are joined with pipeline(), so an error anywhere (a download cut half-way, corrupt
 * compressed data) rejects this call, destroys every stream and leaves nothing under `target`.
 * Returns the number of bytes written.
 */
export async function writeFileAtomic(target: string, source: Readable | Buffer,
  options: { fsync?: boolean; check?: (size: number) => void; stages?: ReadonlyArray<Duplex>; signal?: AbortSignal; highWaterMark?: number } = {}): Promise<number> {
  const tmp = tempNameFor(target);
  try {
    const out = fs.createWriteStream(tmp, { flags: 'wx', mode: 0o600, ...(options.highWaterMark ? { highWaterMark: options.highWaterMark } : {}) });
    const input = Buffer.isBuffer(source) ? Readable.from([source]) : source;
    await pipeline([input, ...(options.stages ?? []), out], options.signal ? { signal: options.signal } : {});
    const size = out.bytesWritten; // every byte written once the pipeline has finished (no counting stage per chunk)
    options.check?.(size); // throws to keep a bad file from ever appearing under its name
    if (options.fsync !== false) {
      const fh = await fsp.open(tmp, 'r+');
      try { await fh.sync(); } finally { await fh.close(); }
    }
    await fsp.rename(tmp, target);
    if (options.fsync !== false) await fsyncDir(path.dirname(target));
    return size;
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}

/** Moves `from` to `to` atomically; across file systems copies to a temp beside `to` first. */
export async function moveFileAtomic(from: string, to: string): Promise<void> {
  try {
    await fsp.rename(from, to);
    await fsyncDir(path.dirname(to));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await writeFileAtomic(to, fs.createReadStream(from));
    await fsp.rm(from, { force: true });
  }
}

/** The one local "exists": true when something (file, directory, symlink, even a dangling one) is at `p`. */
export async function pathExists(p: string): Promise<boolean> {
  try { await fsp.lstat(p); return true; } catch { return false; }
}
