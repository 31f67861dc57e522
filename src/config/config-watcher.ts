/**
 * Keeps a long-running process's store configuration current: re-reads the manifest, the Secret manifests,
 * the mounted Secrets directory and the CA when they change (fs.watch, debounced), and re-asks the
 * Kubernetes API every `ttlMs` (CNPG's plugin uses a 10 s TTL; the in-tree manager re-reads on reconcile).
 * The `cnpg.io/reload` label is honoured in the sense that every referenced Secret is watched anyway.
 *
 * A transfer holds a lease on the store of the generation it started with (withStore), so rotation never
 * interrupts it; the superseded store is closed when its last lease ends, and new work gets the new store.
 */
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openStore, type OpenedStore } from '../storage/registry.js';
import type { StoreOptions } from '../storage/store-options.js';
import { loadConfig, type LoadConfigOptions } from './load-config.js';
import { toStoreOptions, type ResolvedConfig } from './resolved-config.js';

export interface ConfigWatcherOptions extends LoadConfigOptions {
  /** Re-read everything at least this often (covers the Kubernetes API and missed file events). Default 10 s. */
  ttlMs?: number;
  /** Wait this long after a file event before re-reading (kubelet swaps several links). Default 200 ms. */
  debounceMs?: number;
  /** Turns a resolved config into StoreOptions (default: toStoreOptions with `env`); apply flag overrides here. */
  toStoreOptions?: (config: ResolvedConfig) => StoreOptions;
  /** The configuration already loaded (by the command line) to start from, instead of loading it again. */
  initial?: ResolvedConfig;
}

/** A store held for one operation; release() when the operation (or the stream it returned) ends. */
export interface StoreLease {
  opened: OpenedStore;
  config: ResolvedConfig;
  release(): Promise<void>;
}

interface Generation {
  number: number;
  config: ResolvedConfig;
  options: StoreOptions;
  opened?: Promise<OpenedStore>;
  leases: number;
  retired: boolean;
}

export interface ConfigWatcherEvents {
  change: [config: ResolvedConfig, generation: number];
  error: [error: unknown];
}

export class ConfigWatcher extends EventEmitter<ConfigWatcherEvents> {
  private gen: Generation;
  private readonly watchers: fs.FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private reloading: Promise<boolean> | undefined;
  private closed = false;

  private constructor(private readonly opts: ConfigWatcherOptions, first: ResolvedConfig) {
    super();
    this.gen = { number: 1, config: first, options: this.optionsOf(first), leases: 0, retired: false };
  }

  /** Loads the configuration (throws like loadConfig when it is invalid) and starts watching. */
  static async start(opts: ConfigWatcherOptions): Promise<ConfigWatcher> {
    const w = new ConfigWatcher(opts, opts.initial ?? await loadConfig(opts));
    w.watchFiles();
    const ttl = opts.ttlMs ?? 10_000;
    if (ttl > 0) {
      w.timer = setInterval(() => { void w.reload().catch(() => undefined); }, ttl);
      w.timer.unref();
    }
    return w;
  }

  get current(): ResolvedConfig {
    return this.gen.config;
  }

  /** Increments each time a re-read finds different settings or secret values. */
  get generation(): number {
    return this.gen.number;
  }

  /** StoreOptions of the current generation. */
  storeOptions(): StoreOptions {
    return this.gen.options;
  }

  /**
   * Runs `fn` with the current generation's store (opened once per generation) and keeps that store alive
   * until `fn` settles, even if the configuration rotates meanwhile.
   */
  async withStore<T>(fn: (opened: OpenedStore, config: ResolvedConfig) => Promise<T>): Promise<T> {
    const lease = await this.acquire();
    try {
      return await fn(lease.opened, lease.config);
    } finally {
      await lease.release();
    }
  }

  /** Like withStore, for operations that outlive a callback (a listing, a download stream). */
  async acquire(): Promise<StoreLease> {
    const g = this.gen;
    g.leases++;
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      g.leases--;
      if (g.retired && g.leases === 0) await closeGeneration(g);
    };
    try {
      g.opened ??= openStore(g.options);
      return { opened: await g.opened, config: g.config, release };
    } catch (err) {
      await release();
      throw err;
    }
  }

  /** Re-reads now. Resolves true when the configuration changed (a new generation started). */
  reload(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    this.reloading ??= this.doReload().finally(() => { this.reloading = undefined; });
    return this.reloading;
  }

  private async doReload(): Promise<boolean> {
    let next: ResolvedConfig;
    try {
      next = await loadConfig(this.opts);
    } catch (err) {
      // A half-written Secret or a transient API error must not take down a working archiver: keep the
      // last good configuration and report.
      this.emit('error', err);
      throw err;
    }
    if (this.closed || next.fingerprint === this.gen.config.fingerprint) return false;
    const old = this.gen;
    this.gen = { number: old.number + 1, config: next, options: this.optionsOf(next), leases: 0, retired: false };
    old.retired = true;
    if (old.leases === 0) await closeGeneration(old);
    this.watchFiles();
    this.emit('change', next, this.gen.number);
    return true;
  }

  private optionsOf(config: ResolvedConfig): StoreOptions {
    return this.opts.toStoreOptions ? this.opts.toStoreOptions(config) : toStoreOptions(config, this.opts.env);
  }

  /** Watches the directories holding the files (editors and kubelet replace files by rename). */
  private watchFiles(): void {
    for (const w of this.watchers.splice(0)) w.close();
    const dirs = new Set<string>();
    for (const f of [this.opts.configFile, ...(this.opts.secretsFiles ?? [])]) dirs.add(path.dirname(path.resolve(f)));
    if (this.opts.secretsDir) {
      const root = path.resolve(this.opts.secretsDir);
      dirs.add(root);
      for (const u of this.gen.config.secrets) dirs.add(path.join(root, u.selector.name));
    }
    for (const dir of dirs) {
      try {
        const w = fs.watch(dir, { persistent: false }, () => this.schedule());
        w.on('error', () => undefined);
        this.watchers.push(w);
      } catch {
        // Missing directory: the TTL re-read still notices when it appears.
      }
    }
  }

  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => { void this.reload().catch(() => undefined); }, this.opts.debounceMs ?? 200);
    this.debounce.unref();
  }

  /** Stops watching; closes the current store once its leases end. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.debounce);
    for (const w of this.watchers.splice(0)) w.close();
    this.gen.retired = true;
    if (this.gen.leases === 0) await closeGeneration(this.gen);
  }
}

async function closeGeneration(g: Generation): Promise<void> {
  const opened = g.opened;
  g.opened = undefined;
  if (!opened) return;
  try {
    await (await opened).store.close();
  } catch {
    // Opening failed or the client is already gone: nothing to release.
  }
}
