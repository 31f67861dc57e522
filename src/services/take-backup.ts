/**
 * Use case: take a Barman-compatible base backup of a running PostgreSQL into an object store
 * (barman-cloud-backup's CloudBackupUploader sequence, spec barman-cloud-format §3.2):
 *   server facts → pg_backup_start → tablespace tars + data tar (streamed, compressed, uploaded) →
 *   pg_backup_stop → restore point → backup_label appended → volumes completed → manifest → backup.info.
 * backup.info is written last, so a backup is listed as DONE only once every object is complete; on any
 * failure after the start it is written with status FAILED and `error=failure <phase> (<cause>)`, and
 * unfinished uploads are aborted. Returns the metadata it wrote (no listing round trip needed).
 */
import { createHash } from 'node:crypto';
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
  BACKUP_MANIFEST_FORMAT, BACKUP_MANIFEST_VERSION, MANIFEST_SHA256_COPY_STAT, serializeBackupManifest,
  type BackupCompression, type BackupManifest, type ManifestObject,
} from '../domain/backup/backup-manifest.js';
import { PostgresSession, type ServerInfo } from '../postgres/postgres-session.js';
import type { PgConnectionConfig } from '../postgres/connection-options.js';
import { pgdataRules, tablespaceRules, type PathRules } from '../pipeline/backup-exclusions.js';
import { walkTree } from '../pipeline/pgdata-walker.js';
import { TarArchiveWriter, type ArchiveVolume } from '../pipeline/tar-archive-writer.js';
import { BandwidthLimiter, VolumeSink } from '../pipeline/volume-sink.js';
import { createTarCompressor, TAR_SUFFIX } from '../pipeline/backup-compression.js';
import { TaskLimiter } from '../pipeline/task-limiter.js';
import { memoryBudget, minPartSizeFor, planBackup as planMemory, type BackupMemoryPlan, type MemoryBudget } from '../memory-budget.js';
import { VERSION } from '../version.js';
import { cleanupAfterBackup } from './cleanup-garbage.js';
import { runPool } from '../concurrency.js';
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
  /** The process's memory budget: part sizes, parts in flight, archives at once (default 100 MiB). */
  memory?: MemoryBudget;
  /** After a successful backup, abandoned uploads, orphans and FAILED backups older than this go (default 24 h). */
  garbageAgeMs?: number;
  /** Remove FAILED backups in that cleanup too (default true; barman-cloud-backup leaves them, as Barman). */
  removeFailed?: boolean;
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

/** What a backup will be, decided before it starts: its id, the server and its size, how volumes are written. */
export interface BackupPlan {
  backupId: string;
  session: PostgresSession;
  server: ServerInfo;
  /** Sum of tablespace sizes, or undefined without the privilege to read them. */
  totalEstimate: number | undefined;
  suffix: string;
  maxArchiveSize: number;
  putOptions: PutOptions;
  /** The memory budget and how this backup spends it (part size, parts in flight, archives at once, blocks). */
  memory: MemoryBudget;
  memoryPlan: BackupMemoryPlan;
}

export async function takeBackup(deps: TakeBackupDeps, input: TakeBackupInput): Promise<TakeBackupResult> {
  return executeBackup(deps, await planBackup(deps, input), input);
}

/**
 * Chooses the backup id and reads the server: the store first (as barman-cloud 3.4 checks connectivity first,
 * an unreachable store exits 2 before PostgreSQL is touched), then the PostgreSQL session and its facts.
 */
