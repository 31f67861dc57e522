/** Temp directories for tests: one per caller, removed by the returned cleanup. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';

export function makeTempDir(label: string): string {
  const base = process.env.PGSTOW_TEST_TMP ?? os.tmpdir();
  fs.mkdirSync(base, { recursive: true });
  return fs.mkdtempSync(path.join(base, `pgstow-${label.replace(/[^a-z0-9-]/gi, '_')}-`));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** uid/gid of the "postgres" OS user when running as root (PostgreSQL refuses to run as root). */
export function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    return { uid, gid };
  } catch {
    throw new Error('running as root but there is no "postgres" OS user: create one with `useradd -r -m postgres` (.ci/run does)');
  }
}

/** Gives a directory tree to the postgres user (when root) so the server and archive_command can write. */
export function chownToPostgres(dir: string): void {
  const user = postgresUser();
  if (!user) return;
  execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, dir]);
}
