/**
 * Restore one base backup from a store into a data directory (barman-cloud-restore, spec §5), optionally
 * writing point-in-time recovery settings so the user only has to start PostgreSQL.
 *
 * Steps: resolve the backup (id, latest, name, auto) → refuse non-empty destinations → discover the tar
 * objects → download them with parallel ranged GETs and extract them as they stream (several objects at
 * once) → tablespace symlinks, pg_wal → recovery settings. Every downloaded object is checked against its
 * listed size and must be a complete tar (header checksums, end-of-archive marker, codec checksums); a
 * failure names the object.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { OperationError, PgstowError, UsageError, errorMessage } from '../errors.js';
import { IntegrityError, StorageError } from '../storage/errors.js';
import { readAll } from '../storage/object-store-helpers.js';
import { runPool } from '../concurrency.js';
import { pathExists } from './local-files.js';
import { isBackupIdText, loadCatalog, readBackupInfo, resolveBackupRef } from '../repository/backup-catalog.js';
import { BackupInfoError, type BackupInfo } from '../domain/backup/backup-info.js';
import { isCommonPrefix, type ObjectInfo, type ObjectStore } from '../storage/object-store.js';
import { parallelGet } from '../storage/parallel-get.js';
import type { BarmanLayout } from '../repository/barman-layout.js';
import { discoverBackupFiles, type BackupFile } from '../repository/backup-files.js';
import { BackupInfoFormatError, restoreInfoOf, type RestoreBackupInfo } from '../domain/recovery/restore-backup-info.js';
import { assertBackupReachesTarget, chooseBackupAuto, type AutoCriteria } from '../domain/recovery/backup-selection.js';
import { describeTarget, recoverySettings, type RecoveryPlan } from '../domain/recovery/recovery-target.js';
import { createTarDecompressor, lz4TarPieces } from '../pipeline/tar-decompress.js';
import { BACKUP_MANIFEST_NAME, parseBackupManifest, type ManifestBackupInfo } from '../domain/backup/backup-manifest.js';
import { unverifiedReasons } from './backup-verification.js';
import { memoryBudget, planRestore as planRestoreMemory, type MemoryBudget } from '../memory-budget.js';
import { extractTar } from '../pipeline/tar-extract.js';
import type { Logger } from '../logger.js';

export interface RestoreDeps {
  store: ObjectStore;
  layout: BarmanLayout;
  log: Logger;
  signal?: AbortSignal;
}

export interface RestoreInput {
  /** A backup id, latest/last/first/oldest/last-failed, a backup name, or "auto". */
  backupId: string;
  recoveryDir: string;
  /** --tablespace NAME:LOCATION rules. */
  tablespaceRelocations?: ReadonlyMap<string, string>;
  /** --target-time/--target-lsn/--target-tli for `auto`; "latest" TLI = highest timeline in the archive. */
  auto?: Omit<AutoCriteria, 'targetTli'> & { targetTli?: number | 'latest' };
  /** Restore a backup that cannot be verified (status not DONE, inconsistent backup.info, missing manifest), with warnings. */
  allowUnverified?: boolean;
  /** PITR settings to write (pgstow only). */
  recovery?: { plan: RecoveryPlan; restoreCommand: string };
  /** Objects downloaded at once (default 2, fewer when the memory budget allows fewer). */
  jobs?: number;
  /** Ranged GETs in flight per object and their size (default: from the memory budget). */
  streamsPerObject?: number;
  partSize?: number;
  /** The process's memory budget (default 100 MiB): ranges, write buffers and objects at once follow from it. */
  memory?: MemoryBudget;
  onProgress?: (p: { downloadedBytes: number; writtenBytes: number; totalBytes: number }) => void;
}

export interface RestoreResult {
  backup: RestoreBackupInfo;
  files: BackupFile[];
  /** Bytes downloaded (compressed size of the objects). */
  downloadedBytes: number;
  /** Bytes of file data written. */
  writtenBytes: number;
  members: number;
  seconds: number;
  tablespaces: Array<{ name: string; oid: number; location: string }>;
  /** The settings written to postgresql.auto.conf, when a recovery plan was given. */
  recoverySettings?: Array<[string, string]>;
}

