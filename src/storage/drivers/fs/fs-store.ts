/**
 * Local filesystem store (file:///path). Writes are atomic: a temp file in the same directory, fsync,
 * rename, then fsync of the directory, so a crash never leaves a half-written object under its final name.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import {
  type CommonPrefix, type GetOptions, type IncompleteUpload, type ListOptions, type ObjectInfo, type ObjectStore,
  type PutBody, type PutOptions, type PutResult, type StoreCapabilities,
} from '../../object-store.js';
import { assertValidKey, assertValidPrefix, openBody } from '../../object-store-helpers.js';
import {
  AccessDeniedError, BucketNotFoundError, ObjectExistsError, ObjectNotFoundError, StorageRequestError,
  type StorageOperation,
} from '../../errors.js';

const TEMP_MARKER = '.pgstow-tmp-';

export class FsObjectStore implements ObjectStore {
  readonly provider = 'fs';
  readonly description: string;
  readonly capabilities: StoreCapabilities = {
    conditionalCreate: true,
    atomicReplace: true,
    serverSideEncryption: false,
    objectTags: false,
    maxBatchDelete: 1000,
    maxParts: Number.MAX_SAFE_INTEGER,
  };

  constructor(readonly root: string, private readonly createRoot = true) {
    this.description = `file://${root}`;
  }

  private resolve(key: string): string {
    assertValidKey(key);
    return path.join(this.root, ...key.split('/'));
  }

  private async ensureRoot(op: StorageOperation): Promise<void> {
    try {
      const st = await fsp.stat(this.root);
      if (!st.isDirectory()) throw new StorageRequestError({ provider: 'fs', operation: op }, `store root is not a directory: ${this.root}`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        if (this.createRoot && op === 'put') { await fsp.mkdir(this.root, { recursive: true }); return; }
        throw new BucketNotFoundError({ provider: 'fs', operation: op, bucket: this.root }, `store directory does not exist: ${this.root}`);
      }
      throw this.classify(err, op, '');
    }
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<PutResult> {
    const target = this.resolve(key);
    await this.ensureRoot('put');
    const dir = path.dirname(target);
    const tmp = path.join(dir, `${TEMP_MARKER}${path.basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}`);
    try {
      await fsp.mkdir(dir, { recursive: true });
      if (options.ifAbsent && (await this.exists(key))) throw new ObjectExistsError({ provider: 'fs', operation: 'put', key });
      const out = createWriteStream(tmp, { flags: 'wx', mode: 0o600 });
      await pipeline(openBody(body), out, options.signal ? { signal: options.signal } : {});
      const fh = await fsp.open(tmp, 'r');
      try { await fh.sync(); } finally { await fh.close(); }
      if (options.ifAbsent) {
        // link() fails with EEXIST if another writer won the race: create-if-absent without a lock.
        try { await fsp.link(tmp, target); } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ObjectExistsError({ provider: 'fs', operation: 'put', key });
          throw err;
        }
        await fsp.unlink(tmp);
      } else {
        await fsp.rename(tmp, target);
      }
      await syncDir(dir);
      const st = await fsp.stat(target);
      return { key, size: st.size };
    } catch (err) {
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
      throw this.classify(err, 'put', key);
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<Readable> {
    const file = this.resolve(key);
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(file, 'r');
      const st = await fh.stat();
      if (st.isDirectory()) { await fh.close(); throw Object.assign(new Error('is a directory'), { code: 'ENOENT' }); }
      options.onInfo?.({ key, size: st.size, lastModified: st.mtime });
    } catch (err) {
      throw this.classify(err, 'get', key);
    }
    const range = options.range;
    return createReadStream('', {
      fd: fh,
      autoClose: true,
      ...(range ? { start: range.start, ...(range.end !== undefined ? { end: range.end } : {}) } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  async stat(key: string): Promise<ObjectInfo> {
    const file = this.resolve(key);
    try {
      const st = await fsp.stat(file);
      if (!st.isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOENT' });
      return { key, size: st.size, lastModified: st.mtime };
    } catch (err) {
      throw this.classify(err, 'stat', key);
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.stat(key);
      return true;
    } catch (err) {
      if (err instanceof ObjectNotFoundError) return false;
      throw err;
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo | CommonPrefix> {
    assertValidPrefix(prefix);
    // A destination that is a file is not an empty store ("no backups", exit 0): say what it is.
    const root = await fsp.stat(this.root).catch(() => undefined);
    if (root && !root.isDirectory()) throw new StorageRequestError({ provider: 'fs', operation: 'list', key: prefix }, `store root is not a directory: ${this.root} is a file`);
    // Walk only the directory that can contain matches: the part of the prefix up to its last "/".
    const slash = prefix.lastIndexOf('/');
    const baseKey = slash >= 0 ? prefix.slice(0, slash + 1) : '';
    yield* this.walk(baseKey, prefix, options.delimiter === '/', options.startAfter, options.signal);
  }

  /**
   * Depth-first, one directory in memory at a time, so a listing of 200,000 WAL files holds one wals/<dir>/
   * at most. Entries are sorted with a directory standing for "name/": every key below it sorts exactly
   * where that string does among its siblings, so the walk yields keys in byte order, as S3 lists them.
   */
  private async *walk(dirKey: string, prefix: string, delimited: boolean, startAfter: string | undefined, signal: AbortSignal | undefined): AsyncGenerator<ObjectInfo | CommonPrefix> {
    const dir = dirKey === '' ? this.root : path.join(this.root, ...dirKey.slice(0, -1).split('/'));
    const entries = await this.readSorted(dir, dirKey, prefix, startAfter);
    if (!entries) return;
    for (const e of entries) {
      signal?.throwIfAborted();
      if (e.isDir) {
        if (delimited && e.key.startsWith(prefix)) {
          if ((startAfter === undefined || compareKeys(e.key, startAfter) > 0) && (await hasFiles(path.join(dir, e.name)))) yield { prefix: e.key };
          continue;
        }
        yield* this.walk(e.key, prefix, delimited, startAfter, signal);
      } else {
        // Stat at yield time: an object deleted since readdir is simply not listed.
        const st = await fsp.stat(path.join(dir, e.name)).catch(() => undefined);
        if (st?.isFile()) yield { key: e.key, size: st.size, lastModified: st.mtime };
      }
    }
  }

  /** One directory's entries that can match, sorted (the Dirent array is dropped once this returns). */
  private async readSorted(dir: string, dirKey: string, prefix: string, startAfter: string | undefined): Promise<Array<{ key: string; name: string; isDir: boolean }> | null> {
    let names: import('node:fs').Dirent[];
    try {
      names = await fsp.readdir(dir, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw this.classify(err, 'list', prefix);
    }
    const entries: Array<{ key: string; name: string; isDir: boolean }> = [];
    for (const d of names) {
      if (d.name.startsWith(TEMP_MARKER)) continue;
      if (d.isDirectory()) {
        const key = `${dirKey}${d.name}/`;
        if (!key.startsWith(prefix) && !prefix.startsWith(key)) continue;
        // Every key below this directory sorts at or before startAfter: skip the subtree unread.
        if (startAfter !== undefined && compareKeys(key, startAfter) <= 0 && !startAfter.startsWith(key)) continue;
        entries.push({ key, name: d.name, isDir: true });
      } else if (d.isFile()) {
        const key = dirKey + d.name;
        if (!key.startsWith(prefix)) continue;
        if (startAfter !== undefined && compareKeys(key, startAfter) <= 0) continue;
        entries.push({ key, name: d.name, isDir: false });
      }
    }
    return entries.sort((a, b) => compareKeys(a.key, b.key));
  }

  async delete(keys: readonly string[]): Promise<void> {
    const dirs = new Set<string>();
    for (const key of keys) {
      const file = this.resolve(key);
      try {
        await fsp.unlink(file);
        dirs.add(path.dirname(file));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw this.classify(err, 'delete', key);
      }
    }
    // Remove directories left empty so listings of "directories" match object stores.
    for (const dir of dirs) await this.pruneEmptyDirs(dir);
  }

  private async pruneEmptyDirs(dir: string): Promise<void> {
    let current = dir;
    const root = path.resolve(this.root);
    while (path.resolve(current).startsWith(root + path.sep)) {
      try { await fsp.rmdir(current); } catch { return; }
      current = path.dirname(current);
    }
  }

  /** Temp files of writes that never finished (a killed process): id is the temp file's path below the root. */
  async *listIncompleteUploads(prefix: string): AsyncIterable<IncompleteUpload> {
    assertValidPrefix(prefix);
    const slash = prefix.lastIndexOf('/');
    const start = slash >= 0 ? prefix.slice(0, slash) : '';
    const walk = async function* (this: FsObjectStore, rel: string): AsyncGenerator<IncompleteUpload> {
      const entries = await fsp.readdir(path.join(this.root, ...rel.split('/').filter(Boolean)), { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        const child = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) { yield* walk.call(this, child); continue; }
        if (!e.isFile() || !e.name.startsWith(TEMP_MARKER) || !child.startsWith(prefix.replace(/[^/]*$/, ''))) continue;
        const st = await fsp.stat(path.join(this.root, ...child.split('/'))).catch(() => undefined);
        if (!st) continue;
        const target = e.name.slice(TEMP_MARKER.length).replace(/\.\d+\.[0-9a-f]+$/, '');
        yield { key: rel ? `${rel}/${target}` : target, id: child, lastActivity: st.mtime, size: st.size };
      }
    };
    yield* walk.call(this, start);
  }

  async abortIncompleteUpload(upload: IncompleteUpload): Promise<void> {
    if (!path.basename(upload.id).startsWith(TEMP_MARKER)) return;
    await fsp.rm(this.resolve(upload.id), { force: true });
  }

  async createBucket(): Promise<void> {
    try { await fsp.mkdir(this.root, { recursive: true }); } catch (err) { throw this.classify(err, 'create', ''); }
  }

  async close(): Promise<void> { /* nothing held open */ }

  private classify(err: unknown, operation: StorageOperation, key: string): Error {
    if (err instanceof ObjectNotFoundError || err instanceof ObjectExistsError || err instanceof BucketNotFoundError
      || err instanceof StorageRequestError || err instanceof AccessDeniedError) return err;
    const e = err as NodeJS.ErrnoException;
    if (e && (e.name === 'AbortError' || e.code === 'ABORT_ERR')) return e;
    switch (e?.code) {
      case 'ENOENT':
      case 'ENOTDIR':
        return new ObjectNotFoundError({ provider: 'fs', operation, key, cause: err });
      case 'EACCES':
      case 'EPERM':
      case 'EROFS':
        return new AccessDeniedError({ provider: 'fs', operation, key, cause: err },
          `access denied: ${operation} ${path.join(this.root, key)} (${e.code})`);
      default:
        return new StorageRequestError({ provider: 'fs', operation, key, cause: err },
          `${operation} ${key || this.root} failed: ${e?.message ?? String(err)}`);
    }
  }
}

/** Byte order, as S3 lists keys (UTF-8 binary order), not locale order. */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

async function hasFiles(dir: string): Promise<boolean> {
  const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (e.isFile() && !e.name.startsWith(TEMP_MARKER)) return true;
    if (e.isDirectory() && (await hasFiles(path.join(dir, e.name)))) return true;
  }
  return false;
}

async function syncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r').catch(() => undefined);
  if (!fh) return;
  try { await fh.sync(); } catch { /* some filesystems refuse fsync on directories */ } finally { await fh.close(); }
}
