/**
 * The three tools side by side: how each archives a WAL file, takes a backup, restores it, and fetches a WAL
 * file, on the same store server. Commands are what a user would configure (one process per WAL, as
 * PostgreSQL's archive_command runs them).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { timed, type RunResult } from './measure.js';
import { binPath } from '../../test/harness/cli.js';
import { currentPeerVersions, peerArchiveWal, peerFetchWal, peerRestoreBackup, peerTakeBackup, type CurrentPeer } from './peers-current.js';

export type StoreKind = 's3rver' | 'moto' | 'azurite' | 'gcs';
export type Codec = 'none' | 'gzip' | 'bzip2' | 'snappy' | 'lz4' | 'zstd';
export type ToolName = 'pgstow' | 'barman-cloud' | 'pgbackrest' | CurrentPeer;

export interface StoreEndpoint {
  kind: StoreKind;
  /** Destination URL (bucket/container + prefix) used by pgstow and barman-cloud. */
  url: string;
  /** Options shared by pgstow and barman-cloud. */
  args: string[];
  env: Record<string, string>;
}

export interface PgbackrestRepo {
  /** HTTPS s3rver endpoint (pgBackRest needs a DNS name that matches the certificate: localhost). */
  port: number;
  bucket: string;
  accessKey: string;
  secretKey: string;
  caFile: string;
}

export interface PgTarget {
  port: number;
  dataDir: string;
  socketDir: string;
}

const node = process.execPath;

/**
 * Codecs each tool can back up with, for the side-by-side rows. barman-cloud 3.4 has gzip, bzip2 and snappy,
 * but Debian's python3-snappy cannot compute CRC32C on Python 3.11, so its snappy fails on this machine.
 * Another peer (WAL-G) adds its own line here and a case in each function below.
 */
export const BACKUP_CODECS: Record<ToolName, readonly Codec[]> = {
  pgstow: ['none', 'gzip', 'bzip2', 'snappy', 'lz4', 'zstd'],
  'barman-cloud': ['none', 'gzip', 'bzip2'],
  pgbackrest: ['none', 'gzip', 'bzip2', 'lz4', 'zstd'],
  // Barman 3.19's barman-cloud-backup has -z, -j, --snappy and --lz4 (no zstd for base backups).
  'barman-cloud 3.19': ['none', 'gzip', 'bzip2', 'snappy', 'lz4'],
  'wal-g': [],
};

/** pgBackRest's --compress-type names. */
function pgbrCompress(codec: Codec): string {
  return { none: 'none', gzip: 'gz', bzip2: 'bz2', snappy: 'none', lz4: 'lz4', zstd: 'zst' }[codec];
}

export function codecFlag(tool: ToolName, codec: Codec): string[] {
  if (codec === 'none') return [];
  if (tool === 'barman-cloud') return { gzip: ['--gzip'], bzip2: ['--bzip2'], snappy: ['--snappy'], lz4: ['--lz4'], zstd: ['--zstd'] }[codec];
  return { gzip: ['--gzip'], bzip2: ['--bzip2'], snappy: ['--snappy'], lz4: ['--lz4'], zstd: ['--zstd'] }[codec];
}

/** Versions of the peers, for the report header. */
export function peerVersions(): Record<string, string> {
  const v = (cmd: string, args: string[]): string => {
    try { return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim().split('\n')[0] ?? ''; } catch { return 'not installed'; }
  };
  return {
    'barman-cloud': v('barman-cloud-wal-archive', ['--version']),
    pgbackrest: v('pgbackrest', ['version']),
    postgresql: v('/usr/lib/postgresql/15/bin/postgres', ['--version']),
    node: process.version,
    ...currentPeerVersions(),
  };
}

export async function archiveWal(tool: ToolName, codec: Codec, store: StoreEndpoint | PgbackrestConfig, server: string, walPath: string): Promise<RunResult> {
  switch (tool) {
    case 'pgstow': {
      const s = store as StoreEndpoint;
      return timed(node, [binPath('pgstow'), 'wal-archive', ...codecFlag(tool, codec), ...s.args, s.url, server, walPath], { env: s.env });
    }
    case 'barman-cloud': {
      const s = store as StoreEndpoint;
      return timed('barman-cloud-wal-archive', [...codecFlag(tool, codec), ...s.args, s.url, server, walPath], { env: s.env });
    }
    case 'pgbackrest': {
      const c = store as PgbackrestConfig;
      return timed('pgbackrest', [`--config=${c.configFile}`, `--stanza=${c.stanza}`, `--compress-type=${pgbrCompress(codec)}`, 'archive-push', walPath], { asUser: 'postgres' });
    }
    default: return peerArchiveWal(tool, codec, store as StoreEndpoint, server, walPath);
  }
}

export async function fetchWal(tool: ToolName, store: StoreEndpoint | PgbackrestConfig, server: string, walName: string, dest: string, extra: string[] = []): Promise<RunResult> {
  switch (tool) {
    case 'pgstow': {
      const s = store as StoreEndpoint;
      return timed(node, [binPath('pgstow'), 'wal-restore', ...extra, ...s.args, s.url, server, walName, dest], { env: s.env });
    }
    case 'barman-cloud': {
      const s = store as StoreEndpoint;
      return timed('barman-cloud-wal-restore', [...s.args, s.url, server, walName, dest], { env: s.env });
    }
    case 'pgbackrest': {
      const c = store as PgbackrestConfig;
      return timed('pgbackrest', [`--config=${c.configFile}`, `--stanza=${c.stanza}`, 'archive-get', walName, dest], { asUser: 'postgres' });
    }
    default: return peerFetchWal(tool, store as StoreEndpoint, server, walName, dest);
  }
}

