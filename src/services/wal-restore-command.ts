/**
 * The restore_command PostgreSQL runs to fetch WAL: `pgstow wal-restore` with the same destination and
 * store options as the restore, never credentials (they come from the server's environment or a
 * profile/identity). Quoted for /bin/sh, which PostgreSQL uses to run it.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The pgstow entry point next to this build (dist/src/cli/bin/pgstow.js). */
export function pgstowBinPath(): string {
  return path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'bin', 'pgstow.js');
}

/** `options` are flag/value pairs such as ['--endpoint-url', 'https://…']. */
export function walRestoreCommandLine(url: string, serverName: string, options: ReadonlyArray<readonly [string, string]> = []): string {
  const words = [process.execPath, pgstowBinPath(), 'wal-restore', ...options.flatMap(([f, v]) => [f, v]), url, serverName];
  return `${words.map(shellQuote).join(' ')} %f %p`;
}

export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
