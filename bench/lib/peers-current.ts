/**
 * The benchmark's current-generation peers, beside barman-cloud 3.4 and pgBackRest (tools.ts):
 * - Barman 3.19.1 (PyPI; what CloudNativePG's plugin-barman-cloud ships), from the venv scripts/setup.mjs makes;
 *   same commands and URLs as barman-cloud 3.4, plus GCS.
 * - WAL-G, built from the Go module proxy by scripts/install-wal-g.sh (the newest the proxy serves, 1.1.3). S3 only:
 *   it builds Azure URLs as https://<account>.blob.<suffix> (Azurite is plain HTTP on loopback), and its GCS client
 *   (cloud.google.com/go/storage 1.8.0) sends only uploads to STORAGE_EMULATOR_HOST, every other call to
 *   storage.googleapis.com (seen here: wal-push hung on it), with no endpoint setting in WAL-G 1.1 to change that.
 *   WAL-G always compresses (lz4 default, or zstd, lzma, brotli); its rows say which.
 * WAL-G's rows are WAL only (push and fetch per segment): see peerBacksUp.
 * Commands are what a user would configure; WAL-G's settings are its environment variables.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { timed, type RunResult } from './measure.js';
import type { Codec, PgTarget, StoreEndpoint } from './tools.js';
import { barmanCommand, TOOLS_DIR } from '../../test/harness/peers.js';

export const WALG = path.join(TOOLS_DIR, 'go', 'bin', 'wal-g');
export type CurrentPeer = 'barman-cloud 3.19' | 'wal-g';

/**
 * Whether the peer can take a base backup of the bench's PostgreSQL 15. WAL-G 1.1.3 cannot: it calls
 * pg_start_backup(), which PostgreSQL 15 renamed (seen here: "function pg_start_backup(unknown, boolean, boolean)
 * does not exist"); WAL-G added PostgreSQL 15 support in releases the Go module proxy does not serve.
 */
export function peerBacksUp(tool: CurrentPeer): boolean {
  return tool !== 'wal-g';
}

/** Codecs each peer is measured with (WAL-G has no "none"). */
export const PEER_CODECS: Record<CurrentPeer, Codec[]> = { 'barman-cloud 3.19': ['none', 'gzip'], 'wal-g': ['lz4'] };

export function peerSupports(tool: CurrentPeer, store: StoreEndpoint['kind'] | 'gcs'): boolean {
  return tool === 'wal-g' ? store === 's3rver' || store === 'moto' : true;
}

export function currentPeerVersions(): Record<string, string> {
  const v = (cmd: string, args: string[]): string => {
    try { return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim().split('\n')[0] ?? ''; } catch { return 'not installed'; }
  };
  return { 'barman-cloud 3.19': v(barmanCommand('3.19', 'barman-cloud-wal-archive'), ['--version']), 'wal-g': v(WALG, ['--version']).replace(/\t/g, ' ') };
}

const barmanFlag = (codec: Codec): string[] => (codec === 'none' ? [] : [`--${codec}`]);

/** WAL-G's environment for a store endpoint and server name (its prefix is the whole path). */
function walgEnv(store: StoreEndpoint, server: string, codec: Codec): Record<string, string> {
  const opt = (name: string): string | undefined => (store.args.includes(name) ? store.args[store.args.indexOf(name) + 1] : undefined);
  const common = { WALG_COMPRESSION_METHOD: codec === 'none' ? 'lz4' : codec, WALG_UPLOAD_CONCURRENCY: '4', WALG_DOWNLOAD_CONCURRENCY: '4' };
  if (store.url.startsWith('s3://')) {
    return { ...store.env, ...common, WALG_S3_PREFIX: `${store.url}/${server}`, AWS_ENDPOINT: opt('--endpoint-url') ?? '',
      AWS_S3_FORCE_PATH_STYLE: 'true', AWS_REGION: store.env.AWS_DEFAULT_REGION ?? 'us-east-1' };
  }
  throw new Error(`WAL-G is not measured on ${store.url}`);
}

export async function peerArchiveWal(tool: CurrentPeer, codec: Codec, store: StoreEndpoint, server: string, walPath: string): Promise<RunResult> {
  if (tool === 'wal-g') return timed(WALG, ['wal-push', walPath], { env: walgEnv(store, server, codec) });
  return timed(barmanCommand('3.19', 'barman-cloud-wal-archive'), [...barmanFlag(codec), ...store.args, store.url, server, walPath], { env: store.env });
}

export async function peerFetchWal(tool: CurrentPeer, store: StoreEndpoint, server: string, walName: string, dest: string): Promise<RunResult> {
  if (tool === 'wal-g') return timed(WALG, ['wal-fetch', walName, dest], { env: walgEnv(store, server, 'lz4') });
  return timed(barmanCommand('3.19', 'barman-cloud-wal-restore'), [...store.args, store.url, server, walName, dest], { env: store.env });
}

export async function peerTakeBackup(tool: CurrentPeer, codec: Codec, store: StoreEndpoint, server: string, pg: PgTarget): Promise<RunResult> {
  const pgEnv = { PGHOST: '127.0.0.1', PGPORT: String(pg.port), PGUSER: 'postgres', PGDATABASE: 'postgres' };
  if (tool === 'wal-g') {
    // Reads PGDATA itself, so it runs as the postgres user, like pgBackRest.
    return timed(WALG, ['backup-push', '--full', pg.dataDir], { env: { ...walgEnv(store, server, codec), ...pgEnv, PGDATA: pg.dataDir, HOME: '/tmp' }, asUser: 'postgres' });
  }
  return timed(barmanCommand('3.19', 'barman-cloud-backup'), ['--immediate-checkpoint', '-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', ...barmanFlag(codec), ...store.args, store.url, server], { env: store.env });
}

export async function peerRestoreBackup(tool: CurrentPeer, store: StoreEndpoint, server: string, dest: string): Promise<RunResult> {
  if (tool === 'wal-g') {
    fs.mkdirSync(dest, { recursive: true });
    return timed(WALG, ['backup-fetch', dest, 'LATEST'], { env: walgEnv(store, server, 'lz4') });
  }
  const out = execFileSync(barmanCommand('3.19', 'barman-cloud-backup-list'), ['--format', 'json', ...store.args, store.url, server], { env: { ...process.env, ...store.env } }).toString();
  const done = (JSON.parse(out) as { backups_list: Array<{ backup_id: string; status: string }> }).backups_list.filter((b) => b.status === 'DONE');
  const id = done.at(-1)?.backup_id;
  if (!id) throw new Error(`no DONE backup for ${server} at ${store.url}`);
  return timed(barmanCommand('3.19', 'barman-cloud-restore'), [...store.args, store.url, server, id, dest], { env: store.env });
}
