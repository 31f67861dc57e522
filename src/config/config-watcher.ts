/**
 * Keeps a long-running process's configuration current: re-reads the manifest, the Secret manifests, the
 * mounted Secrets directory and the CA when they change (fs.watch, debounced), and re-asks the Kubernetes API
 * every `ttlMs` (CNPG's plugin uses a 10 s TTL; the in-tree manager re-reads on reconcile). The `cnpg.io/reload`
 * label is honoured in the sense that every referenced Secret is watched anyway. A change is an event; the
 * command hands the new settings to its engine (Engine.reconfigure), which keeps transfers in flight on the
 * stores they started with.
 */
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig, type LoadConfigOptions } from './load-config.js';
import type { ResolvedConfig } from './resolved-config.js';

export interface ConfigWatcherOptions extends LoadConfigOptions {
  /** Re-read everything at least this often (covers the Kubernetes API and missed file events). Default 10 s. */
  ttlMs?: number;
  /** Wait this long after a file event before re-reading (kubelet swaps several links). Default 200 ms. */
  debounceMs?: number;
  /** The configuration already loaded (by the command line) to start from, instead of loading it again. */
  initial?: ResolvedConfig;
}

interface Generation {
  number: number;
  config: ResolvedConfig;
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
  /** Another load is due once the running one ends (a change came in while it ran). */
  private again = false;
  private reloading: Promise<boolean> | undefined;
  private closed = false;

  private constructor(private readonly opts: ConfigWatcherOptions, first: ResolvedConfig) {
    super();
    this.gen = { number: 1, config: first };
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

  /** Re-reads now. Resolves true when the configuration changed (a new generation started). */
  reload(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (this.reloading) {
      // A change signalled while a load runs may have come after that load read the files: load again after it.
      this.again = true;
      return this.reloading;
    }
    this.reloading = this.doReload().finally(() => {
      this.reloading = undefined;
      if (this.again) {
        this.again = false;
        void this.reload().catch(() => undefined);
      }
    });
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
    this.gen = { number: this.gen.number + 1, config: next };
    this.watchFiles();
    this.emit('change', next, this.gen.number);
    return true;
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

  /** Stops watching. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.debounce);
    for (const w of this.watchers.splice(0)) w.close();
  }
}
