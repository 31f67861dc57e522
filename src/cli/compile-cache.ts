/**
 * Node's on-disk compile cache for the command-line programs: archive_command and restore_command start one
 * process per WAL segment, and each would otherwise compile the same modules again (the SDK bundle alone is
 * ~1 MB of JavaScript). Called by the bin scripts before anything else is loaded, so every module of the
 * command (not only those loaded after main) is served from the cache.
 *
 * The directory is the user's own: $NODE_COMPILE_CACHE when set (Node has then enabled it already),
 * else $XDG_CACHE_HOME/pgstow/compile-cache, else <tmpdir>/pgstow-compile-cache-<uid>. Node's default
 * (<tmpdir>/node-compile-cache) is shared by every user of the machine, and code cache written by another
 * user is not something to load. A directory we did not create with mode 0700, or that someone else owns
 * or may write to, is not used. Never fails: a missing or read-only cache only costs speed.
 * NODE_DISABLE_COMPILE_CACHE=1 turns it off (Node's own switch). Only the bin scripts call this: a library
 * never changes how its host process compiles code.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as nodeModule from 'node:module';

export function compileCacheDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const uid = process.getuid?.() ?? 'user';
  if (env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME)) return path.join(env.XDG_CACHE_HOME, 'pgstow', 'compile-cache');
  return path.join(os.tmpdir(), `pgstow-compile-cache-${uid}`);
}

/** True when `dir` exists (or was created) as a directory of this user's that no one else may write to. */
function ownPrivateDir(dir: string): boolean {
  // Synchronous on purpose: this runs once, before the program's first module loads (no event loop yet).
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  const uid = process.getuid?.();
  return st.isDirectory() && (uid === undefined || st.uid === uid) && (st.mode & 0o022) === 0;
}

export function enableCompileCache(env: Readonly<Record<string, string | undefined>> = process.env): void {
  const enable = (nodeModule as { enableCompileCache?: (dir?: string) => unknown }).enableCompileCache;
  if (!enable || env.NODE_DISABLE_COMPILE_CACHE || env.NODE_COMPILE_CACHE) return;
  try {
    const dir = compileCacheDir(env);
    if (ownPrivateDir(dir)) enable(dir);
  } catch {
    // unwritable, foreign or odd: run without the cache
  }
}
