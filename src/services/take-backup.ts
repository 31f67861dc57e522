/**
 * Use case: take a Barman-compatible base backup of a running PostgreSQL into an object store
 * (barman-cloud-backup's CloudBackupUploader sequence, spec barman-cloud-format §3.2):
 *   server facts → pg_backup_start → tablespace tars + data tar (streamed, compressed, uploaded) →
 *   pg_backup_stop → restore point → backup_label appended → volumes completed → manifest → backup.info.
 * backup.info is written last, so a backup is listed as DONE only once every object is complete; on any
 * failure after the start it is written with status FAILED and `error=failure <phase> (<cause>)`, and
 * unfinished uploads are aborted. Returns the metadata it wrote (no listing round trip needed).
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { errorMessage, isPgstowError, PgstowError } from '../errors.js';
import type { ObjectStore, PutOptions } from '../storage/object-store.js';
import type { BarmanLayout } from '../repository/barman-layout.js';
import { parseLsn, lsnSegmentOffset, lsnToSegmentName } from '../domain/wal/lsn.js';
import {
  BackupStatus, emptyBackupInfo, formatBackupId, PyDateTime, serializeBackupInfo, type BackupInfo,
} from '../domain/backup/backup-info.js';
import { PyDict, PyFloat } from '../domain/backup/python-literal.js';
import {
  BACKUP_MANIFEST_FORMAT, BACKUP_MANIFEST_VERSION, serializeBackupManifest,
  type BackupCompression, type BackupManifest, type ManifestObject,
} from '../domain/backup/backup-manifest.js';
import { PostgresSession, type ServerInfo } from '../postgres/postgres-session.js';
import type { PgConnectionConfig } from '../postgres/connection-options.js';
import { pgdataRules, tablespaceRules, type PathRules } from '../pipeline/backup-exclusions.js';
import { walkTree } from '../pipeline/pgdata-walker.js';
import { TarArchiveWriter, type ArchiveVolume } from '../pipeline/tar-archive-writer.js';
import { BandwidthLimiter, VolumeSink } from '../pipeline/volume-sink.js';
import { createTarCompressor, TAR_SUFFIX } from '../pipeline/backup-compression.js';
import { VERSION } from '../version.js';
import type { Logger } from '../logger.js';

/** @deprecated the shared Logger (src/logger.ts). */
export type BackupLog = Logger;

export interface BackupProgress {
  /** Uncompressed bytes read from PGDATA and tablespaces so far. */
  bytesRead: number;
  /** Estimated total (sum of tablespace sizes), or undefined without privileges. */
  totalEstimate: number | undefined;
  /** Member most recently written. */
  member: string;
  startedAt: number;
}

export interface TakeBackupInput {
  connection: PgConnectionConfig;
  compression: BackupCompression;
  compressionLevel?: number;
  immediateCheckpoint?: boolean;
  /** -n/--name (already validated). */
  name?: string;
  /** Concurrent archives (tablespaces and data); drivers use it for parts in flight too. Default 2. */
  jobs?: number;
  /** -S/--max-archive-size in bytes (stored, compressed bytes). Default 100 GiB. */
  maxArchiveSize?: number;
  /** --max-bandwidth in bytes per second, per tar stream. */
  maxBandwidth?: number;
  tags?: Readonly<Record<string, string>>;
  /** Default: now in the local time zone, as Barman. */
  backupId?: string;
  signal?: AbortSignal;
  log: BackupLog;
  onProgress?: (p: BackupProgress) => void;
}

export interface TakeBackupDeps {
  store: ObjectStore;
  layout: BarmanLayout;
}

export interface TakeBackupResult {
  backupId: string;
  info: BackupInfo;
  manifest: BackupManifest;
  /** Uncompressed tar bytes, stored bytes, and wall time. */
  stats: { tarBytes: number; storedBytes: number; seconds: number; objects: number };
}

/** A backup that failed after it started; backup.info says FAILED. Exit 1, as barman-cloud-backup. */
export class BackupFailedError extends PgstowError {
  constructor(readonly backupId: string, readonly phase: string, cause: unknown) {
    super('ERR_BACKUP_FAILED', 1, `backup ${backupId} failed ${phase}: ${errorMessage(cause)}`, { cause });
  }
}
BackupFailedError.prototype.name = 'BackupFailedError';

const DEFAULT_MAX_ARCHIVE = 100 * 1024 ** 3;

