/**
 * One engine per (ObjectStore, server name), kept across calls: a WAL call pays for an upload, not for a new
 * SDK client. The ObjectStore and its Secrets are read again at most every `refreshMs` (through KubeApi's own
 * cache of the same length, so a rotated key or CA is in use within twice that: 10 s with the defaults). When
 * anything changed, a new engine serves new calls and the old one closes once its last call has finished.
 * A failed re-read keeps the last good settings when the API server is unreachable, and fails the call when
 * the configuration itself is wrong (a deleted ObjectStore, a Secret or key that no longer exists).
 * Under steady calls no call waits for a re-read: once the settings are EARLY_REFRESH of `refreshMs` old, a call
 * starts the re-read in the background and goes on with the current engine (in a profile of warm Archive calls the
 * Kubernetes client, with a TLS connection per re-read, was ~13 % of the sidecar's CPU, and a call waited for it
 * every five seconds).
 */
import { ConfigError, errorMessage, ExitCode, isPgstowError } from '../../errors.js';
import type { KubeApi } from '../kube/kube-api.js';
import type { PluginLogger, SecretRegistry } from '../json-logger.js';
import type { StoreRef } from '../plugin-config.js';
import type { MemoryBudget } from '../../memory-budget.js';
import { openEngine, settingsFromObjectStore, type PortEngine, type PortSettings } from './engine-port.js';

export interface EngineLease {
  engine: PortEngine;
  settings: PortSettings;
  /** The ObjectStore's spec as read (retention interval, sidecar settings). */
  objectStore: Record<string, unknown>;
  release(): void;
}

interface Generation {
  engine: PortEngine;
  settings: PortSettings;
  objectStore: Record<string, unknown>;
  refs: number;
  retired: boolean;
}

interface Entry {
  current?: Generation;
  checkedAt: number;
  /** A refresh in progress, shared by concurrent callers. */
  refreshing?: Promise<Generation>;
}

export interface EngineRegistryOptions {
  kube: KubeApi;
  env: Readonly<Record<string, string | undefined>>;
  log: PluginLogger;
  secrets: SecretRegistry;
  refreshMs?: number;
  now?: () => number;
  /** The sidecar's one memory budget (PGSTOW_MAX_MEMORY), shared by every engine it opens. */
  memory?: MemoryBudget;
}

/** Fraction of refreshMs after which a call re-reads in the background instead of waiting at refreshMs. */
const EARLY_REFRESH = 0.6;

export class EngineRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly refreshMs: number;
  private readonly now: () => number;
  private closed = false;

  constructor(private readonly options: EngineRegistryOptions) {
    this.refreshMs = options.refreshMs ?? 5_000;
    this.now = options.now ?? Date.now;
  }

  async acquire(namespace: string, ref: StoreRef): Promise<EngineLease> {
    if (this.closed) throw new ConfigError('the plugin is shutting down');
    const key = `${namespace}/${ref.objectStoreName}/${ref.serverName}`;
    let entry = this.entries.get(key);
    if (!entry) { entry = { checkedAt: 0 }; this.entries.set(key, entry); }
    let gen = entry.current;
    const age = this.now() - entry.checkedAt;
    if (!gen || age >= this.refreshMs) gen = await this.refresh(entry, namespace, ref);
    // A failed background re-read changes nothing: at refreshMs the call that waits for the re-read gets its error.
    else if (age >= this.refreshMs * EARLY_REFRESH) this.refresh(entry, namespace, ref).catch(() => undefined);
    gen.refs++;
    let released = false;
    return {
      engine: gen.engine, settings: gen.settings, objectStore: gen.objectStore,
      release: () => {
        if (released) return;
        released = true;
        gen.refs--;
        if (gen.retired && gen.refs === 0) void this.closeGeneration(gen);
      },
    };
  }

  private refresh(entry: Entry, namespace: string, ref: StoreRef): Promise<Generation> {
    entry.refreshing ??= this.load(entry, namespace, ref).finally(() => { entry.refreshing = undefined; });
    return entry.refreshing;
  }

  private async load(entry: Entry, namespace: string, ref: StoreRef): Promise<Generation> {
    const { kube, env, log } = this.options;
    let settings: PortSettings;
    let objectStore: Record<string, unknown>;
    try {
      objectStore = await kube.getObjectStore(namespace, ref.objectStoreName);
      settings = await settingsFromObjectStore({ namespace, name: ref.objectStoreName, resource: objectStore, serverName: ref.serverName, secrets: kube.secrets(), env });
    } catch (err) {
      const transient = isPgstowError(err) && err.exitCode === ExitCode.NETWORK;
      if (transient && entry.current) {
        log.warning(`re-reading ObjectStore ${namespace}/${ref.objectStoreName} failed; keeping the settings read before: ${errorMessage(err)}`, { code: 'W_PLUGIN_CONFIG_STALE' });
        entry.checkedAt = this.now();
        return entry.current;
      }
      throw err;
    }
    entry.checkedAt = this.now();
    const current = entry.current;
    if (current && current.settings.fingerprint === settings.fingerprint) {
      current.objectStore = objectStore;
      return current;
    }
    this.options.secrets.add(settings.secretValues);
    const engine = await openEngine(settings, {
      log: log.child({ objectStore: ref.objectStoreName, serverName: ref.serverName }), ...(this.options.memory ? { memory: this.options.memory } : {}),
    });
    const gen: Generation = { engine, settings, objectStore, refs: 0, retired: false };
    entry.current = gen;
    if (current) {
      log.info(`ObjectStore ${namespace}/${ref.objectStoreName} or its Secrets changed: new calls use the new settings`, { objectStore: ref.objectStoreName });
      current.retired = true;
      if (current.refs === 0) await this.closeGeneration(current);
    }
    return gen;
  }

  private async closeGeneration(gen: Generation): Promise<void> {
    try {
      await gen.engine.close();
    } catch (err) {
      this.options.log.debug(`closing a retired engine: ${errorMessage(err)}`);
    }
  }

  /** Refuses new leases and closes every engine (calls in flight were drained by the server first). */
  async close(): Promise<void> {
    this.closed = true;
    const gens = [...this.entries.values()].flatMap((e) => (e.current ? [e.current] : []));
    this.entries.clear();
    await Promise.all(gens.map((g) => this.closeGeneration(g)));
  }
}
