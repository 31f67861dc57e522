/**
 * Restore one WAL file (restore_command), Barman-compatible: finds the object under any compression
 * suffix (Barman's candidate order, plus the `.partial` fallback), decodes it by suffix (magic bytes as a
 * fallback for unsuffixed objects) and makes the destination appear atomically (temp + fsync + rename).
 *
 * With maxParallel N it also prefetches the next N−1 segments of the same timeline into a spool
 * (atomic renames); a later call for a spooled segment is served locally. A prefetch that finds a segment
 * missing leaves a "not in archive" marker for that exact timeline+segment only (user-pain 16), honoured
 * once and only while fresh.
 */
import { once } from 'node:events';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { Readable, Transform, type Duplex } from 'node:stream';
import { OperationError, PgstowError, errorMessage } from '../errors.js';
import { selectWalCandidate, type WalCandidate } from '../domain/wal/wal-candidates.js';
import {
  assertSegmentSize, nextSegmentName, parseWalFileName, type WalFileName,
} from '../domain/wal/wal-file-name.js';
import { CODECS, CodecError, codecForSuffix, detectCodec } from '../pipeline/codecs.js';
import type { BarmanLayout } from '../repository/barman-layout.js';
import { StorageRequestError, StorageUnavailableError } from '../storage/errors.js';
import { isCommonPrefix, type ObjectStore } from '../storage/object-store.js';
import { moveFileAtomic, pathExists, writeFileAtomic } from './local-files.js';
import { ensureSpoolDir, readJson } from './wal-spool.js';
import { silentLogger, type Logger } from '../logger.js';
import { WalDownloadCheck } from './wal-verification.js';
import type { BytePacer } from '../gc-pacer.js';
import { memoryBudget, walDownloadCost, type MemoryBudget } from '../memory-budget.js';
import { ByteLimiter } from '../pipeline/task-limiter.js';

const SUFFIXES = Object.values(CODECS).map((c) => c.suffix);
/** Bytes the destination file queues before it applies backpressure (they are the download's own chunks). */
const WRITE_QUEUE_BYTES = 256 * 1024;
/** How long a "not in archive" marker from a prefetch is trusted. */
export const MISSING_MARKER_TTL_MS = 10_000;

export interface RestoreWalDeps {
  store: ObjectStore;
  layout: BarmanLayout;
  log?: Logger;
  /**
   * The process's GC pacer (MemoryBudget.pacer), told of every WAL byte written: in a long-lived process the
   * 64 KiB chunks of each segment otherwise pile up until V8 runs a full collection for their memory, ~1.5 per
   * segment (measured, issue 15).
   */
  pacer?: BytePacer;
  /** Downloads at once (this WAL and its prefetches) while their costs fit: by default the budget's buffers, per call. */
  downloads?: ByteLimiter;
}

export interface RestoreWalInput {
  walName: string;
  /** Destination path (%p), relative to the working directory or absolute. */
  destPath: string;
  /** Barman --no-partial. */
  noPartial?: boolean;
  /** Fetch this WAL and prefetch the next maxParallel − 1 segments (default 1). */
  maxParallel?: number;
  spoolDir?: string;
  /** WAL segment size in bytes; otherwise learned from the first restored segment (cached in the spool). */
  segmentSize?: number;
  /** How long a prefetch's "not in archive" marker is trusted (default MISSING_MARKER_TTL_MS). */
  missingMarkerTtlMs?: number;
  /** The process's budget (default 100 MiB): how many downloads decode at once (memory-budget.ts). */
  memory?: MemoryBudget;
  signal?: AbortSignal;
}

export interface RestoreWalResult {
  walName: string;
  /** The object restored, or "spool" when served from the prefetch spool. */
  source: string;
  bytes: number;
  partial: boolean;
  prefetched: string[];
}

/** "WAL file … does not exist": exit 1, what PostgreSQL expects at the end of the archive. */
export class WalNotFoundError extends OperationError {
  constructor(walName: string, where: string) {
    super('ERR_WAL_NOT_FOUND', `WAL file ${walName} does not exist in ${where}`);
  }
}
WalNotFoundError.prototype.name = 'WalNotFoundError';

