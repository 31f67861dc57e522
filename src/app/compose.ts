/**
 * Composition root: the one place that turns parsed command-line options and, with --config, a CloudNativePG
 * manifest into a ready ObjectStore with its decorators and the Barman layout for one server.
 */
import type { CommandSpec, ParsedArgs } from '../cli/args.js';
import type { CommandContext } from '../cli/command.js';
import { attachConfig, configOf, configOriginOf, configRequestOf, destinationOf, parseCommandArgs, registerConfigModule, storeOptionsFromArgs } from '../cli/common-options.js';
import type { LoadConfigOptions } from '../config/load-config.js';
import type { ResolvedConfig } from '../config/resolved-config.js';
import { BarmanLayout } from '../repository/barman-layout.js';
import type { ObjectStore } from '../storage/object-store.js';
import { openStore, supportsLiveSettings } from '../storage/registry.js';
import { withRetry } from '../storage/decorators/retrying-store.js';
import { deadlineFor, withDeadline } from '../storage/decorators/deadline-store.js';
import type { Destination, StoreOptions } from '../storage/store-options.js';

export interface ComposedStore {
  store: ObjectStore;
  layout: BarmanLayout;
  destination: Destination;
  options: StoreOptions;
  serverName: string;
  /** The resolved --config manifest (wal/data settings, tags, retention policy), when one was given. */
  config?: ResolvedConfig;
}

/**
 * Loads the --config manifest (or PGSTOW_CONFIG for pgstow commands) when there is one, registers its secret
 * values with the output redactor, and returns it; undefined without a config. The config modules (YAML parser,
 * and the Kubernetes client when used) are loaded only here, so commands without --config do not pay for them.
 */
export async function loadConfigFromArgs(args: ParsedArgs, ctx: CommandContext): Promise<ResolvedConfig | undefined> {
  const loaded = configOf(args);
  if (loaded) return loaded;
  const request = configRequestOf(args, ctx.env, ctx.barmanMode);
  if (!request) return undefined;
  const { loadConfig } = await import('../config/load-config.js');
  const resolvedConfig = await import('../config/resolved-config.js');
  registerConfigModule(resolvedConfig);
  const { secretValues } = resolvedConfig;
  const config = await loadConfig(request);
  ctx.secrets.push(...secretValues(config));
  attachConfig(args, config);
  return config;
}

/**
 * Loads the manifest for a command line and returns the args the command runs with: the options CNPG derives
 * from the manifest (compression, encryption, tags, jobs…) and its *AdditionalCommandArgs added as CNPG adds
 * them, never overriding what the command line says; configOf() of the result is the config.
 */
export async function argsWithConfig(command: string, spec: CommandSpec, argv: readonly string[], args: ParsedArgs, ctx: CommandContext): Promise<ParsedArgs> {
  const config = await loadConfigFromArgs(args, ctx);
  if (!config) return args;
  const { additionalArgsFor, filterAdditionalArgs, manifestArgv, manifestOptionsFor } = await import('../config/additional-args.js');
  const fromManifest = manifestArgv(manifestOptionsFor(command, config), spec.options, args);
  const extra = [...fromManifest, ...filterAdditionalArgs(additionalArgsFor(command, config), [...argv, ...fromManifest])];
  let result = args;
  if (extra.length > 0) {
    result = parseCommandArgs(spec, [...extra, ...argv], ctx.env, ctx.barmanMode);
    attachConfig(result, config);
  }
  const request = configRequestOf(result, ctx.env, ctx.barmanMode);
  if (request && watchesConfig(command, result)) watchRequests.set(result, { request, ctx });
  return result;
}

/**
 * Commands that may run long enough for a Secret or CA to rotate under them watch their --config: backups,
 * restores, backup deletion, and the WAL commands when --max-parallel (or wal.maxParallel) makes one call
 * handle a batch. A single-WAL archive_command/restore_command runs for a fraction of a second and is started
 * again for the next WAL, so it reads the current Secrets anyway and never pays for file watchers.
 */
export function watchesConfig(command: string, args: ParsedArgs): boolean {
  if (args.options.test) return false;
  switch (command) {
    case 'backup': case 'restore': case 'backup-delete': return true;
    case 'wal-archive': case 'wal-restore': return ((args.options.maxParallel as number | undefined) ?? 1) > 1;
    default: return false;
  }
}