export async function planBackup(deps: TakeBackupDeps, input: TakeBackupInput): Promise<BackupPlan> {
  const { store, layout } = deps;
  let backupId: string = input.backupId ?? formatBackupId(new Date());
  if (!input.backupId) {
    // Two backups in the same second would share a directory: wait for a fresh id.
    while (await store.exists(layout.backupInfoKey(backupId), input.signal ? { signal: input.signal } : {})) {
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
      backupId = formatBackupId(new Date());
    }
  } else {
    await store.exists(layout.backupInfoKey(backupId), input.signal ? { signal: input.signal } : {});
  }
  const session = await PostgresSession.connect(input.connection, input.signal, (severity, message) => {
    if (severity === 'WARNING') input.log.warning('WARN_POSTGRES_NOTICE', `PostgreSQL: ${message}`); else input.log.info(`PostgreSQL: ${message}`);
  });
  try {
    const server = await session.serverInfo();
    const totalEstimate = await clusterSize(session);
    const maxArchiveSize = input.maxArchiveSize ?? DEFAULT_MAX_ARCHIVE;
    // A volume holds at most max-archive-size plus one file (≤ 1 GiB segments): enough for part sizing.
    const sizeHint = Math.min(maxArchiveSize, totalEstimate === undefined ? maxArchiveSize : Math.ceil(totalEstimate * 1.25)) + 1024 ** 3;
    const memory = input.memory ?? memoryBudget();
    const memoryPlan = planMemory(memory, {
      jobs: Math.max(1, input.jobs ?? 2), compressed: input.compression !== 'none', archives: 1 + server.tablespaces.length,
      minPart: minPartSizeFor(store.provider), maxParts: store.capabilities.maxParts, volumeSizeHint: sizeHint,
    });
    const putOptions: PutOptions = {
      sizeHint, partSize: memoryPlan.partSize, partsInFlight: memoryPlan.partsInFlight, partBuffers: memoryPlan.partBuffers,
      ...(input.tags ? { tags: input.tags } : {}),
      ...(input.signal ? { signal: input.signal } : {}),
    };
    return { backupId, session, server, totalEstimate, suffix: TAR_SUFFIX[input.compression], maxArchiveSize, putOptions, memory, memoryPlan };
  } catch (err) {
    // Nothing was written yet: the error as it is (an old server, no privilege), no FAILED backup.info.
    await session.close();
    throw err;
  }
}

/**
 * Runs the plan: pg_backup_start, the tars, pg_backup_stop, backup_label, the manifest, backup.info (last).
 * On any failure after the start, backup.info says FAILED and unfinished uploads are aborted. Closes the session.
 */
export async function executeBackup(deps: TakeBackupDeps, plan: BackupPlan, input: TakeBackupInput): Promise<TakeBackupResult> {
  const run = new BackupRun(deps, plan, input);
  // An interrupt must not wait for a running query (pg_backup_stop can wait for archiving forever): closing
  // the session fails it at once, and PostgreSQL ends the session's non-exclusive backup by itself.
  const onAbort = (): void => { void plan.session.abort(); };
  input.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await run.start();
    await run.copy();
    await run.stop();
    return await run.finish();
  } catch (caught) {
    throw await run.fail(caught);
  } finally {
    input.signal?.removeEventListener('abort', onAbort);
    await plan.session.close();
  }
}

/** The state of one backup while it runs: backup.info as it fills, the archives, the phase for messages. */
class BackupRun {
  readonly info = emptyBackupInfo();
  readonly archives = new Map<string, TarArchiveWriter>();
  readonly timePerItem: Record<string, number> = {};
  readonly started = Date.now();
  phase = 'starting backup';
  backupStarted = false;
  copyStart = 0;
  dataWriter: TarArchiveWriter | undefined;
  pgdataRoot = '';
  /** Compression uses --jobs cores in total, shared by the archives (tablespaces and data) written at once. */
  private readonly compressionLimiter: TaskLimiter;

  constructor(private readonly deps: TakeBackupDeps, private readonly plan: BackupPlan, private readonly input: TakeBackupInput) {
    this.compressionLimiter = new TaskLimiter(Math.max(1, input.jobs ?? 2));
    const m = plan.memoryPlan;
    input.log.debug(`memory plan: ${m.archivesAtOnce} archive(s) at once, ${m.partBuffers} part buffer(s) of ${m.partSize} bytes, up to ${m.partsInFlight} in flight, compression blocks of ${m.compressionBlock} bytes (output chunks of ${m.compressionOutputChunk})`);
    if (m.overBudget) input.log.warning('WARN_MEMORY_BUDGET', `the memory budget is too small for this store's part sizes: this backup needs about ${Math.ceil(m.bytes / 1024 ** 2)} MiB of buffers`);
  }

