/**
 * One tar volume on its way to the store: tar bytes → compressor → meter (stored size, sha256, optional
 * bandwidth limit) → the upload function. `write` honours back-pressure (it resolves once the pipeline
 * accepts more), so at most a few stream buffers plus the driver's in-flight parts are held in memory,
 * whatever the size of the database.
 */
import { createHash } from 'node:crypto';
import { Transform, type Duplex, type Readable, type TransformCallback, type Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';

export interface VolumeResult {
  /** Bytes of the tar stream. */
  tarSize: number;
  /** Bytes stored (after compression). */
  size: number;
  sha256: string;
  members: number;
}

/** Limits the rate of one stream (Barman's --max-bandwidth is per tar stream). Shared across its volumes. */
export class BandwidthLimiter {
  private readonly start = Date.now();
  private bytes = 0;
  constructor(readonly bytesPerSecond: number) {}

  async take(n: number): Promise<void> {
    this.bytes += n;
    const due = this.start + (this.bytes / this.bytesPerSecond) * 1000;
    const wait = due - Date.now();
    if (wait > 5) await new Promise((r) => setTimeout(r, wait));
  }
}

class Meter extends Transform {
  readonly hash = createHash('sha256');
  size = 0;
  constructor(private readonly limiter: BandwidthLimiter | undefined, private readonly onStored?: (bytes: number) => void) {
    super({ highWaterMark: 256 * 1024 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.size += chunk.length;
    this.onStored?.(chunk.length);
    this.hash.update(chunk);
    if (!this.limiter) { cb(null, chunk); return; }
    this.limiter.take(chunk.length).then(() => cb(null, chunk), cb);
  }
}

export interface VolumeSinkOptions {
  compressor?: Duplex | undefined;
  limiter?: BandwidthLimiter | undefined;
  /** Starts the upload of `body`; must consume it to the end or reject. */
  upload: (body: Readable) => Promise<unknown>;
  /** Called with the bytes of each stored (compressed) chunk, e.g. for the GC pacer. */
  onStored?: (bytes: number) => void;
}

/** A compressor whose write callback means the chunk was copied (ParallelCompressor). */
function copiesInput(stream: Duplex | undefined): boolean {
  return (stream as { copiesInput?: boolean } | undefined)?.copiesInput === true;
}

export class VolumeSink {
  /** Where writes go: the compressor, or the meter when there is none (both queue 256 KiB or less). */
  private readonly input: Writable;
  private readonly meter: Meter;
  private readonly done: Promise<void>;
  private failure: unknown;
  private tarBytes = 0;
  members = 0;
  /**
   * True when write() resolves only once the chunk was copied, so the writer may reuse its buffer (the file reads
   * of a compressed backup then make no garbage: 1 MiB of dead Buffers per MiB of tar before). Otherwise the
   * chunk may still be queued when write() resolves and must not be touched again.
   */
  readonly consumesChunks: boolean;

  constructor(opts: VolumeSinkOptions) {
    this.meter = new Meter(opts.limiter, opts.onStored);
    this.consumesChunks = copiesInput(opts.compressor);
    // No queue of our own in front: one more stage held one more 256 KiB chunk or two, and cost a hop per chunk.
    this.input = opts.compressor ?? this.meter;
    const piped = opts.compressor ? pipeline(opts.compressor, this.meter) : finished(this.meter, { writable: true, readable: false });
    const uploaded = opts.upload(this.meter);
    const both = Promise.all([piped, uploaded]);
    // At the first failure everything stops (the upload sees its body end, the writers are released).
    both.catch(() => { this.input.destroy(); this.meter.destroy(); });
    this.done = both.then(() => undefined, async (err: unknown) => {
      if (!isCutOff(err)) throw err;
      // The pipeline only reports that its consumer went away: the upload's own error says why.
      throw await uploaded.then(() => err, (e: unknown) => e);
    });
    this.done.catch((err: unknown) => {
      this.failure ??= err;
      for (const reject of this.waiting) reject(err);
      this.waiting.clear();
    });
  }

  /** Writers blocked on 'drain', released with the error if the pipeline fails (one entry per blocked write). */
  private readonly waiting = new Set<(err: unknown) => void>();

  /** Bytes stored so far (compressed), for volume splitting. */
  get storedBytes(): number { return this.meter.size; }
  get tarSize(): number { return this.tarBytes; }

  /** Resolves when more may be written; with consumesChunks, also only once `chunk` was copied. */
  async write(chunk: Buffer): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    this.tarBytes += chunk.length;
    if (this.consumesChunks) { await this.writeCopied(chunk); return; }
    if (this.input.write(chunk)) return;
    await new Promise<void>((resolve, reject) => {
      const onDrain = (): void => { cleanup(); resolve(); };
      const onFail = (err: unknown): void => { cleanup(); reject(err); };
      const cleanup = (): void => { this.input.off('drain', onDrain); this.waiting.delete(onFail); };
      this.input.once('drain', onDrain);
      this.waiting.add(onFail);
      if (this.failure !== undefined) onFail(this.failure);
    });
  }

  /** A write whose callback ran: the compressor copied the chunk (or the volume failed, with its own error). */
  private writeCopied(chunk: Buffer): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const onFail = (err: unknown): void => { if (!settled) { settled = true; this.waiting.delete(onFail); reject(err); } };
      this.waiting.add(onFail);
      this.input.write(chunk, (err) => {
        // A write fails only because the volume did: report the cause the volume settles with, as write() does.
        if (err) { this.done.then(() => onFail(err), (e: unknown) => onFail(this.failure ?? e)); return; }
        if (!settled) { settled = true; this.waiting.delete(onFail); resolve(); }
      });
    });
  }

  async end(): Promise<VolumeResult> {
    if (this.failure !== undefined) throw this.failure;
    this.input.end();
    await this.done;
    return { tarSize: this.tarBytes, size: this.meter.size, sha256: this.meter.hash.digest('hex'), members: this.members };
  }

  /** Stops the volume; the upload function sees a destroyed stream and must abort its multipart upload. */
  abort(reason: unknown): void {
    this.failure ??= reason;
    const err = reason instanceof Error ? reason : new Error(String(reason));
    this.input.destroy(err);
    this.meter.destroy(err);
    this.done.catch(() => undefined);
  }
}

/** An abort or premature close: a stream stopped because another one failed, not a cause of its own. */
function isCutOff(err: unknown): boolean {
  const e = err as { name?: string; code?: string } | undefined;
  return e?.name === 'AbortError' || e?.code === 'ABORT_ERR' || e?.code === 'ERR_STREAM_PREMATURE_CLOSE';
}