/** What a restore will do, decided before anything is written: the backup, where each archive goes, what to check. */
export interface RestorePlan {
  backup: RestoreBackupInfo;
  /** server_version_num of the backup. */
  version: number;
  recoveryDir: string;
  tablespaces: Array<{ name: string; oid: number; location: string }>;
  /** base/<id>/ of the backup. */
  prefix: string;
  files: BackupFile[];
  /** pgstow-manifest.json: size and sha256 of every tar object (absent for barman-cloud backups). */
  manifest: Manifest | undefined;
  recovery?: RestoreInput['recovery'];
}

export async function restoreBackup(deps: RestoreDeps, input: RestoreInput): Promise<RestoreResult> {
  return executeRestore(deps, await planRestore(deps, input), input);
}

/**
 * Resolves the backup and checks everything that can be checked before writing: its status and version, the
 * recovery target, empty destinations, and (with a manifest) that every object is there with its size.
 */
export async function planRestore(deps: RestoreDeps, input: RestoreInput): Promise<RestorePlan> {
  const { store, layout, log } = deps;
  const backup = await resolveBackup(deps, input);
  log.info(`restoring backup ${backup.backupId}${backup.backupName ? ` (${backup.backupName})` : ''} of server ${layout.serverName} into ${input.recoveryDir}`);
  if (backup.snapshotsInfo) throw new OperationError('ERR_SNAPSHOT_BACKUP', `backup ${backup.backupId} is a cloud snapshot backup; pgstow restores tar backups only`);
  if (backup.version === undefined) throw new OperationError('ERR_BACKUP_INFO', `backup.info of backup ${backup.backupId} has no PostgreSQL version`);
  if (input.recovery) {
    if (backup.version < 120000) throw new UsageError(`recovery settings can be written for PostgreSQL 12 and later only (backup ${backup.backupId} is version ${backup.version})`);
    assertBackupReachesTarget(backup, input.recovery.plan.target);
  }
  const relocations = input.tablespaceRelocations ?? new Map<string, string>();
  for (const name of relocations.keys()) {
    if (!backup.tablespaces.some((t) => t.name === name)) log.warning('WARN_TABLESPACE_UNKNOWN', `--tablespace ${name}: backup ${backup.backupId} has no tablespace named ${name}`);
  }
  const recoveryDir = path.resolve(input.recoveryDir);
  const tablespaces = backup.tablespaces.map((t) => ({ ...t, location: path.resolve(relocations.get(t.name) ?? t.location) }));
  await assertEmptyDestination(recoveryDir);
  for (const t of tablespaces) await assertEmptyDestination(t.location, `tablespace ${t.name}`);

  const prefix = layout.backupPrefix(backup.backupId);
  const objects: ObjectInfo[] = [];
  for await (const e of store.list(prefix, { delimiter: '/', ...(deps.signal ? { signal: deps.signal } : {}) })) if (!isCommonPrefix(e)) objects.push(e);
  const { files, ignored } = discoverBackupFiles(prefix, objects, backup.tablespaces.map((t) => t.oid), backup.backupId);
  for (const k of ignored) log.warning('WARN_UNKNOWN_OBJECT', `ignoring ${k}: not a tar archive extension pgstow knows`);
  const manifestKey = `${prefix}${MANIFEST_NAME}`;
  const read = objects.some((o) => o.key === manifestKey) ? await readManifest(deps, manifestKey) : undefined;
  const manifest = read?.objects;
  const reasons = unverifiedReasons(backup, layout.backupInfoKey(backup.backupId), manifestKey, read && { key: manifestKey, sha256: read.sha256, summary: read.summary });
  if (reasons.length > 0 && !input.allowUnverified) {
    throw new OperationError('ERR_BACKUP_UNVERIFIED', `refusing to restore backup ${backup.backupId}: ${reasons.join('; ')} (--allow-unverified restores it anyway)`);
  }
  for (const r of reasons) log.warning('WARN_BACKUP_UNVERIFIED', `restoring backup ${backup.backupId} unverified (--allow-unverified): ${r}`);
  if (manifest) checkAgainstManifest(prefix, files, manifest, backup.backupId);
  else log.debug(`backup ${backup.backupId} has no ${MANIFEST_NAME} (made by barman-cloud?): checking sizes and tar integrity only`);
  const plan: RestorePlan = { backup, version: backup.version, recoveryDir, tablespaces, prefix, files, manifest };
  if (input.recovery) plan.recovery = input.recovery;
  return plan;
}

