/**
 * Where the test peers are, as scripts/setup.mjs installs them (`npm test` runs it first):
 * - Barman 3.4: Debian's barman-cli-cloud, /usr/bin/barman-cloud-* on Debian's /usr/bin/python3;
 * - Barman 3.19.1 and moto 5.2.1: the venv .tools/python (PGSTOW_TOOLS_DIR moves .tools), so no test depends on
 *   a python3, moto or boto3 the machine happens to have on PATH.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from './postgres.js';

export const TOOLS_DIR = path.resolve(process.env.PGSTOW_TOOLS_DIR ?? path.join(REPO_ROOT, '.tools'));
const VENV_BIN = path.join(TOOLS_DIR, 'python', 'bin');

/** The venv's Python: boto3, google-cloud-storage, azure-storage-blob, moto and Barman 3.19 importable. */
export const PEER_PYTHON = path.join(VENV_BIN, 'python');
export const MOTO_SERVER = path.join(VENV_BIN, 'moto_server');

export type BarmanVersion = '3.4' | '3.19';
export const BARMAN_VERSIONS: readonly BarmanVersion[] = ['3.4', '3.19'];

const BARMAN_BIN: Record<BarmanVersion, string> = { '3.4': '/usr/bin', '3.19': VENV_BIN };
/** The interpreter each Barman runs on (for `python -c` scripts that import barman's modules). */
export const BARMAN_PYTHON: Record<BarmanVersion, string> = { '3.4': '/usr/bin/python3', '3.19': PEER_PYTHON };

/** Full path of a barman-cloud-* command of that Barman. */
export function barmanCommand(version: BarmanVersion, command: string): string {
  return path.join(BARMAN_BIN[version], command);
}

export function hasBarman(version: BarmanVersion): boolean {
  return fs.existsSync(barmanCommand(version, 'barman-cloud-backup')) && fs.existsSync(barmanCommand(version, 'barman-cloud-restore'));
}

/** What to tell a developer when a peer is missing. */
export const INSTALL_HINT = 'run `npm test` (or `node scripts/setup.mjs test`), which installs it';