  async start(): Promise<void> {
    const { plan, input, info } = this;
    fillServerFields(info, plan.server);
    if (input.name !== undefined) info.backupName = input.name;
    input.log.info(`Starting backup '${plan.backupId}'${input.name ? ` (name '${input.name}')` : ''} of PostgreSQL ${plan.server.version} at ${plan.session.describe}, PGDATA ${plan.server.dataDirectory}`);
    const start = await plan.session.startBackup(`Barman backup cloud ${plan.backupId}`, input.immediateCheckpoint ?? false);
    this.backupStarted = true;
    const beginLsn = parseLsn(start.lsn);
    info.beginXlog = start.lsn;
    info.beginWal = lsnToSegmentName(beginLsn, start.timeline, plan.server.walSegmentSize);
    info.beginOffset = lsnSegmentOffset(beginLsn, plan.server.walSegmentSize);
    info.beginTime = PyDateTime.parse(start.time);
    info.timeline = start.timeline;
    info.status = BackupStatus.STARTED;
    input.log.info(`Backup start at LSN: ${start.lsn} (${info.beginWal}, ${hex8(info.beginOffset)})`);
  }

  /** A tar archive (data or a tablespace oid) whose volumes are uploaded as they fill. */
  private newArchive(name: string): TarArchiveWriter {
    const { plan, input } = this;
    const limiter = input.maxBandwidth ? new BandwidthLimiter(input.maxBandwidth) : undefined;
    const w = new TarArchiveWriter({
      maxArchiveSize: plan.maxArchiveSize,
      openVolume: (volume) => {
        const key = this.deps.layout.backupTarKey(plan.backupId, name, volume, plan.suffix);
        input.log.debug(`Uploading ${key}`);
        const pacer = plan.memory.pacer;
        return new VolumeSink({
          compressor: createTarCompressor(input.compression, input.compressionLevel, {
            limiter: this.compressionLimiter, blockSize: plan.memoryPlan.compressionBlock, outputChunk: plan.memoryPlan.compressionOutputChunk,
          }),
          limiter,
          upload: (body) => this.deps.store.put(key, body, plan.putOptions),
          // A compressor's output is garbage of its own; an uncompressed volume stores the very chunks it read,
          // which onProgress already counts (counted twice, the pacer collected every pacing/2 bytes).
          ...(pacer && input.compression !== 'none' ? { onStored: (n: number) => pacer.note(n) } : {}),
        });
      },
      onWarning: (code, m) => input.log.warning(code, m),
      onProgress: (n, member) => {
        plan.memory.pacer?.note(n);
        this.progress.bytesRead += n;
        this.progress.member = member;
        input.onProgress?.(this.progress);
      },
    });
    this.archives.set(name, w);
    return w;
  }

  private readonly progress: BackupProgress = { bytesRead: 0, totalEstimate: undefined, member: '', startedAt: Date.now() };

  private async copyTree(name: string, root: string, rules: PathRules, writer: TarArchiveWriter): Promise<void> {
    const t0 = Date.now();
    for await (const entry of walkTree(root, rules)) {
      if (this.input.signal?.aborted) throw this.input.signal.reason;
      await writer.addPath(entry);
    }
    this.timePerItem[name] = (Date.now() - t0) / 1000;
  }

  /** Tablespaces first (Barman's order), then PGDATA; up to `jobs` archives at once. */
  async copy(): Promise<void> {
    const { plan, input } = this;
    const { server } = plan;
    this.phase = 'uploading data';
    this.copyStart = Date.now();
    this.progress.totalEstimate = plan.totalEstimate;
    this.progress.startedAt = this.started;
    this.pgdataRoot = await realDir(server.dataDirectory);
    const dataWriter = this.dataWriter = this.newArchive('data');
    const tasks: (() => Promise<void>)[] = server.tablespaces.map((ts) => async () => {
      const w = this.newArchive(String(ts.oid));
      input.log.info(`Uploading tablespace '${ts.name}' (${ts.location}) as ${this.deps.layout.backupTarKey(plan.backupId, String(ts.oid), 0, plan.suffix)}`);
      await this.copyTree(String(ts.oid), await realDir(ts.location), tablespaceRules(server.majorVersion), w);
      await w.close();
    });
    tasks.push(async () => {
      input.log.info(`Uploading PGDATA ${server.dataDirectory} as ${this.deps.layout.backupTarKey(plan.backupId, 'data', 0, plan.suffix)}`);
      await this.copyTree('data', this.pgdataRoot, pgdataRules(server.dataDirectory, server.tablespaces), dataWriter);
      // pg_control last among the data files, so it is at least as new as every data block (Barman's order).
      await dataWriter.addPath({ name: 'global/pg_control', path: path.join(this.pgdataRoot, 'global', 'pg_control'), type: 'file' });
      await this.addConfigFiles(dataWriter);
    });
    // Fail fast: fail() aborts the other archives' uploads.
    await runPool(tasks, plan.memoryPlan.archivesAtOnce, (task) => task(), { failFast: true });
  }