export async function takeBackup(tool: ToolName, codec: Codec, store: StoreEndpoint | PgbackrestConfig, server: string, pg: PgTarget, extra: string[] = []): Promise<RunResult> {
  const pgEnv = { PGHOST: '127.0.0.1', PGPORT: String(pg.port), PGUSER: 'postgres', PGDATABASE: 'postgres' };
  switch (tool) {
    case 'pgstow': {
      const s = store as StoreEndpoint;
      return timed(node, [binPath('pgstow'), 'backup', '--immediate-checkpoint', ...codecFlag(tool, codec), ...extra, ...s.args, s.url, server], { env: { ...s.env, ...pgEnv } });
    }
    case 'barman-cloud': {
      const s = store as StoreEndpoint;
      return timed('barman-cloud-backup', ['--immediate-checkpoint', '-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', ...codecFlag(tool, codec), ...s.args, s.url, server], { env: s.env });
    }
    case 'pgbackrest': {
      const c = store as PgbackrestConfig;
      return timed('pgbackrest', [`--config=${c.configFile}`, `--stanza=${c.stanza}`, '--type=full', '--no-archive-check', `--compress-type=${pgbrCompress(codec)}`, 'backup'], { asUser: 'postgres' });
    }
    default: return peerTakeBackup(tool, codec, store as StoreEndpoint, server, pg);
  }
}

export async function restoreBackup(tool: ToolName, store: StoreEndpoint | PgbackrestConfig, server: string, backupId: string, dest: string): Promise<RunResult> {
  switch (tool) {
    case 'pgstow': {
      const s = store as StoreEndpoint;
      return timed(node, [binPath('pgstow'), 'restore', ...s.args, s.url, server, backupId, dest], { env: s.env });
    }
    case 'barman-cloud': {
      const s = store as StoreEndpoint;
      return timed('barman-cloud-restore', [...s.args, s.url, server, backupId, dest], { env: s.env });
    }
    case 'pgbackrest': {
      const c = store as PgbackrestConfig;
      return timed('pgbackrest', [`--config=${c.configFile}`, `--stanza=${c.stanza}`, `--pg1-path=${dest}`, 'restore'], { asUser: 'postgres' });
    }
    default: return peerRestoreBackup(tool, store as StoreEndpoint, server, dest);
  }
}

/** Newest backup id of a server, via barman-cloud-backup-list (works for pgstow's backups too). */
export function latestBackupId(store: StoreEndpoint, server: string): string {
  const out = execFileSync('barman-cloud-backup-list', ['--format', 'json', ...store.args, store.url, server], { env: { ...process.env, ...store.env } }).toString();
  const list = (JSON.parse(out) as { backups_list: Array<{ backup_id: string; status: string }> }).backups_list.filter((b) => b.status === 'DONE');
  const last = list.at(-1);
  if (!last) throw new Error(`no DONE backup for ${server} at ${store.url}`);
  return last.backup_id;
}

export interface PgbackrestConfig {
  configFile: string;
  stanza: string;
}

/** Writes a pgBackRest config for one stanza on the HTTPS s3rver and runs stanza-create (as postgres). */
export function setupPgbackrest(dir: string, repo: PgbackrestRepo, repoPath: string, pg: PgTarget, stanza: string): PgbackrestConfig {
  fs.mkdirSync(dir, { recursive: true });
  for (const d of ['log', 'lock', 'spool']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  const configFile = path.join(dir, 'pgbackrest.conf');
  fs.writeFileSync(configFile, [
    '[global]',
    'repo1-type=s3',
    'repo1-s3-endpoint=localhost',
    `repo1-storage-port=${repo.port}`,
    `repo1-s3-bucket=${repo.bucket}`,
    'repo1-s3-region=us-east-1',
    `repo1-s3-key=${repo.accessKey}`,
    `repo1-s3-key-secret=${repo.secretKey}`,
    'repo1-s3-uri-style=path',
    `repo1-storage-ca-file=${repo.caFile}`,
    `repo1-path=${repoPath}`,
    'start-fast=y',
    'process-max=2',
    `log-path=${path.join(dir, 'log')}`,
    `lock-path=${path.join(dir, 'lock')}`,
    `spool-path=${path.join(dir, 'spool')}`,
    'log-level-file=off',
    'log-level-console=warn',
    `[${stanza}]`,
    `pg1-path=${pg.dataDir}`,
    `pg1-port=${pg.port}`,
    `pg1-socket-path=${pg.socketDir}`,
    'pg1-user=postgres',
    '',
  ].join('\n'));
  execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  execFileSync('runuser', ['-u', 'postgres', '--', 'pgbackrest', `--config=${configFile}`, `--stanza=${stanza}`, 'stanza-create'], { stdio: 'pipe' });
  return { configFile, stanza };
}
