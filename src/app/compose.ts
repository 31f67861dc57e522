/**
 * Composition root: the one place that turns parsed command-line options and, with --config, a CloudNativePG
 * manifest into a ready ObjectStore with its decorators and the Barman layout for one server.
 */
import type { CommandSpec, ParsedArgs } from '../cli/args.js';
import type { CommandContext } from '../cli/command.js';
import { attachConfig, configOf, configRequestOf, destinationOf, parseCommandArgs, registerConfigModule, storeOptionsFromArgs } from '../cli/common-options.js';
import type { ResolvedConfig } from '../config/resolved-config.js';
import { BarmanLayout } from '../repository/barman-layout.js';
import type { ObjectStore } from '../storage/object-store.js';
import { openStore } from '../storage/registry.js';
import { withRetry } from '../storage/decorators/retrying-store.js';
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
  if (extra.length === 0) return args;
  const withExtra = parseCommandArgs(spec, [...extra, ...argv], ctx.env, ctx.barmanMode);
  attachConfig(withExtra, config);
  return withExtra;
}

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
  const opened = await openStore(options);
  const { destination } = opened;
  // Transient failures (throttling, 5xx, resets, timeouts) are retried with backoff for every command.
  const store = withRetry(opened.store);
  return { store, destination, options, serverName, layout: new BarmanLayout(destination.prefix, serverName) };
}
