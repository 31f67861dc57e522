/**
 * Local spools for parallel WAL archiving and prefetching restore. One directory per (destination,
 * server) pair so two archives never share markers. Layout:
 *   archive spool  <dir>/<walName>            marker: the WAL was uploaded and verified by an earlier call
 *                                             (JSON with the source file's dev/ino/size/mtime)
 *   restore spool  <dir>/<walName>            a prefetched, decoded WAL file (appears by atomic rename)
 *                  <dir>/<walName>.missing    "not in the archive" at a given time, for that WAL only
 *                  <dir>/segment-size          the WAL segment size learned from a restored segment
 */
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';

export type SpoolKind = 'wal-archive-spool' | 'wal-restore-spool';

/** Default spool: `baseDir` (settings.wal.spoolDir) or <tmp>/pgstow, then <kind>/<server>-<hash of URL+server>. */
export function defaultSpoolDir(kind: SpoolKind, destinationUrl: string, serverName: string, baseDir?: string): string {
  const base = baseDir || path.join(os.tmpdir(), 'pgstow');
  const hash = createHash('sha256').update(`${destinationUrl}\0${serverName}`).digest('hex').slice(0, 12);
  return path.join(base, kind, `${serverName.replace(/[^A-Za-z0-9._-]/g, '_')}-${hash}`);
}

export async function ensureSpoolDir(dir: string): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
}

/** Identity of a local WAL file: a marker only counts for the very file it was written for. */
export interface FileIdentity { dev: number; ino: number; size: number; mtimeMs: number }

export async function fileIdentity(file: string): Promise<FileIdentity> {
  const st = await fsp.stat(file);
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
}

export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

export async function readJson<T>(file: string): Promise<T | undefined> {
  try { return JSON.parse(await fsp.readFile(file, 'utf8')) as T; } catch { return undefined; }
}

