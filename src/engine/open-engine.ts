/**
 * openEngine(): the engine's lifecycle. An engine owns its stores (one per purpose, opened once and kept for
 * every call), its settings generation and the calls in flight; nothing here is shared between engines, so
 * two engines in one process use two identities. Each call gets a signal that aborts with the call's own
 * signal or the engine's, and a rejected call never affects another.
 */
import { setMaxListeners } from 'node:events';
import { ConfigError, PgstowError, UsageError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { BarmanLayout } from '../repository/barman-layout.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { CaBundle } from '../storage/store-options.js';
import { composeStore, destinationOf, loadCa, providerOf, storeOptionsFor, type StorePurpose } from '../app/compose.js';
import { StoreGenerations } from './store-generations.js';
import type { EngineSettings } from './settings.js';
import type { Engine, OpenEngineOptions } from './types.js';
import { engineCalls, type CallContext } from './engine-calls.js';
import { memoryBudget, type MemoryBudget } from '../memory-budget.js';
import type { AheadState } from '../services/archive-wal.js';

interface PurposeStore {
  store: Promise<ObjectStore>;
  generations: StoreGenerations;
}

/** What every call of an engine shares: its settings in force, stores and logger. */
export class EngineCore {
  settings: EngineSettings;
  ca: CaBundle | undefined;
  readonly layout: BarmanLayout;
  readonly log: Logger;
  /** The host's memory budget (OpenEngineOptions.memory) or the engine's own. */
  readonly memory: MemoryBudget;
  /** WAL archive-ahead in the background (plugin sidecar), by spool directory. */
  readonly walAhead = new Map<string, AheadState>();
  private readonly stores = new Map<StorePurpose, PurposeStore>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly controller = new AbortController();
  private closing: Promise<void> | undefined;

  constructor(settings: EngineSettings, ca: CaBundle | undefined, log: Logger, signal: AbortSignal | undefined,
    private readonly wrapStore?: OpenEngineOptions['wrapStore'], memory?: MemoryBudget) {
    this.settings = settings;
    this.memory = memory ?? memoryBudget();
    this.ca = ca;
    this.log = log;
    this.layout = new BarmanLayout(destinationOf(settings).prefix, settings.serverName);
    // Every in-flight request listens on the engine's signal (catalog reads run 8 at a time, plus SDK retries).
    setMaxListeners(0, this.controller.signal);
    if (signal) {
      if (signal.aborted) this.controller.abort(signal.reason);
      else signal.addEventListener('abort', () => { this.controller.abort(signal.reason); void this.close(); }, { once: true });
    }
  }

  /** The store of `purpose`, opened on first use and kept (reconfigure() rotates what it uses inside). */
  store(purpose: StorePurpose): Promise<ObjectStore> {
    let p = this.stores.get(purpose);
    if (!p) {
      const generations = new StoreGenerations(storeOptionsFor(this.settings, purpose, this.ca));
      const live = (): { credentials: EngineSettings['credentials']; ca: CaBundle | undefined } => ({ credentials: this.settings.credentials, ca: this.ca });
      const hook = this.wrapStore ? (s: ObjectStore): ObjectStore => (this.wrapStore as NonNullable<OpenEngineOptions['wrapStore']>)(s, purpose) : undefined;
      const rotation = { live, leases: generations, readTimeoutSeconds: () => this.settings.readTimeoutSeconds };
      const store = composeStore(storeOptionsFor(this.settings, purpose, this.ca), rotation, hook).then((c) => c.store);
      p = { store, generations };
      this.stores.set(purpose, p);
      // A store that failed to open is not kept: the next call (maybe after reconfigure) tries again.
      store.catch(() => { if (this.stores.get(purpose) === p) this.stores.delete(purpose); });
    }
    return p.store;
  }

  /** Runs one call: refused after close(), tracked until it settles, with the engine's signal folded in. */
  run<T>(callSignal: AbortSignal | undefined, fn: (ctx: CallContext) => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(new PgstowError('ERR_ENGINE_CLOSED', 4, 'the engine is closed'));
    const { signal, release } = callSignal ? followBoth(callSignal, this.controller.signal) : { signal: this.controller.signal, release: () => {} };
    const ctx: CallContext = { core: this, signal, settings: this.settings, layout: this.layout, log: this.log };
    const work = (async () => {
      signal.throwIfAborted();
      return fn(ctx);
    })();
    this.inFlight.add(work);
    const done = (): void => { this.inFlight.delete(work); release(); };
    work.then(done, done);
    // The call settles soon after its signal aborts even if a store request ignores the signal; the work it
    // leaves behind still finishes (and cleans up) in the background, and close() waits for it.
    return raceAbort(work, signal);
  }

  async reconfigure(next: EngineSettings): Promise<void> {
    const prev = this.settings;
    if (next.destination !== prev.destination || next.serverName !== prev.serverName || providerOf(next) !== providerOf(prev)) {
      throw new ConfigError('reconfigure() cannot change the destination, the provider or the server name: open another engine', 'settings');
    }
    const ca = await loadCa(next.endpointCa);
    this.settings = { ...next, provider: providerOf(next) };
    this.ca = ca;
    for (const [purpose, p] of this.stores) await p.generations.update(storeOptionsFor(next, purpose, ca));
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled([...this.inFlight]);
      for (const p of this.stores.values()) {
        const store = await p.store.catch(() => undefined);
        await store?.close().catch(() => undefined);
        await p.generations.close();
      }
      this.stores.clear();
    })();
    return this.closing;
  }
}