  /** Configuration files outside PGDATA go into data.tar under their base names, as Barman does. */
  private async addConfigFiles(dataWriter: TarArchiveWriter): Promise<void> {
    const { server } = this.plan;
    for (const [label, file, optional] of [['config_file', server.configFile, false], ['hba_file', server.hbaFile, false], ['ident_file', server.identFile, true]] as const) {
      if (!file || file.startsWith(`${server.dataDirectory}/`) || file.startsWith(`${this.pgdataRoot}/`)) continue;
      const present = await fsp.stat(file).then(() => true, () => false);
      if (!present && optional) continue;
      this.input.log.info(`Uploading ${label} ${file} as ${path.basename(file)}`);
      if (!(await dataWriter.addPath({ name: path.basename(file), path: file, type: 'file' }, path.basename(file)))) {
        if (!optional) throw new PgstowError('ERR_BACKUP_FILE', 1, `${label} ${file} is missing`);
      }
    }
    for (const inc of server.includedFiles ?? []) {
      if (!inc.startsWith(`${server.dataDirectory}/`)) this.input.log.warning('WARN_CONFIG_OUTSIDE_PGDATA', `included configuration file ${inc} is outside PGDATA and is not backed up`);
    }
  }

  /** pg_backup_stop (waits for the last WAL of the backup to be archived), restore point, backup_label. */
  async stop(): Promise<void> {
    const { plan, input, info } = this;
    this.phase = 'stopping backup';
    input.log.info('Stopping backup: pg_backup_stop returns once the last WAL segment of the backup is archived');
    const stop = await plan.session.stopBackup();
    const endLsn = parseLsn(stop.lsn);
    info.endXlog = stop.lsn;
    info.endWal = lsnToSegmentName(endLsn, stop.timeline, plan.server.walSegmentSize);
    info.endOffset = lsnSegmentOffset(endLsn, plan.server.walSegmentSize);
    info.endTime = PyDateTime.parse(stop.time);
    info.backupLabel = stop.backupLabel;
    this.backupStarted = false;
    input.log.info(`Backup end at LSN: ${stop.lsn} (${info.endWal}, ${hex8(info.endOffset)})`);
    if (await plan.session.createRestorePoint(`barman_${plan.backupId}`)) input.log.info(`Restore point 'barman_${plan.backupId}' created`);
    this.phase = 'uploading data';
    // backup_label: the last member, with Barman's attributes (root-owned, gid of PGDATA, mtime 0).
    const pgdataStat = await fsp.stat(plan.server.dataDirectory);
    const dataT0 = Date.now();
    const dataWriter = this.dataWriter as TarArchiveWriter;
    await dataWriter.addBuffer({ name: 'backup_label', mode: 0o644, uid: 0, gid: pgdataStat.gid, uname: '', gname: '', mtime: 0 }, Buffer.from(stop.backupLabel, 'utf8'));
    await dataWriter.close();
    this.timePerItem.data = (this.timePerItem.data ?? 0) + (Date.now() - dataT0) / 1000;
  }

