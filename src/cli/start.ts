/**
 * What every bin script runs: the compile cache first (compile-cache.ts), then the program. archive_command
 * and restore_command lines (wal-archive, wal-restore under either name) run the single-file bundle of the WAL
 * commands (scripts/bundle-cli.mjs: one file to load instead of ~56 modules); every other command line, and
 * every line when the bundle was not built (a tsc-only build), runs from the modules of dist/. Both run the
 * same code (program.ts), so exit codes and messages are the same.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { enableCompileCache } from './compile-cache.js';

const WAL_PROGRAMS = new Set(['barman-cloud-wal-archive', 'barman-cloud-wal-restore']);
const WAL_SUBCOMMANDS = new Set(['wal-archive', 'wal-restore']);
const BUNDLE = fileURLToPath(new URL('./bin/bundle/wal.cjs', import.meta.url));

export function isWalCommandLine(program: string, argv: readonly string[]): boolean {
  return WAL_PROGRAMS.has(program) || (program === 'pgstow' && WAL_SUBCOMMANDS.has(argv[0] ?? ''));
}

export async function start(program: string): Promise<void> {
  const wal = isWalCommandLine(program, process.argv.slice(2));
  // Backup, restore and the plugin start again with MALLOC_ARENA_MAX=2 unless it is set (memory-env.ts); WAL
  // command lines do not even load the module.
  if (!wal) (await import('./memory-env.js')).restartWithMallocEnv(program, process.env);
  enableCompileCache();
  // Synchronous on purpose: one stat before the program's modules load (no event loop work yet).
  const main = wal && existsSync(BUNDLE)
    // require(), not import(): import() of a CommonJS file first scans all of it for its export names.
    ? createRequire(import.meta.url)(BUNDLE) as typeof import('./wal-main.js')
    : await import('./main.js');
  await main.runAsProgram(program);
}