/**
 * A signal that aborts when either `a` or `b` does, whose listeners are removed by release(). (AbortSignal.any
 * keeps every combined signal reachable from a long-lived source: a million calls on one engine would leak.)
 */
function followBoth(a: AbortSignal, b: AbortSignal): { signal: AbortSignal; release: () => void } {
  const c = new AbortController();
  setMaxListeners(0, c.signal);
  if (a.aborted || b.aborted) {
    c.abort(a.aborted ? a.reason : b.reason);
    return { signal: c.signal, release: () => {} };
  }
  const onA = (): void => c.abort(a.reason);
  const onB = (): void => c.abort(b.reason);
  a.addEventListener('abort', onA, { once: true });
  b.addEventListener('abort', onB, { once: true });
  return { signal: c.signal, release: () => { a.removeEventListener('abort', onA); b.removeEventListener('abort', onB); } };
}

/**
 * How long a cancelled call may take to wind down (abort uploads, write a FAILED backup.info) before it is
 * rejected anyway with the signal's reason: its own outcome is the better answer when it comes in time.
 */
const ABORT_GRACE_MS = 10_000;

function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return work;
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      timer = setTimeout(() => reject(signal.reason), ABORT_GRACE_MS);
      timer.unref();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const settle = (): void => { signal.removeEventListener('abort', onAbort); clearTimeout(timer); };
    work.then((v) => { settle(); resolve(v); }, (e: unknown) => { settle(); reject(e); });
  });
}

/** Checks what every engine needs before anything is opened: exit 3 for a bad destination or server name. */
function validate(settings: EngineSettings): void {
  if (typeof settings.destination !== 'string' || settings.destination === '') throw new UsageError('settings.destination is required (e.g. s3://bucket/prefix or file:///dir)');
  const name = settings.serverName;
  if (typeof name !== 'string' || name === '' || name.includes('/')) throw new UsageError(`invalid server name "${String(name)}"`);
  destinationOf(settings);
}

/** Opens an engine on `settings` (only destination and serverName are required). */
export async function openEngine(settings: EngineSettings, options: OpenEngineOptions = {}): Promise<Engine> {
  validate(settings);
  const ca = await loadCa(settings.endpointCa);
  const core = new EngineCore({ ...settings, provider: providerOf(settings) }, ca, options.log ?? silentLogger, options.signal, options.wrapStore, options.memory);
  // The WAL store is opened now, so bad settings (an unreadable key file, a malformed endpoint) fail here.
  const walStore = await core.store('wal');
  return engineCalls(core, walStore.description);
}