export async function takeBackup(deps: TakeBackupDeps, input: TakeBackupInput): Promise<TakeBackupResult> {
  const { store, layout } = deps;
  const log = input.log;
  const started = Date.now();
  let backupId: string = input.backupId ?? formatBackupId(new Date());
  // The store first (as barman-cloud 3.4 checks connectivity first): an unreachable store exits 2 before
  // PostgreSQL is touched. Two backups in the same second would share a directory: wait for a fresh id.
  if (!input.backupId) {
    while (await store.exists(layout.backupInfoKey(backupId))) {
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
      backupId = formatBackupId(new Date());
    }
  } else {
    await store.exists(layout.backupInfoKey(backupId));
  }
  const session = await PostgresSession.connect(input.connection, input.signal, (severity, message) => {
    if (severity === 'WARNING') log.warning('WARN_POSTGRES_NOTICE', `PostgreSQL: ${message}`); else log.info(`PostgreSQL: ${message}`);
  });
  // An interrupt must not wait for a running query (pg_backup_stop can wait for archiving forever): closing
  // the session fails it at once, and PostgreSQL ends the session's non-exclusive backup by itself.
  const onAbort = (): void => { void session.abort(); };
  input.signal?.addEventListener('abort', onAbort, { once: true });
  let phase = 'starting backup';
  const info = emptyBackupInfo();
  const archives = new Map<string, TarArchiveWriter>();
  let backupStarted = false;
  try {
    const server = await session.serverInfo();
    fillServerFields(info, server);
    if (input.name !== undefined) info.backupName = input.name;
    const totalEstimate = await clusterSize(session);
    log.info(`Starting backup '${backupId}'${input.name ? ` (name '${input.name}')` : ''} of PostgreSQL ${server.version} at ${session.describe}, PGDATA ${server.dataDirectory}`);

    const start = await session.startBackup(`Barman backup cloud ${backupId}`, input.immediateCheckpoint ?? false);
    backupStarted = true;
    const beginLsn = parseLsn(start.lsn);
    info.beginXlog = start.lsn;
    info.beginWal = lsnToSegmentName(beginLsn, start.timeline, server.walSegmentSize);
    info.beginOffset = lsnSegmentOffset(beginLsn, server.walSegmentSize);
    info.beginTime = PyDateTime.parse(start.time);
    info.timeline = start.timeline;
    info.status = BackupStatus.STARTED;
    log.info(`Backup start at LSN: ${start.lsn} (${info.beginWal}, ${hex8(info.beginOffset)})`);

    phase = 'uploading data';
    const copyStart = Date.now();
    const progress: BackupProgress = { bytesRead: 0, totalEstimate, member: '', startedAt: started };
    const onProgress = (n: number, member: string): void => {
      progress.bytesRead += n;
      progress.member = member;
      input.onProgress?.(progress);
    };
    const maxArchiveSize = input.maxArchiveSize ?? DEFAULT_MAX_ARCHIVE;
    const suffix = TAR_SUFFIX[input.compression];
    const putOptions: PutOptions = {
      // A volume holds at most max-archive-size plus one file (≤ 1 GiB segments): enough for part sizing.
      sizeHint: Math.min(maxArchiveSize, totalEstimate === undefined ? maxArchiveSize : Math.ceil(totalEstimate * 1.25)) + 1024 ** 3,
      ...(input.tags ? { tags: input.tags } : {}),
      ...(input.signal ? { signal: input.signal } : {}),
    };
    const newArchive = (name: string): TarArchiveWriter => {
      const limiter = input.maxBandwidth ? new BandwidthLimiter(input.maxBandwidth) : undefined;
      const w = new TarArchiveWriter({
        maxArchiveSize,
        openVolume: (volume) => {
          const key = layout.backupTarKey(backupId, name, volume, suffix);
          log.debug(`Uploading ${key}`);
          return new VolumeSink({
            compressor: createTarCompressor(input.compression, input.compressionLevel),
            limiter,
            upload: (body) => store.put(key, body, putOptions),
          });
        },
        onWarning: (code, m) => log.warning(code, m),
        onProgress,
      });
      archives.set(name, w);
      return w;
    };
    const timePerItem: Record<string, number> = {};
    const copyTree = async (name: string, root: string, rules: PathRules, writer: TarArchiveWriter): Promise<void> => {
      const t0 = Date.now();
      for await (const entry of walkTree(root, rules)) {
        if (input.signal?.aborted) throw input.signal.reason;
        await writer.addPath(entry);
      }
      timePerItem[name] = (Date.now() - t0) / 1000;
    };

    // Tablespaces first (Barman's order), then PGDATA; up to --jobs archives at once.
    const pgdataRoot = await realDir(server.dataDirectory);
    const dataWriter = newArchive('data');
    const tasks: (() => Promise<void>)[] = [];
    for (const ts of server.tablespaces) {
      tasks.push(async () => {
        const w = newArchive(String(ts.oid));
        log.info(`Uploading tablespace '${ts.name}' (${ts.location}) as ${layout.backupTarKey(backupId, String(ts.oid), 0, suffix)}`);
        await copyTree(String(ts.oid), await realDir(ts.location), tablespaceRules(server.majorVersion), w);
        await w.close();
      });
    }
    tasks.push(async () => {
      log.info(`Uploading PGDATA ${server.dataDirectory} as ${layout.backupTarKey(backupId, 'data', 0, suffix)}`);
      await copyTree('data', pgdataRoot, pgdataRules(server.dataDirectory, server.tablespaces), dataWriter);
      // pg_control last among the data files, so it is at least as new as every data block (Barman's order).
      await dataWriter.addPath({ name: 'global/pg_control', path: path.join(pgdataRoot, 'global', 'pg_control'), type: 'file' });
      for (const [label, file, optional] of [['config_file', server.configFile, false], ['hba_file', server.hbaFile, false], ['ident_file', server.identFile, true]] as const) {
        if (!file || file.startsWith(`${server.dataDirectory}/`) || file.startsWith(`${pgdataRoot}/`)) continue;
        const present = await fsp.stat(file).then(() => true, () => false);
        if (!present && optional) continue;
        log.info(`Uploading ${label} ${file} as ${path.basename(file)}`);
        if (!(await dataWriter.addPath({ name: path.basename(file), path: file, type: 'file' }, path.basename(file)))) {
          if (!optional) throw new PgstowError('ERR_BACKUP_FILE', 1, `${label} ${file} is missing`);
        }
      }
      for (const inc of server.includedFiles ?? []) {
        if (!inc.startsWith(`${server.dataDirectory}/`)) log.warning('WARN_CONFIG_OUTSIDE_PGDATA', `included configuration file ${inc} is outside PGDATA and is not backed up`);
      }
    });
    await runPool(tasks, Math.max(1, input.jobs ?? 2));

    phase = 'stopping backup';
    log.info('Stopping backup: pg_backup_stop returns once the last WAL segment of the backup is archived');
    const stop = await session.stopBackup();
    const endLsn = parseLsn(stop.lsn);
    info.endXlog = stop.lsn;
    info.endWal = lsnToSegmentName(endLsn, stop.timeline, server.walSegmentSize);
    info.endOffset = lsnSegmentOffset(endLsn, server.walSegmentSize);
    info.endTime = PyDateTime.parse(stop.time);
    info.backupLabel = stop.backupLabel;
    backupStarted = false;
    log.info(`Backup end at LSN: ${stop.lsn} (${info.endWal}, ${hex8(info.endOffset)})`);
    if (await session.createRestorePoint(`barman_${backupId}`)) log.info(`Restore point 'barman_${backupId}' created`);

    phase = 'uploading data';
    // backup_label: the last member, with Barman's attributes (root-owned, gid of PGDATA, mtime 0).
    const pgdataStat = await fsp.stat(server.dataDirectory);
    const dataT0 = Date.now();
    await dataWriter.addBuffer({ name: 'backup_label', mode: 0o644, uid: 0, gid: pgdataStat.gid, uname: '', gname: '', mtime: 0 }, Buffer.from(stop.backupLabel, 'utf8'));
    await dataWriter.close();
    timePerItem.data = (timePerItem.data ?? 0) + (Date.now() - dataT0) / 1000;
    const copyTime = (Date.now() - copyStart) / 1000;

    const objects: ManifestObject[] = [];
    for (const [name, w] of archives) {
      for (const v of w.volumes) objects.push(manifestEntry(layout, backupId, name, suffix, v));
    }
    objects.sort((a, b) => (a.archive === b.archive ? a.volume - b.volume : a.archive === 'data' ? -1 : b.archive === 'data' ? 1 : Number(a.archive) - Number(b.archive)));
    const manifest: BackupManifest = {
      format: BACKUP_MANIFEST_FORMAT, version: BACKUP_MANIFEST_VERSION, backupId, createdBy: `pgstow ${VERSION}`,
      compression: input.compression, createdAt: new Date().toISOString(), objects,
    };
    const manifestKey = layout.backupManifestKey(backupId);
    await store.put(manifestKey, Buffer.from(serializeBackupManifest(manifest), 'utf8'), { contentType: 'application/json', ...(input.tags ? { tags: input.tags } : {}) });

    const totalTime = (Date.now() - started) / 1000;
    const items = Object.keys(timePerItem).sort();
    const perItem = (f: (k: string) => number): PyDict => new PyDict(items.map((k) => [k, new PyFloat(round6(f(k)))] as const));
    const serialized = items.reduce((s, k) => s + (timePerItem[k] ?? 0), 0);
    info.copyStats = new PyDict([
      ['total_time', new PyFloat(round6(totalTime))],
      ['number_of_workers', input.jobs ?? 2],
      ['analysis_time', 0],
      ['analysis_time_per_item', new PyDict(items.map((k) => [k, 0] as const))],
      ['copy_time_per_item', perItem((k) => timePerItem[k] ?? 0)],
      ['serialized_copy_time_per_item', perItem((k) => timePerItem[k] ?? 0)],
      ['copy_time', new PyFloat(round6(copyTime))],
      ['serialized_copy_time', new PyFloat(round6(serialized))],
    ]);
    info.status = BackupStatus.DONE;
    phase = 'uploading backup.info file';
    await putBackupInfo(store, layout, backupId, info, input.tags);
    const tarBytes = objects.reduce((s, o) => s + o.tarSize, 0);
    const storedBytes = objects.reduce((s, o) => s + o.size, 0);
    return { backupId, info, manifest, stats: { tarBytes, storedBytes, seconds: (Date.now() - started) / 1000, objects: objects.length } };
  } catch (caught) {
    // An abort surfaces as a generic AbortError from whichever stream saw it first: report the signal's reason.
    const err: unknown = input.signal?.aborted ? input.signal.reason : caught;
    for (const w of archives.values()) w.abort(err);
    // No pg_backup_stop here: it could wait for WAL archiving forever. Closing the session (finally) ends
    // the non-exclusive backup on the server.
    if (backupStarted) log.debug('ending backup mode by closing the PostgreSQL session');
    if (info.status !== BackupStatus.EMPTY) {
      const line = (errorMessage(err).trim().split('\n')[0] ?? '') || (err instanceof Error ? err.name : 'error');
      info.status = BackupStatus.FAILED;
      info.error = `failure ${phase} (${line})`;
      log.warning('WARN_BACKUP_FAILED', `Backup failed ${phase} (${line})`);
      try {
        await putBackupInfo(store, layout, backupId, info, input.tags);
      } catch (e2) {
        log.warning('WARN_BACKUP_INFO_NOT_WRITTEN', `could not write the FAILED backup.info for ${backupId}: ${errorMessage(e2)}`);
      }
      if (isPgstowError(err) && err.exitCode !== 1 && phase !== 'uploading data') throw err;
      throw new BackupFailedError(backupId, phase, err);
    }
    throw err;
  } finally {
    input.signal?.removeEventListener('abort', onAbort);
    await session.close();
  }
}

