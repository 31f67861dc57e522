/**
 * Walks a directory tree the way barman-cloud-backup does (Python os.walk, top-down, readdir order, symlinks
 * not followed): each directory is yielded, then its files, then its subdirectories recursively. Names are
 * what Barman puts in the tar: the root is ".", files directly in the root are "./<file>", deeper paths have
 * no "./" prefix. Directory symlinks are neither followed nor yielded; file symlinks are yielded as links.
 * A directory excluded by the rules is skipped with everything below it, except the root, whose
 * subdirectories are still visited (a tablespace tar excludes the root "." but includes PG_<major>_*).
 * Barman descends into excluded directories too, which copies a tablespace located inside PGDATA twice and
 * other major versions' PG_* subtrees; pgstow does not. Directories that vanish during the walk are skipped.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { PathRules } from './backup-exclusions.js';

export interface WalkEntry {
  /** Member name in the tar. */
  name: string;
  /** Absolute path on disk. */
  path: string;
  type: 'directory' | 'file';
  /** True when readdir reported a regular file (not a link): the writer can skip its lstat. */
  regular?: boolean;
}

export async function* walkTree(root: string, rules: PathRules): AsyncGenerator<WalkEntry> {
  yield* walkDir(root, '.', rules);
}

async function* walkDir(abs: string, rel: string, rules: PathRules): AsyncGenerator<WalkEntry> {
  const allowed = rules.allowed(rel, true);
  if (!allowed && rel !== '.') return;
  let names: { name: string; isDir: boolean; isLink: boolean }[];
  try {
    names = await readDirRaw(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return;
    throw err;
  }
  if (allowed) yield { name: rel, path: abs, type: 'directory' };
  const subdirs: { abs: string; rel: string }[] = [];
  for (const d of names) {
    const childAbs = path.join(abs, d.name);
    let isDir = d.isDir;
    if (d.isLink) {
      // os.walk classifies a link by its target: a link to a directory is a "dir" that is never entered.
      const st = await fsp.stat(childAbs).catch(() => undefined);
      if (st?.isDirectory()) continue;
      isDir = false;
    }
    if (isDir) {
      subdirs.push({ abs: childAbs, rel: rel === '.' ? d.name : `${rel}/${d.name}` });
      continue;
    }
    const fileRel = `${rel}/${d.name}`;
    if (!allowed || !rules.allowed(fileRel, false)) continue;
    yield { name: fileRel, path: childAbs, type: 'file', regular: !d.isLink && !d.isDir };
  }
  for (const s of subdirs) yield* walkDir(s.abs, s.rel, rules);
}

/** Entries in the order the kernel returns them (fs.readdir sorts; Barman's os.scandir does not). */
async function readDirRaw(dir: string): Promise<{ name: string; isDir: boolean; isLink: boolean }[]> {
  const out: { name: string; isDir: boolean; isLink: boolean }[] = [];
  const handle = await fsp.opendir(dir, { bufferSize: 256 });
  for await (const d of handle) out.push({ name: d.name, isDir: d.isDirectory(), isLink: d.isSymbolicLink() });
  return out;
}