/** Writes the plan: archives downloaded and extracted, tablespace links, pg_wal, recovery settings. */
type ExtractInput = Pick<RestoreInput, 'jobs' | 'streamsPerObject' | 'partSize' | 'onProgress' | 'memory'>;

export async function executeRestore(deps: RestoreDeps, plan: RestorePlan, input: ExtractInput = {}): Promise<RestoreResult> {
  const started = Date.now();
  const created = [plan.recoveryDir, ...plan.tablespaces.map((t) => t.location)];
  for (const dir of created) await makeLeafDir(dir);
  try {
    const restoreOwners = process.getuid?.() === 0;
    const counts = await extractArchives(deps, plan, input, restoreOwners);
    const owner = await fsp.stat(plan.recoveryDir);
    await linkTablespaces(plan, restoreOwners ? owner : undefined);
    let settings: Array<[string, string]> | undefined;
    if (plan.recovery) {
      settings = recoverySettings(plan.recovery.plan, plan.recovery.restoreCommand);
      await writeRecoverySettings(plan.recoveryDir, settings, plan.backup.backupId, describeTarget(plan.recovery.plan.target), restoreOwners ? owner : undefined);
    }
    const result: RestoreResult = { backup: plan.backup, files: plan.files, ...counts, seconds: (Date.now() - started) / 1000, tablespaces: plan.tablespaces };
    if (settings) result.recoverySettings = settings;
    return result;
  } catch (err) {
    // A half-restored directory must not pass for a backup: empty what we wrote (they were empty before).
    for (const dir of created) await emptyDir(dir).catch(() => undefined);
    deps.log.warning('WARN_RESTORE_CLEANED', `restore failed; removed the partially restored files from ${created.join(', ')}`);
    throw err;
  }
}

/** Every tar object downloaded with ranged GETs and extracted as it streams, several objects at once. */
async function extractArchives(deps: RestoreDeps, plan: RestorePlan, input: ExtractInput,
  restoreOwners: boolean): Promise<{ downloadedBytes: number; writtenBytes: number; members: number }> {
  const { store } = deps;
  const targetOf = (f: BackupFile): string => f.base === 'data' ? plan.recoveryDir : (plan.tablespaces.find((t) => String(t.oid) === f.base) as { location: string }).location;
  const totalBytes = plan.files.reduce((n, f) => n + f.size, 0);
  const counts = { downloadedBytes: 0, writtenBytes: 0, members: 0 };
  const progress = (): void => input.onProgress?.({ downloadedBytes: counts.downloadedBytes, writtenBytes: counts.writtenBytes, totalBytes });
  const memory = input.memory ?? memoryBudget();
  const mem = planRestoreMemory(memory, { jobs: input.jobs ?? 2, objects: plan.files.length });
  const streams = input.streamsPerObject ?? mem.streams;
  const rangeSize = input.partSize ?? mem.rangeSize;
  deps.log.debug(`memory plan: ${mem.objectsAtOnce} object(s) at once, ${streams} range(s) of ${rangeSize} bytes each, ${mem.writeBuffer} bytes of pending writes`);
  await runPool(plan.files, mem.objectsAtOnce, async (f) => {
    deps.log.debug(`downloading ${f.key} (${f.size} bytes, ${f.compression}) into ${targetOf(f)}`);
    try {
      const hash = plan.manifest ? createHash('sha256') : undefined;
      // The pacer counts bytes allocated: uncompressed, the written bytes are the downloaded chunks themselves, and
      // lent chunks (read into the store's reused memory, ObjectStore.getPieces) none; lz4's are views of its
      // decoder's memory (copied into the file writer's reused buffers).
      const inflated = f.compression !== 'none' && f.compression !== 'lz4';
      let lent = false;
      const chunks = countBytes(parallelGet(store, f.key, {
        size: f.size, concurrency: streams, partSize: rangeSize, ...(deps.signal ? { signal: deps.signal } : {}),
        lend: LENDABLE.has(f.compression), pieceBytes: LENT_PIECE, onLent: (l) => { lent = l; },
      }), (c) => { hash?.update(c); counts.downloadedBytes += c.length; if (!lent) memory.pacer?.note(c.length); progress(); });
      const extracted = await decompressAndExtract(chunks, f.compression, () => lent, (tar, borrowed) => extractTar(tar, {
        root: targetOf(f), restoreOwners, onBytes: (n) => { counts.writtenBytes += n; if (inflated) memory.pacer?.note(n); }, writeBufferBytes: mem.writeBuffer,
        // Uncompressed, the tar's chunks are the download's (lent or not); decompressed, the decompressor's.
        borrowed: f.compression === 'none' ? () => lent : borrowed, ...(deps.signal ? { signal: deps.signal } : {}),
      }));
      counts.members += extracted.members;
      if (hash) checkDigest(store, plan, f, hash.digest('hex'));
    } catch (err) {
      throw objectError(store, f, err);
    }
  });
  return counts;
}