const watchRequests = new WeakMap<ParsedArgs, { request: LoadConfigOptions; ctx: CommandContext }>();

/** Opens the store named by the command's URL + SERVER_NAME positionals, options and --config manifest. */
export async function composeStore(args: ParsedArgs, ctx: CommandContext): Promise<ComposedStore> {
  const config = await loadConfigFromArgs(args, ctx);
  const { url, serverName } = destinationOf(args, config);
  const options = storeOptionsFromArgs(args, ctx.env, url, config);
  const composed = await composeStoreFromOptions(options, serverName);
  if (config) composed.config = config;
  return composed;
}

export async function composeStoreFromOptions(options: StoreOptions, serverName: string): Promise<ComposedStore> {
  const opened = await openWatchedStore(options) ?? await openStore(options);
  const { destination } = opened;
  // Transient failures (throttling, 5xx, resets, timeouts) are retried with backoff for every command, and no call
  // waits longer than the deadline, retries included (a store that accepts connections and never answers).
  const store = withDeadline(withRetry(opened.store), deadlineFor(options));
  return { store, destination, options, serverName, layout: new BarmanLayout(destination.prefix, serverName) };
}

/**
 * For a command that watches its --config (watchesConfig): starts a ConfigWatcher on the manifest, Secret
 * manifests, mounted Secrets directory and Kubernetes API, and opens a store that follows it. Drivers that
 * take credentials and the CA per request (S3) get StoreOptions.live and keep one client; the others are
 * reopened per generation, each operation keeping the store it started with. Undefined when not watching.
 */
async function openWatchedStore(options: StoreOptions): Promise<{ store: ObjectStore; destination: Destination } | undefined> {
  const origin = configOriginOf(options);
  const watch = origin && watchRequests.get(origin.args);
  const initial = origin && configOf(origin.args);
  if (!origin || !watch || !initial) return undefined;
  const { ConfigWatcher } = await import('../config/config-watcher.js');
  const { secretValues } = await import('../config/resolved-config.js');
  const { withRotation } = await import('../storage/decorators/rotating-store.js');
  const { ctx } = watch;
  // A rotated config changes only what rotates: credentials (env) and the CA. Everything the command set on
  // its options (part sizes, encryption, concurrency) stays.
  const rebuild = (config: ResolvedConfig): StoreOptions => {
    const fresh = storeOptionsFromArgs(origin.args, origin.env, origin.url, config);
    const next: StoreOptions = { ...options, env: fresh.env };
    delete next.live;
    if (fresh.caFile) next.caFile = fresh.caFile;
    else delete next.caFile;
    return next;
  };
  const watcher = await ConfigWatcher.start({ ...watch.request, initial, toStoreOptions: rebuild });
  watcher.on('change', (config, generation) => {
    ctx.secrets.push(...secretValues(config));
    ctx.log.info(`${config.source.file}: configuration changed (generation ${generation}); new requests use the new credentials and CA`);
  });
  watcher.on('error', (err) => {
    ctx.log.warning(`${watch.request.configFile}: re-reading the configuration failed, keeping the last good one: ${err instanceof Error ? err.message : String(err)}`);
  });
  try {
    if (await supportsLiveSettings(options.provider)) {
      const live = (): { env: StoreOptions['env']; caFile: string | undefined } => {
        const o = watcher.storeOptions();
        return { env: o.env, caFile: o.caFile };
      };
      const opened = await openStore({ ...options, live });
      const inner = opened.store;
      // One store for the whole run; the wrapper only ties the watcher's end to the store's.
      const store = withRotation(inner, {
        acquire: () => Promise.resolve({ store: inner, release: () => Promise.resolve() }),
        close: async () => { await watcher.close(); await inner.close(); },
      });
      return { store, destination: opened.destination };
    }
    const first = await watcher.acquire();
    await first.release();
    const store = withRotation(first.opened.store, {
      acquire: async () => {
        const lease = await watcher.acquire();
        return { store: lease.opened.store, release: lease.release };
      },
      close: () => watcher.close(),
    });
    return { store, destination: first.opened.destination };
  } catch (err) {
    await watcher.close();
    throw err;
  }
}
