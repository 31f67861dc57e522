/**
 * Archive one WAL file (archive_command), Barman-compatible, with three guarantees Barman lacks:
 *  - an object already stored for this WAL (under any compression suffix) with identical content makes the
 *    call succeed without writing; different content is refused (exit 1) and nothing is overwritten;
 *  - the upload is verified (size, and the content MD5 where the store reports one) before success;
 *  - with maxParallel N, up to N−1 other `.ready` files are uploaded at the same time and recorded in a
 *    spool, so PostgreSQL's later call for them returns at once. A spool marker is written only after a
 *    verified upload, so no segment is ever acknowledged without being stored.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { errorMessage, OperationError, PgstowError, UsageError } from '../errors.js';
import { parseWalFileName, type WalFileName } from '../domain/wal/wal-file-name.js';
import { WalSegmentChecker } from '../domain/wal/wal-segment-check.js';
import type { Codec } from '../pipeline/codecs.js';
import { memoryBudget, walFilesAtOnce, type MemoryBudget } from '../memory-budget.js';
import type { BytePacer } from '../gc-pacer.js';
import type { BarmanLayout } from '../repository/barman-layout.js';
import { BucketNotFoundError, IntegrityError, ObjectExistsError, StorageRequestError } from '../storage/errors.js';
import type { GetPieces, ObjectStore, PutResult, PutSource } from '../storage/object-store.js';
import { getPieces } from '../storage/parallel-get.js';
import type { SelfWritingBody } from '../storage/lean-http.js';
import { ensureSpoolDir, fileIdentity, readJson, sameIdentity, type FileIdentity } from './wal-spool.js';
import { writeFileAtomic } from './local-files.js';
import { WAL_MD5_METADATA } from './wal-verification.js';
import { assertReplaceable, existingCopies, judgeCopies, readCopy } from './archived-wal-copies.js';
import { silentLogger, type Logger } from '../logger.js';
import { compressWalFile } from './compressed-wal.js';

export interface ArchiveWalDeps {
  store: ObjectStore;
  layout: BarmanLayout;
  log?: Logger;
}

export interface ArchiveWalInput {
  /** Path of the WAL file (%p): relative to the working directory (PGDATA) or absolute. */
  walPath: string;
  codec?: Codec;
  level?: number;
  /** Tags for every WAL object; history files get historyTags instead when given (Barman). */
  tags?: Readonly<Record<string, string>>;
  historyTags?: Readonly<Record<string, string>>;
  /** Upload this file plus up to maxParallel − 1 other ready files (default 1: only this file). */
  maxParallel?: number;
  /** The process's memory budget; its pacer (when the process started one) hears of every WAL read. */
  memory?: MemoryBudget;
  /** Archive spool directory; required when maxParallel > 1, consulted whenever given. */
  spoolDir?: string;
  /**
   * Runs archive-ahead work beyond this call (a long-lived process): the call returns once its own file is
   * archived, and a later call for a file still uploading ahead waits for that upload instead of starting another.
   */
  background?: {
    run: BackgroundRun;
    /** Archive-ahead by spool directory (uploads running, slots, names answered): state of the long-lived caller. */
    ahead: Map<string, AheadState>;
  };
  /** Compare the stored ETag with the MD5 of the body when it looks like one (off for SSE-KMS, whose ETag is not an MD5). */
  verifyMd5?: boolean;
  signal?: AbortSignal;
}

export type ArchiveStatus = 'uploaded' | 'already-archived' | 'spooled';

export interface ArchivedWal {
  walName: string;
  key: string;
  status: ArchiveStatus;
  /** Bytes sent (0 unless uploaded). */
  bytes: number;
}

export interface ArchiveWalResult extends ArchivedWal {
  /** Other ready files uploaded by this call (maxParallel > 1). */
  extras: Array<ArchivedWal | { walName: string; error: PgstowError | Error }>;
}

interface SpoolMarker extends FileIdentity { key: string }

/** On a store that ignores create-only writes, the second look at what was stored waits this long (bounded). */
const MIN_SETTLE_MS = 100;
const MAX_SETTLE_MS = 3000;


export async function archiveWal(deps: ArchiveWalDeps, input: ArchiveWalInput): Promise<ArchiveWalResult> {
  const log = deps.log ?? silentLogger;
  const walName = path.basename(input.walPath);
  parseWalFileName(walName); // exit 3 on a bad name, before any I/O
  const maxParallel = Math.max(1, input.maxParallel ?? 1);
  const spoolDir = input.spoolDir;
  if (input.background && spoolDir) return archivePipelined(deps, input, walName, maxParallel, spoolDir, input.background);

  if (spoolDir) {
    const spooled = await consumeMarker(spoolDir, walName, input.walPath, log);
    if (spooled) return spooled;
  }
  const extrasNames = maxParallel > 1 && spoolDir ? await aheadNames(input, maxParallel - 1, spoolDir, new Set(), log) : [];
  const [main, ...others] = await Promise.allSettled([
    archiveOne(deps, input, input.walPath, log),
    ...extrasNames.map((name) => archiveAhead(deps, input, name, input.signal)),
  ]);
  const extras: ArchiveWalResult['extras'] = others.map((r, i) => (r.status === 'fulfilled' ? r.value : aheadFailed(log, extrasNames[i] as string, r.reason)));
  if (main === undefined || main.status === 'rejected') throw (main as PromiseRejectedResult).reason;
  return { ...main.value, extras };
}

/**
 * Archive-ahead of one spool directory in a long-lived process: state of the caller (one per engine), never of
 * this module.
 */
