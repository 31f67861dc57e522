/**
 * Writes one Barman archive ("data" or a tablespace oid) as a sequence of tar volumes: a new volume is
 * opened before a member when the current one already holds more than maxArchiveSize stored bytes (so a
 * volume may exceed the limit by one file, as in Barman); a file never spans volumes. File contents are
 * read in bounded chunks; a file that shrinks while being read is zero-padded to the size in its header,
 * a file that vanishes before it is opened is skipped with a warning (WAL replay repairs both).
 */
import * as fsp from 'node:fs/promises';
import type { WarningCode } from '../logger.js';
import { encodeHeader, endOfArchive, padding, type TarHeader } from './tar-header.js';
import type { VolumeResult, VolumeSink } from './volume-sink.js';
import type { WalkEntry } from './pgdata-walker.js';

const READ_CHUNK = 256 * 1024;

export interface ArchiveVolume extends VolumeResult {
  volume: number;
}

export interface ArchiveWriterOptions {
  maxArchiveSize: number;
  /** Opens volume n (0 = first). */
  openVolume: (volume: number) => VolumeSink;
  onWarning?: (code: WarningCode, msg: string) => void;
  /** Called with uncompressed bytes as they are read, and the member being written. */
  onProgress?: (bytes: number, member: string) => void;
}

export class TarArchiveWriter {
  private sink: VolumeSink | undefined;
  private volume = -1;
  private written = 0;
  readonly volumes: ArchiveVolume[] = [];

  constructor(private readonly opts: ArchiveWriterOptions) {}

  private async current(): Promise<VolumeSink> {
    if (this.sink && this.sink.storedBytes > this.opts.maxArchiveSize) await this.finishVolume();
    if (!this.sink) {
      this.volume++;
      this.written = 0;
      this.sink = this.opts.openVolume(this.volume);
    }
    return this.sink;
  }

  private async put(sink: VolumeSink, buf: Buffer): Promise<void> {
    this.written += buf.length;
    await sink.write(buf);
  }

