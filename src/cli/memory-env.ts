/**
 * glibc's malloc setting for the long-running command lines (backup, restore, the plugin): MALLOC_ARENA_MAX=2.
 * glibc gives each thread-pool thread that compresses, decompresses or hashes an arena of its own and keeps
 * what it frees there. A process reads the variable only when it starts, so the bin script, before it loads
 * anything else, replaces itself (execve: same pid, no parent process left behind) with the same command line
 * and the variable added. Measured (docs/performance.md, "Memory"): gzip backup peak RSS 120 -> 114 MB, CPU
 * equal. MALLOC_MMAP_THRESHOLD_=32768 (the sidecar image's) took 2-4 MB more but 12-40 % more CPU (a mapping
 * and its page faults per 64 KiB chunk): not added here. A variable the user set (to any value, glibc's
 * default included) is left as it is. WAL command lines (one short process per segment) never pay for a
 * second start.
 */
import { SIDECAR_MALLOC_ENV } from '../plugin/instance/memory.js';

/** pgstow subcommands and drop-in programs that run long enough to fragment malloc's arenas. */
const LONG_PROGRAMS = new Set(['barman-cloud-backup', 'barman-cloud-restore']);
/** `pgstow backup list|show|delete|keep` and `pgstow plugin healthcheck` are short. */
const SHORT_SECOND_WORDS: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  ['backup', new Set(['list', 'show', 'delete', 'keep'])],
  ['restore', new Set<string>()],
  ['plugin', new Set(['healthcheck'])],
]);

export const MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: SIDECAR_MALLOC_ENV.MALLOC_ARENA_MAX as string,
};

export function isLongCommandLine(program: string, argv: readonly string[]): boolean {
  if (LONG_PROGRAMS.has(program)) return true;
  const short = program === 'pgstow' ? SHORT_SECOND_WORDS.get(argv[0] ?? '') : undefined;
  return short !== undefined && !short.has(argv[1] ?? '');
}

/** The environment to start again with, or undefined when this process already runs with it (or need not). */
export function mallocEnvToAdd(program: string, argv: readonly string[], env: Readonly<Record<string, string | undefined>>,
  platform: string = process.platform): Record<string, string> | undefined {
  if (platform !== 'linux' || !isLongCommandLine(program, argv)) return undefined;
  const missing = Object.entries(MALLOC_ENV).filter(([k]) => env[k] === undefined);
  if (missing.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  for (const [k, v] of missing) out[k] = v;
  return out;
}

/**
 * Replaces this process with itself under the malloc setting, when it is missing. Returns only when it
 * does not (not needed, or execve unavailable or refused: then the command runs with glibc's defaults).
 */
export function restartWithMallocEnv(program: string, current: Readonly<Record<string, string | undefined>>): void {
  const env = mallocEnvToAdd(program, process.argv.slice(2), current);
  const execve = (process as { execve?: (file: string, args: string[], env: Record<string, string>) => never }).execve;
  if (!env || typeof execve !== 'function') return;
  try {
    execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], env);
  } catch {
    // Memory only: the command itself is correct either way.
  }
}
