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
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { OperationError, PgstowError, UsageError } from '../errors.js';
import { parseWalFileName } from '../domain/wal/wal-file-name.js';
import { walSegmentProblem } from '../domain/wal/wal-segment-check.js';
import { CODECS, codecForSuffix, type Codec } from '../pipeline/codecs.js';
import type { BarmanLayout } from '../repository/barman-layout.js';
import { IntegrityError, ObjectExistsError } from '../storage/errors.js';
import { isCommonPrefix, type ObjectStore, type PutResult } from '../storage/object-store.js';
import { readAll } from '../storage/object-store-helpers.js';
import { ensureSpoolDir, fileIdentity, readJson, sameIdentity, type FileIdentity } from './wal-spool.js';
import { writeFileAtomic } from './local-files.js';
import { WAL_MD5_METADATA } from './wal-verification.js';
import { silentLogger, type Logger } from '../logger.js';

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
  /** Archive spool directory; required when maxParallel > 1, consulted whenever given. */
  spoolDir?: string;
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

export async function archiveWal(deps: ArchiveWalDeps, input: ArchiveWalInput): Promise<ArchiveWalResult> {
  const log = deps.log ?? silentLogger;
  const walName = path.basename(input.walPath);
  parseWalFileName(walName); // exit 3 on a bad name, before any I/O
  const maxParallel = Math.max(1, input.maxParallel ?? 1);
  const spoolDir = input.spoolDir;

  if (spoolDir) {
    const marker = await readJson<SpoolMarker>(path.join(spoolDir, walName));
    if (marker) {
      const id = await fileIdentity(input.walPath).catch(() => undefined);
      await fsp.rm(path.join(spoolDir, walName), { force: true });
      if (id && sameIdentity(id, marker)) {
        log.info(`${walName} was already archived by an earlier parallel call (${marker.key})`);
        return { walName, key: marker.key, status: 'spooled', bytes: 0, extras: [] };
      }
      log.warning('WARN_SPOOL_STALE_MARKER', `ignoring a stale spool marker for ${walName}: the file changed since it was archived`);
    }
  }

  let extrasNames = maxParallel > 1 && spoolDir ? await readyFiles(input.walPath, walName, maxParallel - 1, spoolDir) : [];
  if (extrasNames.length > 0) {
    // Archiving ahead only saves time: an unusable spool must never fail the WAL PostgreSQL asked for.
    try {
      await ensureSpoolDir(spoolDir as string);
    } catch (err) {
      log.warning('WARN_SPOOL_UNUSABLE', `archiving ${walName} alone: cannot use the spool directory ${spoolDir as string}: ${(err as Error).message}`);
      extrasNames = [];
    }
  }
  if (extrasNames.length > 0) {
    log.debug(`archiving ${walName} with ${extrasNames.length} more ready file(s): ${extrasNames.join(', ')}`);
  }
  const walDirOnDisk = path.dirname(input.walPath);
  const [main, ...others] = await Promise.allSettled([
    archiveOne(deps, input, input.walPath, log),
    ...extrasNames.map(async (name) => {
      const file = path.join(walDirOnDisk, name);
      const identity = await fileIdentity(file);
      const done = await archiveOne(deps, input, file, log);
      const marker: SpoolMarker = { ...identity, key: done.key };
      await writeFileAtomic(path.join(spoolDir as string, name), Buffer.from(JSON.stringify(marker)), { fsync: false });
      return done;
    }),
  ]);
  const extras: ArchiveWalResult['extras'] = others.map((r, i) => {
    if (r.status === 'fulfilled') return r.value;
    const walName = extrasNames[i] as string;
    log.warning('WARN_ARCHIVE_AHEAD_FAILED', `parallel archiving of ${walName} failed (PostgreSQL will retry it): ${(r.reason as Error).message}`);
    return { walName, error: r.reason as Error };
  });
  if (main === undefined || main.status === 'rejected') throw (main as PromiseRejectedResult).reason;
  return { ...main.value, extras };
}

/** Up to `limit` names of other `.ready` files in pg_wal/archive_status, oldest (lexical) first. */
async function readyFiles(walPath: string, walName: string, limit: number, spoolDir: string): Promise<string[]> {
  const statusDir = path.join(path.dirname(walPath), 'archive_status');
  let entries: string[];
  try { entries = await fsp.readdir(statusDir); } catch { return []; }
  const spooled = new Set(await fsp.readdir(spoolDir).catch(() => [] as string[]));
  const out: string[] = [];
  for (const e of entries.sort()) {
    if (!e.endsWith('.ready')) continue;
    const name = e.slice(0, -'.ready'.length);
    if (name === walName || spooled.has(name)) continue;
    try { parseWalFileName(name); } catch { continue; }
    out.push(name);
    if (out.length >= limit) break;
  }
  return out;
}