export interface AheadState {
  /** Uploads running ahead, by WAL name. */
  uploads: Map<string, Promise<unknown>>;
  /** Upload slots held by calls for their own file (reserved when the call starts unless its upload ahead runs). */
  ownSlots: number;
  /** WAL names Archive calls are answering now, and the last ones answered (PostgreSQL marks them done just after). */
  answering: Set<string>;
  answered: Set<string>;
  calls: number;
  /** When the last call ended (Date.now()): freed slots are refilled while calls come. */
  lastCallEnd: number;
  /** Uploads at once (this file's and those ahead) by the memory budget, as the last call computed it. */
  atOnce: number;
  /** What a refill uploads with: the last call's store, settings and background runner. */
  source?: { deps: ArchiveWalDeps; input: ArchiveWalInput; run: BackgroundRun };
  refilling?: Promise<void>;
  again: boolean;
  /** The engine refused background work (closing): no more refills. */
  closed: boolean;
  /**
   * The last call had to wait for an upload (its own upload ahead still running, or no upload ahead of it at all):
   * uploads, not PostgreSQL's calls, are the limit, and an upload ahead that ends starts the next at once. A call
   * answered from its marker without waiting clears it: the uploads are ahead of the calls, and starting more as
   * each ends only competes with the calls for the CPU (on Azurite under the load: 233 → 173 archived a minute).
   */
  behind: boolean;
}

type BackgroundRun = (work: (signal: AbortSignal) => Promise<unknown>) => Promise<unknown>;

function newAheadState(): AheadState {
  return { uploads: new Map(), ownSlots: 0, answering: new Set(), answered: new Set(), calls: 0, lastCallEnd: 0, atOnce: 1, again: false, closed: false, behind: false };
}

/**
 * While calls wait for uploads (AheadState.behind), an upload ahead that ends while a call is in progress, or within
 * this long after the last one ended, starts the next ready file at once: the slot does not wait for PostgreSQL's
 * next call (under load the uploads of one call ended together and the next batch started only with the next call,
 * a wave per batch). Beyond it (PostgreSQL no longer calling this plugin) nothing new starts.
 */
const REFILL_LINGER_MS = 2000;
/** Names of calls answered that a refill skips (PostgreSQL renames their `.ready` files right after each answer). */
const ANSWERED_KEPT = 64;

/**
 * Archive-ahead in a long-lived process: every call keeps up to `atOnce` uploads going (its own file's and the
 * next ready files'), then answers for its own file (waiting for exactly its upload ahead if one runs, or from its
 * spool marker, or by uploading it). Each upload ahead that ends starts the next ready file while calls come, so
 * uploads overlap PostgreSQL's calls instead of holding one of them.
 */
async function archivePipelined(deps: ArchiveWalDeps, input: ArchiveWalInput, walName: string, maxParallel: number, spoolDir: string,
  background: NonNullable<ArchiveWalInput['background']>): Promise<ArchiveWalResult> {
  const log = deps.log ?? silentLogger;
  const state = aheadStateOf(background.ahead, spoolDir);
  const started = Date.now();
  // Answering from now on: no refill starts this file ahead while the call looks at it.
  state.calls++;
  state.answering.add(walName);
  const own = state.uploads.get(walName);
  let slot = own === undefined;
  if (slot) state.ownSlots++;
  const aheadAtStart = state.uploads.size;
  // One stat serves the memory bound (the size) and the marker's check; with no upload ahead of this file its marker
  // (the usual answer under load) is read at the same time: a marker hit's file-system steps overlap.
  const identity = fileIdentity(input.walPath).catch(() => undefined);
  const marker = own === undefined ? readJson<SpoolMarker>(path.join(spoolDir, walName)) : undefined;
  let ok = false;
  try {
    // The memory budget bounds the uploads at once (this file's and those ahead), below wal.maxParallel when small.
    state.atOnce = walFilesAtOnce(input.memory ?? memoryBudget(), { maxParallel, segmentSize: segmentBytes(walName, await identity), compressed: input.codec !== undefined });
    state.source = { deps, input, run: background.run };
    void refill(state, spoolDir, log);
    // Waiting for its upload ahead means the uploads are the limit: say so before that upload ends, so its end
    // already starts the next ready file (set after the wait, the end still saw a marker hit's "not behind").
    if (own !== undefined) state.behind = true;
    // Its marker is written once its upload is verified; a failed one is simply archived again now.
    await own?.catch(() => undefined);
    const waited = Date.now() - started;
    const spooled = await consumeMarker(spoolDir, walName, input.walPath, log, { marker, identity });
    state.behind = own !== undefined || spooled === undefined;
    if (spooled) {
      log.debug(`answered ${walName} from its spool marker${own ? ` after waiting ${waited} ms for its upload ahead` : ''} (${aheadAtStart} uploading ahead at the call)`);
      ok = true;
      return spooled;
    }
    if (!slot) { slot = true; state.ownSlots++; }
    log.debug(`uploading ${walName} in its call (${aheadAtStart} uploading ahead at the call)`);
    const done = { ...(await archiveOne(deps, input, input.walPath, log)), extras: [] };
    ok = true;
    return done;
  } finally {
    if (slot) state.ownSlots--;
    state.calls--;
    state.answering.delete(walName);
    if (ok) remember(state.answered, walName);
    state.lastCallEnd = Date.now();
    if (slot && state.behind) void refill(state, spoolDir, log);
  }
}

function aheadStateOf(byDir: Map<string, AheadState>, spoolDir: string): AheadState {
  let s = byDir.get(spoolDir);
  if (!s) { s = newAheadState(); byDir.set(spoolDir, s); }
  return s;
}

function remember(names: Set<string>, name: string): void {
  names.delete(name);
  names.add(name);
  for (const old of names) { if (names.size <= ANSWERED_KEPT) break; names.delete(old); }
}

/**
 * Starts uploads ahead for the oldest ready files no call is answering and none is uploading, up to the free
 * slots. One refill at a time per spool (two would pick the same names); a request during one runs again after it.
 */
function refill(state: AheadState, spoolDir: string, log: Logger): Promise<void> {
  if (state.refilling) { state.again = true; return state.refilling; }
  const free = (): number => state.atOnce - state.uploads.size - state.ownSlots;
  const busy = (): Set<string> => new Set([...state.uploads.keys(), ...state.answering, ...state.answered]);
  const run = async (): Promise<void> => {
    do {
      state.again = false;
      const src = state.source;
      if (state.closed || !src || free() <= 0) return;
      const names = await aheadNames(src.input, free(), spoolDir, busy(), log);
      // Calls may have come meanwhile: they hold slots and names of their own.
      const now = busy();
      for (const name of names.filter((n) => !now.has(n)).slice(0, Math.max(0, free()))) startAhead(state, src, name, spoolDir, log);
    } while (state.again);
  };
  state.refilling = run().catch(() => undefined).finally(() => { state.refilling = undefined; });
  return state.refilling;
}