  /** The manifest, then backup.info with status DONE: the backup exists for readers only from here. */
  async finish(): Promise<TakeBackupResult> {
    const { plan, input, info, deps } = { plan: this.plan, input: this.input, info: this.info, deps: this.deps };
    const copyTime = (Date.now() - this.copyStart) / 1000;
    const objects: ManifestObject[] = [];
    for (const [name, w] of this.archives) for (const v of w.volumes) objects.push(manifestEntry(deps.layout, plan.backupId, name, plan.suffix, v));
    objects.sort((a, b) => (a.archive === b.archive ? a.volume - b.volume : a.archive === 'data' ? -1 : b.archive === 'data' ? 1 : Number(a.archive) - Number(b.archive)));
    const manifest: BackupManifest = {
      format: BACKUP_MANIFEST_FORMAT, version: BACKUP_MANIFEST_VERSION, backupId: plan.backupId, createdBy: `pgstow ${VERSION}`,
      compression: input.compression, createdAt: new Date().toISOString(), objects,
      // Bound both ways: the manifest says what backup.info must say, backup.info carries the manifest's sha256.
      backupInfo: {
        beginWal: info.beginWal as string, beginXlog: info.beginXlog as string, endWal: info.endWal as string,
        endXlog: info.endXlog as string, timeline: info.timeline as number, systemid: info.systemid,
      },
    };
    const manifestBytes = Buffer.from(serializeBackupManifest(manifest), 'utf8');
    await deps.store.put(deps.layout.backupManifestKey(plan.backupId), manifestBytes,
      { contentType: 'application/json', ...(input.tags ? { tags: input.tags } : {}), ...(input.signal ? { signal: input.signal } : {}) });
    info.copyStats = copyStats(this.timePerItem, (Date.now() - this.started) / 1000, copyTime, input.jobs ?? 2,
      createHash('sha256').update(manifestBytes).digest('hex'));
    info.status = BackupStatus.DONE;
    this.phase = 'uploading backup.info file';
    await putBackupInfo(deps.store, deps.layout, plan.backupId, info, input.tags);
    await cleanupAfterBackup(deps, plan.backupId, input.log, {
      removeFailed: input.removeFailed !== false, ...(input.garbageAgeMs !== undefined ? { olderThanMs: input.garbageAgeMs } : {}),
    }, input.signal);
    const tarBytes = objects.reduce((n, o) => n + o.tarSize, 0);
    const storedBytes = objects.reduce((n, o) => n + o.size, 0);
    return { backupId: plan.backupId, info, manifest, stats: { tarBytes, storedBytes, seconds: (Date.now() - this.started) / 1000, objects: objects.length } };
  }

  /** Aborts the uploads, writes backup.info FAILED with the phase and cause; returns the error to throw. */
  async fail(caught: unknown): Promise<unknown> {
    const { input, info, plan } = this;
    // An abort surfaces as a generic AbortError from whichever stream saw it first: report the signal's reason.
    const err: unknown = input.signal?.aborted ? input.signal.reason : caught;
    for (const w of this.archives.values()) w.abort(err);
    // No pg_backup_stop here: it could wait for WAL archiving forever. Closing the session (executeBackup's
    // finally) ends the non-exclusive backup on the server.
    if (this.backupStarted) input.log.debug('ending backup mode by closing the PostgreSQL session');
    if (info.status === BackupStatus.EMPTY) return err;
    const line = (errorMessage(err).trim().split('\n')[0] ?? '') || (err instanceof Error ? err.name : 'error');
    info.status = BackupStatus.FAILED;
    info.error = `failure ${this.phase} (${line})`;
    input.log.warning('WARN_BACKUP_FAILED', `Backup failed ${this.phase} (${line})`);
    try {
      await putBackupInfo(this.deps.store, this.deps.layout, plan.backupId, info, input.tags);
    } catch (e2) {
      input.log.warning('WARN_BACKUP_INFO_NOT_WRITTEN', `could not write the FAILED backup.info for ${plan.backupId}: ${errorMessage(e2)}`);
    }
    if (isPgstowError(err) && err.exitCode !== 1 && this.phase !== 'uploading data') return err;
    return new BackupFailedError(plan.backupId, this.phase, err);
  }
}

/** Barman's copy_stats: total, copy and per-item times. */
function copyStats(timePerItem: Record<string, number>, totalTime: number, copyTime: number, workers: number, manifestSha256: string): PyDict {
  const items = Object.keys(timePerItem).sort();
  const perItem = (f: (k: string) => number): PyDict => new PyDict(items.map((k) => [k, new PyFloat(round6(f(k)))] as const));
  const serialized = items.reduce((s, k) => s + (timePerItem[k] ?? 0), 0);
  return new PyDict([
    ['total_time', new PyFloat(round6(totalTime))],
    ['number_of_workers', workers],
    ['analysis_time', 0],
    ['analysis_time_per_item', new PyDict(items.map((k) => [k, 0] as const))],
    ['copy_time_per_item', perItem((k) => timePerItem[k] ?? 0)],
    ['serialized_copy_time_per_item', perItem((k) => timePerItem[k] ?? 0)],
    ['copy_time', new PyFloat(round6(copyTime))],
    ['serialized_copy_time', new PyFloat(round6(serialized))],
    [MANIFEST_SHA256_COPY_STAT, manifestSha256],
  ]);
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

function hex8(n: number): string {
  return n.toString(16).toUpperCase().padStart(8, '0');
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
