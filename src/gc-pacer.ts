/**
 * Keeps freed Buffers from piling up in a process with a memory budget. V8 returns a Buffer's memory only
 * when a garbage collection finds its wrapper dead, and it starts one for Buffer (external) memory only after
 * tens of MB more. Reading a 140 MB backup object in 64 KiB chunks and gunzipping it grew RSS by 50 MB
 * (nothing kept, only garbage); a young-generation collection every 2–4 MiB of data moved kept it at +16 MB,
 * for ~1 ms each (measured, issue 15). So the data paths report the bytes they move (note()), and the pacer
 * collects after every `slack` bytes; a timer could not keep up (20 ms at page-cache speed is 20+ MB).
 *
 * A process has one pacer (the CLI's commands and the plugin start it; the engine only calls note() through
 * MemoryBudget.pacer): it turns on V8's gc() for its own use (v8.setFlagsFromString('--expose-gc'), reached
 * through a fresh vm context, so the application's global object gets no `gc`), and keeps V8's young
 * generation from growing. Without that ability it does nothing.
 */
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

type Collect = (options?: { type: 'minor' | 'major' }) => void;

let collectFn: Collect | null | undefined;

function collector(): Collect | undefined {
  if (collectFn === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      collectFn = vm.runInNewContext('gc') as Collect;
      // The young generation stays at its initial size instead of growing to 16 MiB semi-spaces under a
      // restore's allocation rate: heap 19 instead of 33 MB at peak (measured). V8 reads this flag each time
      // it would grow, so setting it now takes effect (unlike the size limits).
      v8.setFlagsFromString('--semi-space-growth-factor=1');
    } catch {
      collectFn = null;
    }
  }
  return collectFn ?? undefined;
}

const external = (): number => v8.getHeapStatistics().external_memory;

export interface GcPacerStats { minor: number; major: number }

/** What the engine sees of the pacer: the bytes its data paths moved. */
export interface BytePacer {
  note(bytes: number): void;
}

export class GcPacer implements BytePacer {
  private gc: Collect | undefined;
  private users = 0;
  private pending = 0;
  private floor = 0;
  private lastMajor = 0;
  readonly stats: GcPacerStats = { minor: 0, major: 0 };

  constructor(private readonly slack: number) {}

  /** Paces until the returned function is called (nested uses share the pacer). */
  start(): () => void {
    if (this.users++ === 0) {
      this.gc = collector();
      this.floor = this.gc ? external() : 0;
    }
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      if (--this.users === 0) this.gc = undefined;
    };
  }

  note(bytes: number): void {
    const gc = this.gc;
    if (!gc) return;
    this.pending += bytes;
    if (this.pending < this.slack) return;
    this.pending = 0;
    gc({ type: 'minor' });
    this.stats.minor++;
    // Buffers held across two young collections (an upload part in flight) were promoted: at most once a second a
    // full collection for them, when Buffer memory grew well above what the last full one left. (A full one
    // every 8 young ones cost a restore ~10 % of its time for ~7 MB less RSS, measured.)
    const now = external();
    if (now < this.floor) this.floor = now;
    else if (now > this.floor + 4 * this.slack && Date.now() - this.lastMajor >= 1000) {
      gc({ type: 'major' });
      this.stats.major++;
      this.lastMajor = Date.now();
      this.floor = external();
    }
  }
}

/** A budget whose data paths pace garbage collection, and the function that stops pacing. */
export function pacedBudget<B extends { pacing: number; pacer?: BytePacer }>(budget: B): { budget: B; stop: () => void } {
  const pacer = new GcPacer(budget.pacing);
  return { budget: { ...budget, pacer }, stop: pacer.start() };
}