function startAhead(state: AheadState, src: NonNullable<AheadState['source']>, name: string, spoolDir: string, log: Logger): void {
  const upload = src.run((signal) => archiveAhead(src.deps, src.input, name, signal));
  state.uploads.set(name, upload);
  log.debug(`archiving ${name} ahead (${state.uploads.size} uploading ahead, ${state.ownSlots} in calls, at most ${state.atOnce} at once)`);
  const settled = (): void => { if (state.uploads.get(name) === upload) state.uploads.delete(name); };
  upload.then(() => {
    settled();
    // Its slot is free: while the calls wait for uploads, the next ready file starts now (a failure waits for a call).
    if (state.behind && (state.calls > 0 || Date.now() - state.lastCallEnd < REFILL_LINGER_MS)) void refill(state, spoolDir, log);
  }, (err: unknown) => {
    settled();
    if (err instanceof PgstowError && err.code === 'ERR_ENGINE_CLOSED') { state.closed = true; return; }
    aheadFailed(log, name, err);
  });
}

/** Size of the segments an archive-ahead uploads: this file's when it is one, else the default 16 MiB. */
function segmentBytes(walName: string, identity: FileIdentity | undefined): number {
  if (parseWalFileName(walName).kind !== 'segment') return DEFAULT_SEGMENT_BYTES;
  return identity?.size || DEFAULT_SEGMENT_BYTES;
}

const DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024;

/** Names of ready files to archive ahead besides the call's own (none when the spool directory is unusable: that must not fail the call). */
async function aheadNames(input: ArchiveWalInput, limit: number, spoolDir: string, skip: ReadonlySet<string>, log: Logger): Promise<string[]> {
  const walName = path.basename(input.walPath);
  const names = await readyFiles(input.walPath, walName, limit, spoolDir, skip);
  if (names.length === 0) return names;
  try {
    await ensureSpoolDir(spoolDir);
  } catch (err) {
    log.warning('WARN_SPOOL_UNUSABLE', `archiving ${walName} alone: cannot use the spool directory ${spoolDir}: ${(err as Error).message}`);
    return [];
  }
  log.debug(`archiving ${walName} with ${names.length} more ready file(s): ${names.join(', ')}`);
  return names;
}

/** Archives one other ready file and records it in the spool (only after a verified upload). */
async function archiveAhead(deps: ArchiveWalDeps, input: ArchiveWalInput, name: string, signal: AbortSignal | undefined): Promise<ArchivedWal> {
  const file = path.join(path.dirname(input.walPath), name);
  const identity = await fileIdentity(file);
  const done = await archiveOne(deps, { ...input, ...(signal ? { signal } : {}) }, file, deps.log ?? silentLogger);
  const marker: SpoolMarker = { ...identity, key: done.key };
  await writeFileAtomic(path.join(input.spoolDir as string, name), Buffer.from(JSON.stringify(marker)), { fsync: false });
  return done;
}

function aheadFailed(log: Logger, walName: string, err: unknown): { walName: string; error: Error } {
  log.warning('WARN_ARCHIVE_AHEAD_FAILED', `parallel archiving of ${walName} failed (PostgreSQL will retry it): ${(err as Error).message}`);
  return { walName, error: err as Error };
}

/**
 * A spool marker left by an earlier call that archived this file ahead: consumed; the call is done if it still
 * matches. `read`: the marker and the file's identity when the caller has started reading them already.
 */
async function consumeMarker(spoolDir: string, walName: string, walPath: string, log: Logger,
  read: { marker?: Promise<SpoolMarker | undefined>; identity?: Promise<FileIdentity | undefined> } = {}): Promise<ArchiveWalResult | undefined> {
  const file = path.join(spoolDir, walName);
  const marker = await (read.marker ?? readJson<SpoolMarker>(file));
  if (!marker) return undefined;
  const id = await (read.identity ?? fileIdentity(walPath).catch(() => undefined));
  // One unlink (rm looks first); a marker already gone is fine, one that cannot be removed fails the call as before.
  await fsp.unlink(file).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err; });
  if (id && sameIdentity(id, marker)) {
    log.info(`${walName} was already archived by an earlier parallel call (${marker.key})`);
    return { walName, key: marker.key, status: 'spooled', bytes: 0, extras: [] };
  }
  log.warning('WARN_SPOOL_STALE_MARKER', `ignoring a stale spool marker for ${walName}: the file changed since it was archived`);
  return undefined;
}

/** Up to `limit` names of other `.ready` files in pg_wal/archive_status, oldest (lexical) first. */
async function readyFiles(walPath: string, walName: string, limit: number, spoolDir: string, uploading: ReadonlySet<string>): Promise<string[]> {
  const statusDir = path.join(path.dirname(walPath), 'archive_status');
  let entries: string[];
  try { entries = await fsp.readdir(statusDir); } catch { return []; }
  const spooled = new Set(await fsp.readdir(spoolDir).catch(() => [] as string[]));
  const out: string[] = [];
  for (const e of entries.sort()) {
    if (!e.endsWith('.ready')) continue;
    const name = e.slice(0, -'.ready'.length);
    if (name === walName || spooled.has(name) || uploading.has(name)) continue;
    try { parseWalFileName(name); } catch { continue; }
    out.push(name);
    if (out.length >= limit) break;
  }
  return out;
}

/** Buckets created by this process, so parallel uploads create one once. */
const creating = new WeakMap<ObjectStore, Promise<void>>();

async function archiveOne(deps: ArchiveWalDeps, input: ArchiveWalInput, file: string, log: Logger): Promise<ArchivedWal> {
  try {
    return await archiveOneOnce(deps, input, file, log);
  } catch (err) {
    const { store } = deps;
    if (!(err instanceof BucketNotFoundError) || !store.createBucket) throw err;
    // Barman 3.4 creates a missing bucket in wal-archive: a new cluster's first WAL must not fail on it forever.
    let created = creating.get(store);
    if (!created) {
      created = store.createBucket(input.signal ? { signal: input.signal } : {});
      creating.set(store, created);
      log.info(`the bucket of ${store.description} did not exist: creating it`);
    }
    await created;
    return archiveOneOnce(deps, input, file, log);
  }
}