  /** Adds a walked entry (lstat at add time, as tarfile.add does). Returns false if it vanished. */
  async addPath(entry: WalkEntry, nameOverride?: string): Promise<boolean> {
    const name = nameOverride ?? entry.name;
    let st: import('node:fs').Stats;
    let opened: fsp.FileHandle | undefined;
    try {
      if (entry.regular) {
        // readdir said "regular file": open and fstat (one system call less per file than lstat + open).
        opened = await fsp.open(entry.path, 'r');
        st = await opened.stat();
        if (!st.isFile()) { await opened.close(); opened = undefined; st = await fsp.lstat(entry.path); }
      } else {
        st = await fsp.lstat(entry.path);
      }
    } catch (err) {
      await opened?.close();
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') { this.opts.onWarning?.('WARN_FILE_VANISHED', `skipping ${entry.path}: it disappeared during the backup`); return false; }
      throw err;
    }
    const ids = await idNames();
    const base = { name, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, uname: ids.users.get(st.uid) ?? '', gname: ids.groups.get(st.gid) ?? '', mtime: st.mtimeMs / 1000 };
    if (st.isDirectory()) {
      await opened?.close();
      const sink = await this.current();
      await this.put(sink, encodeHeader({ ...base, type: 'directory', size: 0 }));
      sink.members++;
      return true;
    }
    if (st.isSymbolicLink()) {
      let target: string;
      try { target = await fsp.readlink(entry.path); } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw err;
      }
      const sink = await this.current();
      await this.put(sink, encodeHeader({ ...base, type: 'symlink', size: 0, linkname: target }));
      sink.members++;
      return true;
    }
    if (!st.isFile()) { await opened?.close(); this.opts.onWarning?.('WARN_FILE_SKIPPED', `skipping ${entry.path}: not a regular file, directory or symlink`); return false; }
    let fh: fsp.FileHandle;
    if (opened) fh = opened;
    else {
      try { fh = await fsp.open(entry.path, 'r'); } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') { this.opts.onWarning?.('WARN_FILE_VANISHED', `skipping ${entry.path}: it disappeared during the backup`); return false; }
        throw err;
      }
    }
    try {
      const size = st.size;
      const sink = await this.current();
      await this.put(sink, encodeHeader({ ...base, type: 'file', size }));
      sink.members++;
      await this.copyContents(sink, fh, size, entry.path, name);
      const pad = padding(size);
      if (pad) await this.put(sink, Buffer.alloc(pad));
      return true;
    } finally {
      await fh.close();
    }
  }

  /**
   * A file's bytes in READ_CHUNK pieces. Into a sink that copies each chunk before its write resolves
   * (consumesChunks), two buffers take turns: one is read while the other is being copied, and no Buffer is
   * made per read; otherwise each read gets a new Buffer (the sink may still hold it after write resolves).
   */
  private async copyContents(sink: VolumeSink, fh: fsp.FileHandle, size: number, filePath: string, name: string): Promise<void> {
    const ring = sink.consumesChunks ? this.ring : undefined;
    const writes: (Promise<void> | undefined)[] = [undefined, undefined];
    let turn = 0;
    let done = 0;
    let shrunk = false;
    try {
      while (done < size) {
        const want = Math.min(READ_CHUNK, size - done);
        await writes[turn]; // this turn's buffer is free again (its chunk was copied)
        const buf = ring ? (ring[turn] as Buffer).subarray(0, want) : Buffer.allocUnsafe(want);
        let got = 0;
        if (!shrunk) {
          while (got < want) {
            const { bytesRead } = await fh.read(buf, got, want - got, done + got);
            if (bytesRead === 0) break;
            got += bytesRead;
          }
        }
        if (got < want) {
          if (!shrunk) this.opts.onWarning?.('WARN_FILE_SHRANK', `${filePath} shrank during the backup: zero-padded to ${size} bytes`);
          shrunk = true;
          buf.fill(0, got);
        }
        const write = this.put(sink, buf);
        done += want;
        this.opts.onProgress?.(want, name);
        if (!ring) { await write; continue; }
        write.catch(() => undefined); // awaited below or at its next turn; never an unhandled rejection meanwhile
        writes[turn] = write;
        turn ^= 1;
      }
    } finally {
      // The file handle closes after this: no write of ours may still read from the ring.
      await Promise.allSettled(writes);
    }
    await Promise.all(writes);
  }

  /** Read buffers of a writer into a sink that copies (at most one archive is written by one writer at a time). */
  private ringBuffers: Buffer[] | undefined;
  private get ring(): Buffer[] {
    this.ringBuffers ??= [Buffer.allocUnsafe(READ_CHUNK), Buffer.allocUnsafe(READ_CHUNK)];
    return this.ringBuffers;
  }

  /** Adds in-memory content with explicit attributes (backup_label). */
  async addBuffer(header: Omit<TarHeader, 'size' | 'type'>, data: Buffer): Promise<void> {
    const sink = await this.current();
    await this.put(sink, encodeHeader({ ...header, type: 'file', size: data.length }));
    sink.members++;
    await this.put(sink, data);
    const pad = padding(data.length);
    if (pad) await this.put(sink, Buffer.alloc(pad));
    this.opts.onProgress?.(data.length, header.name);
  }

  private async finishVolume(): Promise<void> {
    const sink = this.sink;
    if (!sink) return;
    this.sink = undefined;
    await sink.write(endOfArchive(this.written));
    const r = await sink.end();
    this.volumes.push({ ...r, volume: this.volume });
  }

  /** Ends the last volume (an archive with no member still gets one, empty, volume). */
  async close(): Promise<ArchiveVolume[]> {
    if (!this.sink && this.volume < 0) await this.current();
    await this.finishVolume();
    return this.volumes;
  }

  abort(reason: unknown): void {
    this.sink?.abort(reason);
    this.sink = undefined;
  }
}

// uid/gid → names as Python's pwd/grp report them (tarfile fills uname/gname); read once per process.
let names: Promise<{ users: Map<number, string>; groups: Map<number, string> }> | undefined;

function idNames(): Promise<{ users: Map<number, string>; groups: Map<number, string> }> {
  names ??= Promise.all([loadIds('/etc/passwd'), loadIds('/etc/group')]).then(([users, groups]) => ({ users, groups }));
  return names;
}

async function loadIds(file: string): Promise<Map<number, string>> {
  const m = new Map<number, string>();
  try {
    for (const line of (await fsp.readFile(file, 'utf8')).split('\n')) {
      const f = line.split(':');
      if (f.length >= 3 && f[0] && !m.has(Number(f[2]))) m.set(Number(f[2]), f[0]);
    }
  } catch { /* no passwd file: names stay empty */ }
  return m;
}