/**
 * The object's bytes through its decompressor into `extract`. Uncompressed, the downloaded chunks go to the
 * extractor as they are (lent by the store when it can): a stream between them only gathered them into new
 * buffers (one more copy of every byte on the main thread); lz4 decodes as the extractor pulls and lends it its
 * output (`borrowed`, see lz4TarPieces). The download is closed however extraction ends.
 */
async function decompressAndExtract<T>(chunks: AsyncGenerator<Buffer>, compression: BackupFile['compression'], lent: () => boolean,
  extract: (tar: AsyncIterable<Buffer>, borrowed: boolean) => Promise<T>): Promise<T> {
  if (compression === 'none' || compression === 'lz4') {
    const tar = compression === 'lz4' ? lz4TarPieces(chunks, lent) : chunks;
    try {
      return await extract(tar, compression === 'lz4');
    } finally {
      await tar.return(undefined);
      if (tar !== chunks) await chunks.return(undefined);
    }
  }
  let result: T | undefined;
  await pipeline(Readable.from(chunks, { objectMode: false }), createTarDecompressor(compression), async (tar: AsyncIterable<Buffer>) => {
    result = await extract(tar, false);
  });
  return result as T;
}

/**
 * Codecs whose objects are read as lent chunks: the extractor copies them, the lz4 decoder copies what it holds of
 * one before the next (lz4TarPieces). Not gzip: handed to node:zlib one at a time (the next at the write's
 * callback), inflate on the thread pool waited for the main thread between chunks: no less CPU and slower
 * restores (docs/performance.md, "Lent downloads").
 */
const LENDABLE: ReadonlySet<BackupFile['compression']> = new Set(['none', 'lz4']);

/**
 * Lent pieces of up to 256 KiB (the store's default is 64 KiB): when the restore falls behind the socket, one read
 * takes what the kernel holds, and the piece goes once through the download's layers, the hash and the tar parser
 * instead of four times. The file writer copies them into its slabs; the ring costs 1 MiB instead of 512 KiB.
 */
const LENT_PIECE = 256 * 1024;

function checkDigest(store: ObjectStore, plan: RestorePlan, f: BackupFile, got: string): void {
  const expected = plan.manifest?.get(f.key.slice(plan.prefix.length));
  if (expected && expected.sha256 !== got) {
    throw new IntegrityError({ provider: store.provider, operation: 'get', key: f.key },
      `backup object ${f.key} does not match what was uploaded: sha256 ${got}, the backup manifest records ${expected.sha256}`);
  }
}

/** Tablespace links and pg_wal, as barman-cloud-restore does after extraction. */
async function linkTablespaces(plan: RestorePlan, owner: { uid: number; gid: number } | undefined): Promise<void> {
  for (const t of plan.tablespaces) {
    // The tablespace tar has no root entry: give the location to PGDATA's owner as PostgreSQL needs it.
    if (owner) await fsp.chown(t.location, owner.uid, owner.gid);
    const link = path.join(plan.recoveryDir, 'pg_tblspc', String(t.oid));
    await fsp.mkdir(path.dirname(link), { recursive: true, mode: 0o700 });
    await fsp.rm(link, { force: true });
    await fsp.symlink(t.location, link);
    if (owner) await fsp.lchown(link, owner.uid, owner.gid);
  }
  const walDir = path.join(plan.recoveryDir, plan.version < 100000 ? 'pg_xlog' : 'pg_wal');
  if (!(await pathExists(walDir))) {
    await fsp.mkdir(walDir, { mode: 0o700 });
    if (owner) await fsp.chown(walDir, owner.uid, owner.gid);
  }
}

/** Parents with the default mode (others may need to traverse them), the directory itself private. */
async function makeLeafDir(dir: string): Promise<void> {
  await fsp.mkdir(path.dirname(dir), { recursive: true });
  await fsp.mkdir(dir, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'EEXIST') throw err; });
}