async function archiveOneOnce(deps: ArchiveWalDeps, input: ArchiveWalInput, file: string, log: Logger): Promise<ArchivedWal> {
  const { store, layout } = deps;
  const walName = path.basename(file);
  const kind = parseWalFileName(walName).kind;
  const codec = input.codec;
  const key = layout.walKey(walName, codec?.suffix ?? '');

  // One listing finds this WAL under every suffix (Barman would silently overwrite or add a second copy); the
  // local pass (and compression) runs meanwhile, since the WAL is almost never there yet.
  const listing = existingCopies(store, layout, walName, input.signal);
  listing.catch(() => undefined); // awaited below, after the local file's own error if it has one
  let prepared: Promise<UploadBody>;
  if (codec) {
    // Compressed as it is read (compressed-wal.ts): only the compressed bytes are held, hashed and sent.
    prepared = Promise.resolve(await compressedWal(file, walName, kind, codec, input));
  } else {
    // Uncompressed: no copy of the segment in memory. One read pass hashes and checks it, the upload streams
    // the file again (a 16 MiB Buffer per call was half the sidecar's CPU, in garbage collection). Where the
    // store computes the MD5 itself and refuses to overwrite, the upload hashes what it sends instead (no pass).
    prepared = Promise.resolve(await (store.capabilities.conditionalCreate && (store.capabilities.computedMd5UpTo ?? 0) > 0
      ? headWal(file, walName, kind, store.capabilities.computedMd5UpTo as number, input.memory?.pacer)
      : scanWal(file, walName, kind, input.memory?.pacer)));
  }
  const upload = async (replace: boolean, callInput: ArchiveWalInput = input): Promise<ArchivedWal> => {
    let body = await prepared;
    let stored: string;
    try {
      stored = await uploadVerified(store, key, body, kind, callInput, replace);
    } catch (err) {
      if (!(err instanceof IntegrityError) || body.md5 !== undefined) throw err;
      // Hashed as it was sent, and the store's MD5 differs: it stored damaged bytes, in an object this call created
      // (create-only) or is replacing. Replace them at once with an upload that carries its MD5 and the record.
      log.warning('WARN_WAL_DAMAGED_REPLACED', `${key} in ${store.description} was stored damaged (${err.message}): uploading it again`);
      body = await scanWal(file, walName, kind, input.memory?.pacer);
      stored = await uploadVerified(store, key, body, kind, callInput, true);
    }
    if (body.identity && !sameIdentity(body.identity, await fileIdentity(file).catch(() => ({ dev: -1, ino: -1, size: -1, mtimeMs: -1 })))) {
      // PostgreSQL never writes a segment it has marked ready; a file that changed between the two reads was not
      // archived as one consistent copy.
      throw new OperationError('ERR_WAL_READ', `WAL file ${file} changed while it was being archived; this WAL is not acknowledged`);
    }
    log.info(`archived ${walName} to ${key} (${body.size} bytes${codec ? `, ${codec.name}` : ''})`);
    return { walName, key: stored, status: 'uploaded', bytes: body.size };
  };
  const streamed = await prepared;
  const { done, existing } = streamed.endGate
    ? await uploadWhileListing(listing, key, streamed.endGate, input, (callInput) => upload(false, callInput))
    : await uploadAfterListing(listing, key, () => upload(false));
  if (done) return done;
  // Rare: the store already holds this WAL. Comparing contents needs the local bytes.
  return settleExisting(deps, input, walName, file, await readWal(file), existing, key, upload);
}

/** The listing first, then (when it found no copy) the create-only upload. */
async function uploadAfterListing(listing: Promise<string[]>, key: string, upload: () => Promise<ArchivedWal>): Promise<{ done?: ArchivedWal; existing: string[] }> {
  const existing = await listing;
  if (existing.length > 0) return { existing };
  try {
    return { done: await upload(), existing };
  } catch (err) {
    // Another archiver stored it between our listing and our write: judge its content like any copy.
    if (!(err instanceof ObjectExistsError)) throw err;
    return { existing: [...existing, key] };
  }
}

/**
 * A file streamed from disk is uploaded while the listing runs (its round trip is no longer before the upload),
 * but its last bytes wait for the listing: the object can be complete only once the listing found no copy of
 * this WAL. If it found one, or failed, the upload is aborted before its end and the store keeps nothing of it.
 */
async function uploadWhileListing(listing: Promise<string[]>, key: string, gate: EndGate, input: ArchiveWalInput,
  upload: (callInput: ArchiveWalInput) => Promise<ArchivedWal>): Promise<{ done?: ArchivedWal; existing: string[] }> {
  const stop = new AbortController();
  gate.open = listing.then((keys) => keys.length === 0, () => false);
  void gate.open.then((go) => { if (!go) stop.abort(); });
  const signal = input.signal ? AbortSignal.any([input.signal, stop.signal]) : stop.signal;
  let outcome: { done: ArchivedWal } | { err: unknown };
  try {
    outcome = await upload({ ...input, signal }).then((done) => ({ done }), (err: unknown) => ({ err }));
  } finally {
    gate.open = undefined; // a later upload of this body (replacing a damaged copy) is not held back
  }
  const existing = await listing; // its own failure first: the upload was stopped because of it
  if ('done' in outcome) return { done: outcome.done, existing };
  if (outcome.err instanceof ObjectExistsError) return { existing: existing.includes(key) ? existing : [...existing, key] };
  if (existing.length > 0 && !input.signal?.aborted) return { existing }; // stopped by us: the copies found are judged
  throw outcome.err;
}

/** What one upload sends: bytes in memory (compressed) or a stream of the file, with its size and MD5. */
interface UploadBody {
  body: PutSource;
  size: number;
  /** The MD5 of the bytes, known before the upload; absent when the upload computes it (sentMd5). */
  md5?: Buffer;
  /** The MD5 of the bytes the last attempt of the upload sent, once the store has answered it. */
  sentMd5?: () => Buffer;
  /** For a streamed file: its identity when it was hashed, checked again after the upload. */
  identity?: FileIdentity;
  /** For a streamed file: its last bytes are read only once `open` says so (uploadWhileListing). */
  endGate?: EndGate;
  /** What a read-back is compared with: the bytes sent, or the file they were streamed from. */
  local: Buffer | string | readonly Buffer[];
}