export async function restoreWal(deps: RestoreWalDeps, input: RestoreWalInput): Promise<RestoreWalResult> {
  deps = { ...deps, downloads: deps.downloads ?? new ByteLimiter((input.memory ?? memoryBudget()).buffers) };
  const log = deps.log ?? silentLogger;
  const wal = parseWalFileName(input.walName); // exit 3 before any I/O
  const maxParallel = Math.max(1, input.maxParallel ?? 1);
  const spoolDir = input.spoolDir;
  const where = `${deps.store.description} (${deps.layout.walsPrefix})`;

  if (spoolDir) {
    const spooled = await restoreFromSpool(spoolDir, wal.name, input.destPath, log);
    if (spooled) return spooled;
    const marker = path.join(spoolDir, `${wal.name}.missing`);
    const seen = await readJson<{ at: number }>(marker);
    if (seen) {
      await fsp.rm(marker, { force: true });
      if (Date.now() - seen.at < (input.missingMarkerTtlMs ?? MISSING_MARKER_TTL_MS)) {
        log.info(`${wal.name} was not in the archive ${Date.now() - seen.at} ms ago (prefetch); not asking again`);
        throw new WalNotFoundError(wal.name, where);
      }
    }
  }

  let segmentSize = input.segmentSize ?? (spoolDir ? await cachedSegmentSize(spoolDir) : undefined);
  const wantPrefetch = maxParallel > 1 && spoolDir !== undefined && wal.kind === 'segment';
  const prefetchNow = wantPrefetch && segmentSize !== undefined;
  const prefetches = prefetchNow ? startPrefetch(deps, wal, maxParallel - 1, segmentSize as number, spoolDir as string, log) : undefined;

  let restored: { candidate: WalCandidate; bytes: number };
  try {
    const candidate = await findWal(deps, wal.name, input.noPartial === true, input.signal);
    if (!candidate) throw new WalNotFoundError(wal.name, where);
    const bytes = await download(deps, candidate, input.destPath, wal, segmentSize, input.signal, true);
    restored = { candidate, bytes };
  } catch (err) {
    await prefetches?.catch(() => undefined);
    throw err;
  }
  if (restored.candidate.partial) log.info(`restored ${wal.name} from its partial segment ${restored.candidate.key}`);
  else log.info(`restored ${wal.name} from ${restored.candidate.key}`);

  let prefetched: string[] = [];
  if (prefetches) prefetched = await prefetches;
  else if (wantPrefetch && !restored.candidate.partial && isSegmentSize(restored.bytes)) {
    segmentSize = restored.bytes;
    prefetched = await startPrefetch(deps, wal, maxParallel - 1, segmentSize, spoolDir as string, log, true);
  }
  return { walName: wal.name, source: restored.candidate.key, bytes: restored.bytes, partial: restored.candidate.partial, prefetched };
}

/**
 * Serves `walName` from the prefetch spool when a prefetch put it there (it was checked as it downloaded);
 * undefined otherwise. Needs no store: restore_command calls it before opening one (cli/commands/wal-restore.ts).
 */
export async function restoreFromSpool(spoolDir: string, walName: string, destPath: string, log: Logger = silentLogger): Promise<RestoreWalResult | undefined> {
  const spooled = path.join(spoolDir, walName);
  if (!(await pathExists(spooled))) return undefined;
  const st = await fsp.stat(spooled);
  await moveFileAtomic(spooled, destPath);
  log.info(`restored ${walName} from the prefetch spool`);
  return { walName, source: 'spool', bytes: st.size, partial: false, prefetched: [] };
}

function isSegmentSize(n: number): boolean {
  try { assertSegmentSize(n); return true; } catch { return false; }
}

async function cachedSegmentSize(spoolDir: string): Promise<number | undefined> {
  const text = await fsp.readFile(path.join(spoolDir, 'segment-size'), 'utf8').catch(() => undefined);
  const n = text === undefined ? NaN : Number(text);
  return isSegmentSize(n) ? n : undefined;
}

/** Lists `<dir><walName>*` once and applies Barman's candidate rules across every codec suffix. */
export async function findWal(deps: RestoreWalDeps, walName: string, noPartial: boolean, signal?: AbortSignal): Promise<WalCandidate | undefined> {
  const dir = deps.layout.walDir(walName);
  const keys: string[] = [];
  for await (const entry of deps.store.list(dir + walName, { delimiter: '/', ...(signal ? { signal } : {}) })) if (!isCommonPrefix(entry)) keys.push(entry.key);
  return selectWalCandidate(walName, dir, keys, { suffixes: SUFFIXES, noPartial });
}

/**
 * Downloads, decodes and checks one WAL object into `dest` (temp file + rename): the file appears only when the
 * bytes are what was archived (WalDownloadCheck); otherwise DamagedWalError names the object and the reason.
 */
async function download(deps: RestoreWalDeps, c: WalCandidate, dest: string, wal: WalFileName, segmentSize: number | undefined, signal?: AbortSignal,
  asked = false): Promise<number> {
  const cost = walDownloadCost(c.suffix ? codecForSuffix(c.suffix)?.name : undefined);
  // The WAL PostgreSQL asked for goes ahead of the prefetches waiting for memory.
  if (deps.downloads) return deps.downloads.run(cost, () => downloadNow(deps, c, dest, wal, segmentSize, signal), { first: asked });
  return downloadNow(deps, c, dest, wal, segmentSize, signal);
}

