/**
 * Keeps freed Buffers from piling up in a process with a memory budget. V8 returns a Buffer's memory only
 * when a garbage collection finds its wrapper dead, and it starts one for Buffer (external) memory only after
 * tens of MB more: at 200 MB/s of transfer, freed socket and file buffers alone grew a restore past 160 MB.
 * While running, the pacer looks at external memory every 20 ms and, when it grew by more than the budget's
 * gcSlack since the last collection, runs a young-generation collection (about a millisecond), and a full
 * one (at most once a second) when that did not bring it back.
 *
 * A process has one pacer (the CLI's long commands and the plugin start it; the engine never does): it turns
 * on V8's gc() for its own use (v8.setFlagsFromString('--expose-gc'), reached through a fresh vm context, so
 * the application's global object gets no `gc`). Without that ability it does nothing.
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
    } catch {
      collectFn = null;
    }
  }
  return collectFn ?? undefined;
}

const external = (): number => v8.getHeapStatistics().external_memory;

export interface GcPacerStats { minor: number; major: number }

export class GcPacer {
  private timer: ReturnType<typeof setInterval> | undefined;
  private floor = 0;
  private lastMajor = 0;
  private users = 0;
  readonly stats: GcPacerStats = { minor: 0, major: 0 };

  constructor(private readonly slack: number, private readonly intervalMs = 20) {}

  /** Runs the pacer until the returned function is called (nested uses share one timer). */
  start(): () => void {
    this.users++;
    if (!this.timer && collector()) {
      this.floor = external();
      this.timer = setInterval(() => this.tick(), this.intervalMs);
      this.timer.unref();
    }
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      if (--this.users === 0 && this.timer) { clearInterval(this.timer); this.timer = undefined; }
    };
  }

  private tick(): void {
    const gc = collector();
    if (!gc || external() <= this.floor + this.slack) return;
    gc({ type: 'minor' });
    this.stats.minor++;
    if (external() > this.floor + this.slack && Date.now() - this.lastMajor >= 1000) {
      gc({ type: 'major' });
      this.stats.major++;
      this.lastMajor = Date.now();
    }
    this.floor = external();
  }
}