async function emptyDir(dir: string): Promise<void> {
  for (const e of await fsp.readdir(dir)) await fsp.rm(path.join(dir, e), { recursive: true, force: true });
}

async function resolveBackup(deps: RestoreDeps, input: RestoreInput): Promise<RestoreBackupInfo> {
  const { layout } = deps;
  let id = input.backupId;
  if (id === 'auto') {
    const catalog = await readCatalog(deps);
    const tli = input.auto?.targetTli === 'latest' ? await highestTimeline(deps) : input.auto?.targetTli;
    const criteria: AutoCriteria = {};
    if (input.auto?.targetTime) criteria.targetTime = input.auto.targetTime;
    if (input.auto?.targetLsn !== undefined) criteria.targetLsn = input.auto.targetLsn;
    if (tli !== undefined) criteria.targetTli = tli;
    const chosen = chooseBackupAuto(catalog, criteria);
    deps.log.info(`auto: chose backup ${chosen.backupId}, which ended at ${chosen.endTime?.text ?? '?'}`);
    return chosen;
  }
  if (!isBackupIdText(id)) {
    const refs = (await readCatalog(deps)).map((b) => ({ id: b.backupId, status: b.status, name: b.backupName }));
    id = resolveBackupRef(layout.serverName, refs, id, { latest: 'prefer-done' });
  }
  const read = await readBackupInfo(deps.store, layout, id, deps.signal).catch((err: unknown) => { throw asBackupInfoError(layout.backupInfoKey(id), err); });
  if (!read) throw new OperationError('ERR_BACKUP_NOT_FOUND', `backup ${id} does not exist for server ${layout.serverName} (no ${layout.backupInfoKey(id)} in ${deps.store.description})`);
  return restoreInfo(read.key, id, read.info);
}

function asBackupInfoError(key: string, err: unknown): unknown {
  return err instanceof BackupInfoError ? new OperationError('ERR_BACKUP_INFO', `cannot read ${key}: ${err.message}`) : err;
}

function restoreInfo(key: string, id: string, info: BackupInfo): RestoreBackupInfo {
  try {
    return restoreInfoOf(id, info);
  } catch (err) {
    if (err instanceof BackupInfoFormatError) throw new OperationError('ERR_BACKUP_INFO', `cannot read ${key}: ${err.message}`);
    throw err;
  }
}

/** The catalog (the repository's one reader) as restore sees it; unreadable backups are skipped with a warning, as Barman does. */
async function readCatalog(deps: RestoreDeps): Promise<RestoreBackupInfo[]> {
  const catalog = await loadCatalog(deps.store, deps.layout, deps.signal ? { signal: deps.signal } : {});
  for (const u of catalog.unreadable) deps.log.warning('WARN_BACKUP_UNREADABLE', `skipping backup ${u.id}: cannot read ${deps.layout.backupInfoKey(u.id)}: ${u.error}`);
  const out: RestoreBackupInfo[] = [];
  for (const b of catalog.backups) {
    try {
      out.push(restoreInfo(b.backupInfoKey, b.id, b.info));
    } catch (err) {
      if (err instanceof OperationError) deps.log.warning('WARN_BACKUP_UNREADABLE', `skipping backup ${b.id}: ${err.message}`);
      else throw err;
    }
  }
  return out;
}

/** Highest timeline with a history file (or 1) in the WAL archive, for --target-tli latest. */
async function highestTimeline(deps: RestoreDeps): Promise<number> {
  let max = 1;
  for await (const e of deps.store.list(deps.layout.walsPrefix, { delimiter: '/', ...(deps.signal ? { signal: deps.signal } : {}) })) {
    if (isCommonPrefix(e)) continue;
    const m = /([0-9A-F]{8})\.history(\.[a-z0-9]+)?$/i.exec(e.key);
    if (m) max = Math.max(max, parseInt(m[1] as string, 16));
  }
  return max;
}