/** Holds back the last bytes of a file streamed to the store until `open` resolves: true reads them, false fails the read. */
interface EndGate { size: number; open?: Promise<boolean> }

/** Chunk of the local read passes (the hashing pass reuses one buffer; the upload stream reads this much at once). */
const READ_CHUNK = 256 * 1024;

function walReadError(file: string, err: unknown): OperationError {
  const code = (err as NodeJS.ErrnoException).code;
  return new OperationError('ERR_WAL_READ', `cannot read WAL file ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { cause: err });
}

async function readWal(file: string): Promise<Buffer> {
  try {
    return await fsp.readFile(file);
  } catch (err) {
    throw walReadError(file, err);
  }
}

async function compressedWal(file: string, walName: string, kind: WalFileName['kind'], codec: Codec, input: ArchiveWalInput): Promise<UploadBody> {
  const checker = kind === 'segment' || kind === 'partial' ? new WalSegmentChecker(walName.slice(0, 24), { firstPageOnly: true }) : undefined;
  let body: UploadBody;
  try {
    const c = await compressWalFile(file, codec, input.level, (chunk) => checker?.update(chunk), input.memory?.pacer);
    body = { body: c.body, size: c.size, md5: c.md5, identity: c.identity, local: c.chunks };
  } catch (err) {
    if (err instanceof PgstowError) throw err;
    throw walReadError(file, err);
  }
  const problem = checker?.finish();
  if (problem !== undefined) throw new UsageError(`refusing to archive ${file}: it is not WAL segment ${walName}: ${problem}`);
  return body;
}

/**
 * For a store that computes the MD5 of what it stores and answers with it: the file's first chunk is read and
 * checked (a file that is not this segment is refused before anything is sent), and the upload streams the file
 * hashing each read as it goes, so no pass over the file precedes the upload. A file larger than what the store
 * hashes in one request gets the pass (scanWal).
 */
async function headWal(file: string, walName: string, kind: WalFileName['kind'], hashedUpTo: number, pacer?: BytePacer): Promise<UploadBody> {
  let fh: fsp.FileHandle;
  try { fh = await fsp.open(file, 'r'); } catch (err) { throw walReadError(file, err); }
  let identity: FileIdentity;
  try {
    const st = await fh.stat();
    identity = { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
    if (st.size <= hashedUpTo && (kind === 'segment' || kind === 'partial')) {
      const head = Buffer.allocUnsafe(Math.min(READ_CHUNK, st.size));
      const { bytesRead } = await fh.read(head, 0, head.length, 0);
      const checker = new WalSegmentChecker(walName.slice(0, 24), { firstPageOnly: true });
      checker.update(head.subarray(0, bytesRead));
      const problem = checker.finishAt(st.size);
      if (problem !== undefined) throw new UsageError(`refusing to archive ${file}: it is not WAL segment ${walName}: ${problem}`);
    }
  } catch (err) {
    if (err instanceof PgstowError) throw err;
    throw walReadError(file, err);
  } finally {
    await fh.close();
    pacer?.note(READ_CHUNK); // the first chunk's buffer is garbage now
  }
  if (identity.size > hashedUpTo || (kind !== 'segment' && kind !== 'partial')) return scanWal(file, walName, kind, pacer);
  const size = identity.size;
  const endGate: EndGate = { size };
  // Each attempt (a retry reopens the body) hashes what it reads; the last attempt is the one the store answered.
  let last: { hash: ReturnType<typeof createHash>; bytes: number } | undefined;
  const body = (): Readable => {
    const attempt = { hash: createHash('md5'), bytes: 0 };
    last = attempt;
    return fileStream(file, (chunk) => { attempt.hash.update(chunk); attempt.bytes += chunk.length; }, endGate, pacer);
  };
  const sentMd5 = (): Buffer => {
    // Fewer bytes hashed than the store acknowledged: what it holds cannot be compared with what was read.
    if (last === undefined || last.bytes !== size) throw new OperationError('ERR_WAL_READ', `WAL file ${file} changed while it was being archived; this WAL is not acknowledged`);
    return last.hash.digest();
  };
  return { body, size, sentMd5, identity, local: file, endGate };
}

/**
 * One pass over the local file through one reused buffer: its MD5 (sent with the upload and checked against what
 * the store holds) and, for a segment, the segment check. The upload then streams the file.
 */
async function scanWal(file: string, walName: string, kind: WalFileName['kind'], pacer?: BytePacer): Promise<UploadBody> {
  let fh: fsp.FileHandle;
  try { fh = await fsp.open(file, 'r'); } catch (err) { throw walReadError(file, err); }
  try {
    const st = await fh.stat();
    const identity: FileIdentity = { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
    const checker = kind === 'segment' || kind === 'partial' ? new WalSegmentChecker(walName.slice(0, 24), { firstPageOnly: true }) : undefined;
    const hash = createHash('md5');
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    let size = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      hash.update(chunk);
      checker?.update(chunk);
      size += bytesRead;
    }
    const problem = checker?.finish();
    if (problem !== undefined) throw new UsageError(`refusing to archive ${file}: it is not WAL segment ${walName}: ${problem}`);
    const endGate: EndGate = { size };
    return { body: () => fileStream(file, () => undefined, endGate, pacer), size, md5: hash.digest(), identity, local: file, endGate };
  } catch (err) {
    if (err instanceof PgstowError) throw err;
    throw walReadError(file, err);
  } finally {
    await fh.close();
    pacer?.note(READ_CHUNK); // its buffer is garbage now (with the uploads' reads reused, few notes pace collections)
  }
}

/**
 * A stream of the file for one upload attempt. Its errors also reach a listener of its own: a store that stopped
 * reading it (an upload aborted because the listing found a copy, whose last read then fails) must not leave an
 * unhandled 'error' that ends the process; a consumer still reading gets every error as before. `seen` hears every
 * chunk read (the MD5 as sent); a chunk of the stream's own is then noted to the pacer.
 *
 * A lean store's request writes it with writeInto instead (lean-http.ts, SelfWritingBody): the file is read into
 * LENT_SLOTS reused buffers, each read again once the request has written it. A 256 KiB Buffer per read is fresh
 * memory (under the sidecar's MALLOC_MMAP_THRESHOLD_ a mapping of its own, faulted in page by page, then
 * collected): a 16 MiB PUT on loopback took 26–30 ms of CPU streamed against 13 with reused buffers.
 */
function fileStream(file: string, seen: (chunk: Buffer) => void, gate: EndGate, pacer?: BytePacer): Readable & SelfWritingBody {
  const stream = fs.createReadStream(file, { highWaterMark: READ_CHUNK, fs: observedReads((chunk) => { seen(chunk); pacer?.note(chunk.length); }, gate) })
    .on('error', () => undefined);
  const writeInto = (dest: Writable): Promise<void> => {
    stream.destroy(); // not read: its descriptor is closed
    return writeFileInto(file, dest, seen, gate, pacer);
  };
  return Object.assign(stream, { writeInto });
}

/** Buffers a file's upload reads into when it writes itself (one being read while the others are written). */
const LENT_SLOTS = 3;

/**
 * Writes the file into `dest` and ends it, reading into LENT_SLOTS buffers of READ_CHUNK, each reused only once its
 * write is done (the request holds a chunk until then). A read error (or the gate closed) rejects: the body failed.
 * A request that failed or was answered early (its write fails or it is destroyed) just stops the reads: the
 * request reports its own outcome.
 */
async function writeFileInto(file: string, dest: Writable, seen: (chunk: Buffer) => void, gate: EndGate, pacer?: BytePacer): Promise<void> {
  const fh = await fsp.open(file, 'r');
  try {
    const free: Buffer[] = Array.from({ length: LENT_SLOTS }, () => Buffer.allocUnsafeSlow(READ_CHUNK));
    let wake: (() => void) | undefined;
    let destFailed = false;
    // A request destroyed before it had a socket never calls back the writes it holds: its close ends the wait.
    const closed = (): void => { destFailed = true; const w = wake; wake = undefined; w?.(); };
    dest.once('close', closed);
    let total = 0;
    try {
      for (;;) {
        while (free.length === 0 && !destFailed) await new Promise<void>((resolve) => { wake = resolve; });
        if (destFailed || dest.destroyed) return;
        const slot = free.pop() as Buffer;
        const { bytesRead } = await fh.read(slot, 0, slot.length, null);
        if (bytesRead === 0) break;
        const chunk = slot.subarray(0, bytesRead);
        seen(chunk);
        total += bytesRead;
        const open = gate.open;
        if (total >= gate.size && open && !(await open)) throw gateClosed();
        dest.write(chunk, (err) => {
          if (err) destFailed = true; else free.push(slot);
          const w = wake;
          wake = undefined;
          w?.();
        });
      }
      if (!dest.destroyed) dest.end();
    } finally {
      dest.off('close', closed);
    }
  } finally {
    await fh.close();
    // The slots are garbage once the upload ends: noted, they die young (unnoted, nothing in this path paces
    // collections any more, and the sidecar's peak RSS rose 94 → 102 MiB under the load).
    pacer?.note(LENT_SLOTS * READ_CHUNK);
  }
}

const gateClosed = (): Error => Object.assign(new Error('the upload was stopped before its last bytes: this WAL is already in the store'), { code: 'ECANCELED' });

/**
 * The read stream's file system with every chunk read shown to `seen` before the stream has it (the pacer: a chunk
 * is garbage once the request has written it, and collected young, by a scavenge, instead of piling up until V8
 * runs a full collection for Buffer memory: a full one per ~50 MB of chunks under the archive load was a quarter of
 * the sidecar's time, and its peak RSS). With `gate`, the read that reaches the file's size waits for gate.open.
 */
function observedReads(seen: (chunk: Buffer) => void, gate?: EndGate): { open: typeof fs.open; close: typeof fs.close; read: typeof fs.read } {
  let total = 0;
  const read = (fd: number, buffer: NodeJS.ArrayBufferView, offset: number, length: number, position: fs.ReadPosition | null,
    callback: (err: NodeJS.ErrnoException | null, bytesRead: number, buffer: NodeJS.ArrayBufferView) => void): void => {
    fs.read(fd, buffer, offset, length, position, (err, bytesRead, buf) => {
      if (!err && bytesRead > 0) seen(Buffer.from(buf.buffer, buf.byteOffset + offset, bytesRead));
      total += err ? 0 : bytesRead;
      const open = gate?.open;
      if (err || !open || total < gate.size) { callback(err, bytesRead, buf); return; }
      void open.then((go) => (go ? callback(null, bytesRead, buf)
        : callback(gateClosed(), 0, buf)));
    });
  };
  return { open: fs.open, close: fs.close, read: read as typeof fs.read };
}

/** The store already holds this WAL: identical is done, different is a conflict, damaged is replaced. */
async function settleExisting(deps: ArchiveWalDeps, input: ArchiveWalInput, walName: string, file: string, data: Buffer, keys: string[],
  wantedKey: string, upload: (replace: boolean) => Promise<ArchivedWal>): Promise<ArchivedWal> {
  const { store } = deps;
  const log = deps.log ?? silentLogger;
  const copies = [];
  for (const k of keys) copies.push(await readCopy(store, k, walName, input.signal));
  const verdict = judgeCopies(store, walName, file, data, copies);
  if (verdict.kind === 'identical') {
    log.info(`${walName} is already archived with identical content (${keys.join(', ')}); not rewriting it`);
    return { walName, key: keys.includes(wantedKey) ? wantedKey : keys[0] as string, status: 'already-archived', bytes: 0 };
  }
  // Damage, not a conflict: a store crash left a partial object, or its bytes changed. Replace it only with a
  // valid segment; restore would otherwise pick the damaged copy (a compressed one wins over an uncompressed one).
  assertReplaceable(store, walName, file, data, verdict.damaged);
  for (const d of verdict.damaged) log.warning('WARN_WAL_DAMAGED_REPLACED', `${d.key} in ${store.description} is damaged (${d.damage}): replacing it with ${file}`);
  const done = verdict.keep !== undefined
    ? { walName, key: verdict.keep, status: 'already-archived' as const, bytes: 0 }
    : await upload(verdict.damaged.some((d) => d.key === wantedKey));
  const stale = verdict.damaged.map((d) => d.key).filter((k) => k !== done.key);
  if (stale.length > 0) await store.delete(stale, input.signal ? { signal: input.signal } : {});
  return done;
}

/**
 * Uploads one WAL object create-only (or replacing a damaged one) with its MD5 in the metadata, and makes sure
 * the stored object is ours before success. Returns the key.
 */
async function uploadVerified(store: ObjectStore, key: string, upload: UploadBody, kind: WalFileName['kind'], input: ArchiveWalInput, replace: boolean): Promise<string> {
  const { body, size } = upload;
  const tags = kind === 'history' && input.historyTags && Object.keys(input.historyTags).length ? input.historyTags : input.tags;
  const started = Date.now();
  const put = await store.put(key, body, {
    contentLength: size,
    // What restore checks the download against (Barman ignores user metadata). Hashed as sent: the store records
    // the MD5 it computed (ObjectInfo.md5), which restore checks instead.
    ...(upload.md5 ? { md5: upload.md5, metadata: { [WAL_MD5_METADATA]: upload.md5.toString('hex') } } : {}),
    // Create-only wherever the store supports it (AWS, MinIO, Ceph, moto, Azure, GCS): of two archivers of one
    // WAL name, one gets ObjectExistsError instead of both succeeding and one copy being lost.
    ifAbsent: !replace,
    ...(tags && Object.keys(tags).length ? { tags } : {}),
    ...(input.signal ? { signal: input.signal } : {}),
  });
  // A store that may ignore the condition may have let a concurrent writer replace our object: then only a
  // fresh read of what is stored, not our put's answer, says whether the WAL is archived.
  const trustPut = store.capabilities.conditionalCreate || replace;
  const md5 = upload.md5 ?? (upload.sentMd5 as () => Buffer)();
  // A compressed WAL's chunks sent are garbage once the upload (and its read-back) is done: let the pacer collect
  // them then (a file streamed from disk had each read noted as it happened: observedReads).
  const sent = typeof body === 'function' && typeof upload.local !== 'string' ? size : 0;
  if (trustPut) {
    input.memory?.pacer?.note(sent);
    await verifyUpload(store, key, size, md5.toString('hex'), put, input.verifyMd5 !== false, input.signal, upload.md5 === undefined);
  } else {
    // No stat of the object first: the read-back below checks everything it would (the size, the MD5 recorded
    // with the object, which this path always sends) and every byte, after the settle wait, which only the
    // read-back has. (It cost a HEAD per segment on s3rver, in the sidecar and in the store.)
    // A concurrent put still in flight when we looked lands later, and a store that ignores create-only writes may
    // even interleave two writes into one object: once it would have landed, read back the whole object and compare
    // it byte for byte with what was sent (as it streams: no copy of the segment in memory; a compare costs a
    // fraction of an MD5 pass, which was a sixth of the sidecar's CPU per call on such a store).
    await sleep(Math.min(MAX_SETTLE_MS, Math.max(MIN_SETTLE_MS, 1.5 * (Date.now() - started))), input.signal);
    const back = await readBack(store, key, upload.local, input.signal, input.memory?.pacer);
    input.memory?.pacer?.note(sent);
    const ours = md5.toString('hex');
    // The metadata too: such a store may pair our bytes with the MD5 another writer recorded (restore refuses that).
    if (back.differsAt !== undefined || back.size !== size || (back.recorded !== undefined && back.recorded !== ours)) {
      if (typeof upload.local === 'string' && upload.identity && !sameIdentity(upload.identity, await fileIdentity(upload.local).catch(() => ({ dev: -1, ino: -1, size: -1, mtimeMs: -1 })))) {
        throw new OperationError('ERR_WAL_READ', `WAL file ${upload.local} changed while it was being archived; this WAL is not acknowledged`);
      }
      const what = back.differsAt !== undefined ? `its bytes differ from ours at offset ${back.differsAt}` : `${back.size} bytes, ours ${size}`;
      throw new OperationError('ERR_WAL_CONFLICT',
        `${key} in ${store.description} no longer holds what this upload sent (${what}; recorded MD5 ${back.recorded ?? 'none'}, ours ${ours}): `
        + 'another server archived this WAL at the same time and this store does not enforce create-only writes; this WAL is not acknowledged', { details: { key } });
    }
  }
  return key;
}

/**
 * Reads a stored object whole and compares it as it streams with `local` (the bytes sent, or the file they were
 * streamed from, read again through one reused READ_CHUNK window). Returns the stored size, the first offset where
 * the bytes differ (undefined when every byte read matches) and the MD5 recorded in its metadata. Each piece is
 * compared before the next is asked for, so the store may lend them (ObjectStore.getPieces: S3 on plain HTTP reads
 * into a few reused buffers): 16 MiB of fresh Buffers per segment, and the young collections that freed them, were
 * a tenth of the sidecar's CPU per segment on s3rver.
 */
async function readBack(store: ObjectStore, key: string, local: UploadBody['local'], signal?: AbortSignal, pacer?: BytePacer): Promise<{ size: number; differsAt?: number; recorded?: string }> {
  let size = 0;
  let differsAt: number | undefined;
  let recorded: string | undefined;
  const ours = typeof local === 'string' ? await LocalWindow.open(local) : Array.isArray(local) ? new SentChunks(local) : local as Buffer;
  let body: GetPieces;
  try {
    body = await getPieces(store, key, { ...(signal ? { signal } : {}), onInfo: (info) => { recorded = info.metadata?.[WAL_MD5_METADATA]?.toLowerCase(); } });
  } catch (err) {
    if (ours instanceof LocalWindow) await ours.close();
    throw err;
  }
  try {
    // Leaving the loop (a failure, an abort) ends the iteration: the body's connection is closed.
    for await (const chunk of body.pieces) {
      signal?.throwIfAborted();
      if (differsAt === undefined) {
        const at = ours instanceof LocalWindow || ours instanceof SentChunks ? await ours.differs(chunk, size) : differsIn(ours.subarray(size, size + chunk.length), chunk);
        if (at !== undefined) differsAt = size + at;
      }
      size += chunk.length;
      // A chunk of its own is garbage once compared (unpaced: +16 MB peak in the sidecar); a lent one is reused.
      if (!body.lent) pacer?.note(chunk.length);
    }
    // The lent pieces' ring, and the local window, are garbage once the compare ends.
    pacer?.note((body.lent ? LENT_RING_BYTES : 0) + (ours instanceof LocalWindow ? READ_CHUNK : 0));
  } catch (err) {
    if (err instanceof PgstowError || signal?.aborted) throw err;
    throw new StorageRequestError({ provider: store.provider, operation: 'get', key, cause: err }, `reading ${key} back failed after ${size} bytes: ${errorMessage(err)}`);
  } finally {
    if (ours instanceof LocalWindow) await ours.close();
  }
  return { size, ...(differsAt !== undefined ? { differsAt } : {}), ...(recorded !== undefined ? { recorded } : {}) };
}

/** What a download of lent pieces holds (the S3 driver's raw-get.ts: 8 slots of 64 KiB), noted to the pacer at its end. */
const LENT_RING_BYTES = 512 * 1024;

/** The local file read sequentially through one buffer, for comparing the chunks of a download with it. */
class LocalWindow {
  private readonly buf = Buffer.allocUnsafe(READ_CHUNK);
  private start = 0;
  private end = 0;

  private constructor(private readonly file: string, private readonly fh: fsp.FileHandle) {}

  static async open(file: string): Promise<LocalWindow> {
    try { return new LocalWindow(file, await fsp.open(file, 'r')); } catch (err) { throw walReadError(file, err); }
  }

  /** Offset within `chunk` (which starts at `offset` of the object) of its first byte that differs from the file. */
  async differs(chunk: Buffer, offset: number): Promise<number | undefined> {
    let done = 0;
    while (done < chunk.length) {
      const at = offset + done;
      if (at < this.start || at >= this.end) {
        let bytesRead: number;
        try { ({ bytesRead } = await this.fh.read(this.buf, 0, this.buf.length, at)); } catch (err) { throw walReadError(this.file, err); }
        if (bytesRead === 0) return done; // the stored object is longer than the file
        [this.start, this.end] = [at, at + bytesRead];
      }
      const n = Math.min(chunk.length - done, this.end - at);
      const diff = differsIn(this.buf.subarray(at - this.start, at - this.start + n), chunk.subarray(done, done + n));
      if (diff !== undefined) return done + diff;
      done += n;
    }
    return undefined;
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/** The compressed bytes sent, kept as the compressor's chunks, for comparing the chunks of a download with them. */
class SentChunks {
  private index = 0;
  /** Offset in the object where chunks[index] begins (a download's chunks come in order). */
  private start = 0;

  constructor(private readonly chunks: readonly Buffer[]) {}

  /** Offset within `chunk` (which starts at `offset` of the object) of its first byte that differs from what was sent. */
  differs(chunk: Buffer, offset: number): number | undefined {
    let done = 0;
    while (done < chunk.length) {
      const at = offset + done;
      while (this.index < this.chunks.length && at >= this.start + (this.chunks[this.index] as Buffer).length) {
        this.start += (this.chunks[this.index] as Buffer).length;
        this.index++;
      }
      const ours = this.chunks[this.index];
      if (ours === undefined) return done; // the stored object is longer than what was sent
      const n = Math.min(chunk.length - done, this.start + ours.length - at);
      const diff = differsIn(ours.subarray(at - this.start, at - this.start + n), chunk.subarray(done, done + n));
      if (diff !== undefined) return done + diff;
      done += n;
    }
    return undefined;
  }
}

/** Index of the first byte where `ours` and `theirs` differ (a shorter `ours` differs at its end), if any. */
function differsIn(ours: Buffer, theirs: Buffer): number | undefined {
  if (ours.length === theirs.length && ours.equals(theirs)) return undefined;
  return firstDifference(ours, theirs);
}

function firstDifference(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

/**
 * Confirms the stored object has the size and content of what was sent: the MD5 the store reported in its put
 * response (S3's single-PUT ETag, Azure's Content-MD5, GCS's md5Hash) settles it without another request;
 * otherwise (no such answer, or `put` undefined because the store may not have enforced create-only) one stat: the
 * MD5 recorded in the metadata, the MD5 the store computed (Azure, GCS) or, on S3, the ETag when it is an MD5.
 */
async function verifyUpload(store: ObjectStore, key: string, size: number, md5: string, put: PutResult | undefined, etagIsMd5: boolean, signal?: AbortSignal,
  storeMd5Needed = false): Promise<void> {
  if (put?.md5 !== undefined) {
    if (put.md5.toLowerCase() === md5) return;
    throw new IntegrityError({ provider: store.provider, operation: 'put', key }, `upload of ${key} could not be verified: stored MD5 ${put.md5} differs from ${md5}`);
  }
  const info = await store.stat(key, signal ? { signal } : {});
  const etag = info.etag?.replace(/"/g, '');
  const storedMd5 = info.metadata?.[WAL_MD5_METADATA] ?? info.md5 ?? (etagIsMd5 && etag && /^[0-9a-f]{32}$/i.test(etag) ? etag : undefined);
  const mismatch = info.size !== size ? `${info.size} bytes stored, ${size} sent`
    : storedMd5 !== undefined && storedMd5.toLowerCase() !== md5 ? `stored MD5 ${storedMd5.toLowerCase()} differs from ${md5}`
      // Hashed as sent, with no MD5 recorded with it: only the store's own says what it holds.
      : storeMd5Needed && info.md5 === undefined ? 'the store reports no MD5 for it' : undefined;
  if (mismatch === undefined) return;
  if (put !== undefined) throw new IntegrityError({ provider: store.provider, operation: 'put', key }, `upload of ${key} could not be verified: ${mismatch}`);
  // The store may not have enforced create-only: what it holds now is another archiver's copy.
  throw new OperationError('ERR_WAL_CONFLICT',
    `${key} in ${store.description} is not what this upload sent (${mismatch}): another server archived this WAL at the same time `
    + '(two servers archive to the same destination and server name, and this store does not enforce create-only writes); '
    + 'this WAL is not acknowledged', { details: { key } });
}