async function downloadNow(deps: RestoreWalDeps, c: WalCandidate, dest: string, wal: WalFileName, segmentSize: number | undefined, signal?: AbortSignal): Promise<number> {
  const { store, pacer } = deps;
  const check = new WalDownloadCheck(store.provider, c.key, wal, c.partial);
  const raw = await store.get(c.key, { onInfo: check.onInfo, ...(signal ? { signal } : {}) });
  let received = 0;
  try {
    const { source, stages } = await decoder(raw, c);
    // Raw bytes (as stored: MD5) first, then the decoded bytes (as PostgreSQL gets them: the segment checks);
    // one tap for both when nothing decodes: each stage costs a call per ~16 KiB chunk (TLS record). Joining
    // the chunks into larger ones first cost more memory (+17-25 MB RSS at 256 KiB-1 MiB) than it saved CPU.
    const checks = stages.length === 0
      ? [tap((b) => { received += b.length; check.raw(b); check.decoded(b); pacer?.note(b.length); })]
      : [tap((b) => { received += b.length; check.raw(b); }), ...stages, tap((b) => { check.decoded(b); pacer?.note(b.length); })];
    // The file takes up to WRITE_QUEUE_BYTES before it pushes back: chunks waiting while a write runs go out in
    // one writev, not one write per ~16 KiB TLS record (16 MiB: -10-20 ms CPU measured, issue 15).
    return await writeFileAtomic(dest, source, { check: () => check.verify(segmentSize), stages: checks, highWaterMark: WRITE_QUEUE_BYTES, ...(signal ? { signal } : {}) });
  } catch (err) {
    raw.destroy();
    // A codec refusing the bytes is damage (exit 128), unless the download itself broke off first.
    if (err instanceof CodecError && !signal?.aborted) check.damaged(err.message, err);
    throw downloadError(store, c.key, received, err, signal);
  }
}

function tap(fn: (chunk: Buffer) => void): Transform {
  return new Transform({ transform(chunk: Buffer, _enc, cb) { fn(chunk); cb(null, chunk); } });
}

/**
 * A failure while the object streams in: one line naming the object and how far it got, exit 4 as Barman's
 * (a body that breaks off is not "the store cannot be reached", exit 2, which is for requests that never got an
 * answer). Damaged content keeps its own error (DamagedWalError). Still retryable when the cause is.
 */
function downloadError(store: ObjectStore, key: string, received: number, err: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return signal.reason ?? err;
  if (err instanceof PgstowError && !(err instanceof StorageUnavailableError)) return err;
  const reason = err instanceof StorageUnavailableError && err.cause !== undefined ? errorMessage(err.cause) : errorMessage(err);
  // The SDKs' own words ("aborted", "socket timed out") do not say which store: name it.
  const where = reason.includes(store.description) ? '' : ` (${store.description})`;
  return new StorageRequestError({ provider: store.provider, operation: 'get', key, cause: err, retryable: true },
    `downloading ${key} failed after ${received} bytes: ${reason}${where}`);
}

/**
 * The decompressor the object needs, by suffix; an unsuffixed object that starts with a codec's magic bytes is
 * decoded too (its first chunk is read to tell, then put back in front, so the raw tap still sees every byte).
 */
async function decoder(raw: Readable, c: WalCandidate): Promise<{ source: Readable; stages: Duplex[] }> {
  const codec = c.suffix ? codecForSuffix(c.suffix) : undefined;
  if (codec) return { source: raw, stages: [codec.createDecompressor()] };
  const sniffed = detectCodec(await peek(raw));
  return { source: raw, stages: sniffed ? [sniffed.createDecompressor()] : [] };
}

/**
 * The first bytes of `raw`, left in the stream (unshift): the object is then read as it comes, with no
 * generator in between (an await per chunk).
 */
async function peek(raw: Readable): Promise<Buffer> {
  const first = raw.read() as Buffer | null ?? (await once(raw, 'readable'), raw.read() as Buffer | null);
  if (first === null) return Buffer.alloc(0); // 'readable' with nothing to read: the end of an empty object
  raw.unshift(first);
  return first;
}

/** Fetches the next `count` segments into the spool concurrently; returns the names now spooled. */
async function startPrefetch(deps: RestoreWalDeps, wal: WalFileName, count: number, segmentSize: number, spoolDir: string, log: Logger,
  recordSegmentSize = false): Promise<string[]> {
  // The spool only saves time: an unusable one must never fail the restore PostgreSQL asked for.
  try {
    await ensureSpoolDir(spoolDir);
  } catch (err) {
    log.warning('WARN_SPOOL_UNUSABLE', `not prefetching: cannot use the spool directory ${spoolDir}: ${(err as Error).message}`);
    return [];
  }
  if (recordSegmentSize) await fsp.writeFile(path.join(spoolDir, 'segment-size'), String(segmentSize)).catch(() => undefined);
  const names: string[] = [];
  let name = wal.name;
  for (let i = 0; i < count; i++) { name = nextSegmentName(name, segmentSize); names.push(name); }
  const results = await Promise.allSettled(names.map(async (n) => {
    const target = path.join(spoolDir, n);
    if (await pathExists(target)) return n;
    const c = await findWal(deps, n, true);
    if (!c) {
      await fsp.writeFile(path.join(spoolDir, `${n}.missing`), JSON.stringify({ at: Date.now() })).catch(() => undefined);
      return undefined;
    }
    await download(deps, c, target, parseWalFileName(n), segmentSize);
    return n;
  }));
  const done: string[] = [];
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') { if (r.value) done.push(r.value); }
    else log.warning('WARN_PREFETCH_FAILED', `prefetch of ${names[i]} failed (it will be fetched on demand): ${(r.reason as Error).message}`);
  });
  if (done.length) log.debug(`prefetched ${done.join(', ')}`);
  return done;
}