async function assertEmptyDestination(dir: string, what = 'destination'): Promise<void> {
  let entries: string[];
  try {
    const st = await fsp.stat(dir);
    if (!st.isDirectory()) throw new OperationError('ERR_DESTINATION_NOT_EMPTY', `${what} ${dir} already exists and is not a directory`);
    entries = await fsp.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (entries.length > 0) throw new OperationError('ERR_DESTINATION_NOT_EMPTY', `${what} ${dir} already exists and it is not empty (refusing to overwrite it)`);
}

async function writeRecoverySettings(dir: string, settings: Array<[string, string]>, backupId: string, target: string, owner?: { uid: number; gid: number }): Promise<void> {
  const auto = path.join(dir, 'postgresql.auto.conf');
  let existing = '';
  try { existing = await fsp.readFile(auto, 'utf8'); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; }
  // Drop settings the backup carried that would fight ours (e.g. an old restore_command).
  const ours = new Set(settings.map(([k]) => k));
  const kept = existing.split('\n').filter((line) => {
    const m = /^\s*([a-z_]+)\s*=/.exec(line);
    return !(m && (ours.has(m[1] as string) || /^recovery_target/.test(m[1] as string)));
  }).join('\n').replace(/\n*$/, '\n');
  const block = [`# Recovery settings written by pgstow restore (backup ${backupId}, target: ${target})`, ...settings.map(([k, v]) => `${k} = ${v}`)].join('\n');
  await fsp.writeFile(auto, `${kept}${block}\n`, { mode: 0o600 });
  const signal = path.join(dir, 'recovery.signal');
  await fsp.writeFile(signal, '', { mode: 0o600 });
  if (owner) {
    await fsp.chown(auto, owner.uid, owner.gid);
    await fsp.chown(signal, owner.uid, owner.gid);
  }
}

function objectError(store: ObjectStore, f: BackupFile, err: unknown): PgstowError {
  if (err instanceof StorageError && err.key === f.key) return err;
  if (err instanceof PgstowError && err.code === 'ERR_CODEC') {
    return new IntegrityError({ provider: store.provider, operation: 'get', key: f.key, cause: err }, `backup object ${f.key} is damaged (corrupt or truncated): ${err.message}`);
  }
  if (err instanceof PgstowError) return new PgstowError(err.code, err.exitCode, `restoring ${f.key}: ${err.message}`, { cause: err });
  return new IntegrityError({ provider: store.provider, operation: 'get', key: f.key, cause: err },
    `backup object ${f.key} is damaged (corrupt or truncated): ${errorMessage(err)}`);
}

async function* countBytes(source: AsyncIterable<Buffer>, onChunk: (c: Buffer) => void): AsyncGenerator<Buffer> {
  for await (const c of source) { onChunk(c); yield c; }
}

/** pgstow backups carry base/<ID>/pgstow-manifest.json: size and sha256 of every tar object uploaded. */
const MANIFEST_NAME = BACKUP_MANIFEST_NAME;
type Manifest = Map<string, { size: number; sha256: string }>;

async function readManifest(deps: RestoreDeps, key: string): Promise<{ objects: Manifest; sha256: string; summary: ManifestBackupInfo | undefined }> {
  const bytes = await readAll(deps.store, key, deps.signal);
  try {
    const m = parseBackupManifest(bytes.toString('utf8'));
    return { objects: new Map(m.objects.map((o) => [o.name, { size: o.size, sha256: o.sha256 }])), sha256: createHash('sha256').update(bytes).digest('hex'), summary: m.backupInfo };
  } catch (err) {
    throw new IntegrityError({ provider: deps.store.provider, operation: 'get', key }, `backup manifest ${key} is unreadable: ${errorMessage(err)}`);
  }
}

/** Every object the manifest lists must be there with its size, and nothing unlisted may be restored. */
function checkAgainstManifest(prefix: string, files: readonly BackupFile[], manifest: Manifest, backupId: string): void {
  const present = new Map(files.map((f) => [f.key.slice(prefix.length), f]));
  for (const [name, m] of manifest) {
    const f = present.get(name);
    if (!f) throw new OperationError('ERR_BACKUP_INCOMPLETE', `backup ${backupId} is incomplete: ${prefix}${name} is listed in its manifest but missing from the store`);
    if (f.size !== m.size) {
      throw new OperationError('ERR_BACKUP_INCOMPLETE', `backup ${backupId}: ${prefix}${name} has ${f.size} bytes in the store but ${m.size} bytes were uploaded`);
    }
  }
  for (const name of present.keys()) {
    if (!manifest.has(name)) throw new OperationError('ERR_BACKUP_INCOMPLETE', `backup ${backupId}: ${prefix}${name} is not in the backup manifest (left over from another upload?)`);
  }
}