function fillServerFields(info: BackupInfo, s: ServerInfo): void {
  info.version = s.version;
  info.systemid = s.systemid;
  info.pgdata = s.dataDirectory;
  info.xlogSegmentSize = s.walSegmentSize;
  info.configFile = s.configFile;
  info.hbaFile = s.hbaFile;
  info.identFile = s.identFile;
  info.includedFiles = s.includedFiles;
  info.tablespaces = s.tablespaces.length > 0 ? s.tablespaces.map((t) => ({ name: t.name, oid: t.oid, location: t.location })) : null;
  info.serverName = 'cloud';
  info.compression = null;
  info.dataChecksums = s.dataChecksums;
}

async function putBackupInfo(store: ObjectStore, layout: BarmanLayout, backupId: string, info: BackupInfo, tags?: Readonly<Record<string, string>>): Promise<void> {
  const body = Buffer.from(serializeBackupInfo(info), 'utf8');
  await store.put(layout.backupInfoKey(backupId), body, { contentLength: body.length, contentType: 'text/plain', ...(tags ? { tags } : {}) });
}

function manifestEntry(layout: BarmanLayout, backupId: string, archive: string, suffix: string, v: ArchiveVolume): ManifestObject {
  const key = layout.backupTarKey(backupId, archive, v.volume, suffix);
  return { name: key.slice(layout.backupPrefix(backupId).length), archive, volume: v.volume, size: v.size, sha256: v.sha256, tarSize: v.tarSize, members: v.members };
}

async function clusterSize(session: PostgresSession): Promise<number | undefined> {
  return session.clusterSize().catch(() => undefined);
}

async function realDir(dir: string): Promise<string> {
  return fsp.realpath(dir).catch(() => dir);
}

/** Runs tasks with at most `limit` at once; the first failure rejects (others are left to be aborted). */
async function runPool(tasks: readonly (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (failed === undefined && next < tasks.length) {
      const task = tasks[next++] as () => Promise<void>;
      try { await task(); } catch (err) { failed ??= err; throw err; }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
}

function hex8(n: number): string {
  return n.toString(16).toUpperCase().padStart(8, '0');
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