async function archiveOne(deps: ArchiveWalDeps, input: ArchiveWalInput, file: string, log: Logger): Promise<ArchivedWal> {
  const { store, layout } = deps;
  const walName = path.basename(file);
  const kind = parseWalFileName(walName).kind;
  let data: Buffer;
  try {
    data = await fsp.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new OperationError('ERR_WAL_READ', `cannot read WAL file ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { cause: err });
  }
  if (kind === 'segment' || kind === 'partial') {
    // PostgreSQL only ever archives whole segments: anything else is the wrong file, and must not become "WAL".
    const problem = walSegmentProblem(walName.slice(0, 24), data, { firstPageOnly: true });
    if (problem !== undefined) throw new UsageError(`refusing to archive ${file}: it is not WAL segment ${walName}: ${problem}`);
  }
  const codec = input.codec;
  const key = layout.walKey(walName, codec?.suffix ?? '');

  // One listing finds this WAL under every suffix (Barman would silently overwrite or add a second copy);
  // compression runs meanwhile, since the WAL is almost never there yet.
  const compressing = codec ? codec.compress(data, input.level) : Promise.resolve(data);
  compressing.catch(() => undefined); // awaited below; avoid an unhandled rejection if the listing fails first
  const existing = await existingCopies(store, layout, walName, input.signal);
  if (existing.length > 0) return compareExisting(deps, walName, file, data, existing, key, input.signal);

  const body = await compressing;
  const md5 = createHash('md5').update(body).digest();
  const tags = kind === 'history' && input.historyTags && Object.keys(input.historyTags).length ? input.historyTags : input.tags;
  let put: PutResult;
  try {
    put = await store.put(key, body, {
      contentLength: body.length, md5,
      // What restore checks the download against (Barman ignores user metadata).
      metadata: { [WAL_MD5_METADATA]: md5.toString('hex') },
      ifAbsent: store.capabilities.conditionalCreate,
      ...(tags && Object.keys(tags).length ? { tags } : {}),
      ...(input.signal ? { signal: input.signal } : {}),
    });
  } catch (err) {
    // Another archiver stored it between our listing and our write: judge its content like any copy.
    if (err instanceof ObjectExistsError) return compareExisting(deps, walName, file, data, [key], key, input.signal);
    throw err;
  }
  await verifyUpload(store, key, body.length, md5.toString('hex'), put, input.verifyMd5 !== false, input.signal);
  log.info(`archived ${walName} to ${key} (${body.length} bytes${codec ? `, ${codec.name}` : ''})`);
  return { walName, key, status: 'uploaded', bytes: body.length };
}

async function existingCopies(store: ObjectStore, layout: BarmanLayout, walName: string, signal?: AbortSignal): Promise<string[]> {
  const base = layout.walKey(walName);
  const wanted = new Set([base, ...Object.values(CODECS).map((c) => base + c.suffix)]);
  const found: string[] = [];
  for await (const entry of store.list(base, signal ? { signal } : {})) {
    if (!isCommonPrefix(entry) && wanted.has(entry.key)) found.push(entry.key);
  }
  return found;
}

async function compareExisting(deps: ArchiveWalDeps, walName: string, file: string, data: Buffer, keys: string[], wantedKey: string, signal?: AbortSignal): Promise<ArchivedWal> {
  for (const key of keys) {
    const raw = await readAll(deps.store, key, signal);
    const codec = codecForSuffix(key);
    const stored = codec ? await codec.decompress(raw) : raw;
    if (!stored.equals(data)) {
      throw new OperationError('ERR_WAL_CONFLICT',
        `refusing to archive ${file}: ${deps.store.description} already holds ${key} for WAL ${walName} with different content `
        + `(${stored.length} bytes stored, ${data.length} bytes local); nothing was overwritten. `
        + 'This usually means two servers archive to the same destination and server name.',
        { details: { walName, key, file } });
    }
  }
  (deps.log ?? silentLogger).info(`${walName} is already archived with identical content (${keys.join(', ')}); not rewriting it`);
  return { walName, key: keys.includes(wantedKey) ? wantedKey : keys[0] as string, status: 'already-archived', bytes: 0 };
}

/**
 * Confirms the stored object has the size and content of what was sent: the MD5 the store reported in its put
 * response (S3's single-PUT ETag, Azure's Content-MD5, GCS's md5Hash) settles it without another request;
 * otherwise one stat: the MD5 the store computed (Azure, GCS) or, on S3, the ETag when it is an MD5, and the size.
 */
async function verifyUpload(store: ObjectStore, key: string, size: number, md5: string, put: PutResult, etagIsMd5: boolean, signal?: AbortSignal): Promise<void> {
  if (put.md5 !== undefined) {
    if (put.md5.toLowerCase() === md5) return;
    throw new IntegrityError({ provider: store.provider, operation: 'put', key }, `upload of ${key} could not be verified: stored MD5 ${put.md5} differs from ${md5}`);
  }
  const info = await store.stat(key, signal ? { signal } : {});
  if (info.size !== size) {
    throw new IntegrityError({ provider: store.provider, operation: 'put', key },
      `upload of ${key} could not be verified: ${info.size} bytes stored, ${size} sent`);
  }
  const etag = info.etag?.replace(/"/g, '');
  const stored = info.md5 ?? (etagIsMd5 && etag && /^[0-9a-f]{32}$/i.test(etag) ? etag : undefined);
  if (stored) {
    if (md5 !== stored.toLowerCase()) {
      throw new IntegrityError({ provider: store.provider, operation: 'put', key }, `upload of ${key} could not be verified: stored MD5 ${stored} differs from ${md5}`);
    }
  }
}
