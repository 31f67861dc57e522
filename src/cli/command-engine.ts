/**
 * How a command gets its engine: settings from the command line and the environment, or from the --config
 * manifest with the command line on top; then openEngine(). Commands that run long enough for a Secret or CA
 * to rotate under them also watch the manifest and hand each new configuration to engine.reconfigure().
 * The config modules (YAML, the Kubernetes client) are loaded only with --config: every archive_command
 * would pay for them otherwise.
 */
import type { ParsedArgs } from '../config/argv.js';
import type { CommandName } from '../config/options.js';
import type { ResolvedConfig } from '../config/resolved-config.js';
import { settingsFromCli, type OptionValues } from '../config/settings-from-cli.js';
import type { Engine, EngineSettings } from '../engine/index.js';
import { openEngine } from '../engine/open-engine.js';
import { errorMessage } from '../errors.js';
import type { CommandContext } from './command.js';
import { configRequestOf, destinationOf } from './common-options.js';
import { pacedBudget } from '../gc-pacer.js';
import { memoryBudget, parseMemorySize, type MemoryBudget } from '../memory-budget.js';
import { revealText } from '../secret.js';
import { UsageError } from '../errors.js';

export interface CommandEngine {
  engine: Engine;
  settings: EngineSettings;
  config: ResolvedConfig | undefined;
  url: string;
  serverName: string;
  /** The command line's values, plus per-call values the manifest's additional command args add. */
  values: OptionValues;
  close(): Promise<void>;
}

/** Loads the --config manifest (or PGSTOW_CONFIG) when there is one and registers its secrets with the redactor. */
export async function loadCommandConfig(args: ParsedArgs, ctx: CommandContext): Promise<ResolvedConfig | undefined> {
  const request = configRequestOf(args, ctx.env, ctx.barmanMode);
  if (!request) return undefined;
  const { loadConfig } = await import('../config/load-config.js');
  const { secretValues } = await import('../config/resolved-config.js');
  const config = await loadConfig(request);
  ctx.secrets.push(...secretValues(config));
  return config;
}

/** The settings of a command line (with its --config manifest when there is one). */
export async function commandSettings(command: CommandName, args: ParsedArgs, ctx: CommandContext, config: ResolvedConfig | undefined):
  Promise<{ settings: EngineSettings; url: string; serverName: string; values: OptionValues }> {
  const { url, serverName } = destinationOf(args, config);
  if (!config) return { settings: settingsFromCli({ command, values: args.options, destination: url, serverName, env: ctx.env }), url, serverName, values: args.options };
  const { settingsWithConfig } = await import('../config/settings-from-config.js');
  const { settings, extraValues } = settingsWithConfig({ command, config, values: args.options, destination: url, serverName, env: ctx.env });
  return { settings, url, serverName, values: { ...extraValues, ...args.options } };
}

/**
 * Commands that may run long enough for a Secret or CA to rotate under them watch their --config: backups,
 * restores, backup deletion, and the WAL commands when --max-parallel (or wal.maxParallel) makes one call
 * handle a batch. A single-WAL archive_command/restore_command runs for a fraction of a second and is started
 * again for the next WAL, so it reads the current Secrets anyway and never pays for file watchers.
 */
export function watchesConfig(command: CommandName, values: OptionValues, settings: EngineSettings): boolean {
  if (values.test) return false;
  switch (command) {
    case 'backup': case 'restore': case 'backup-delete': return true;
    case 'wal-archive': case 'wal-restore': return ((values.maxParallel as number | undefined) ?? settings.wal?.maxParallel ?? 1) > 1;
    default: return false;
  }
}

/** A command line's configuration and settings, for a command that looks at them before it opens its engine. */
export type PreparedCommand = Awaited<ReturnType<typeof commandSettings>> & { config: ResolvedConfig | undefined };

export async function prepareCommand(command: CommandName, args: ParsedArgs, ctx: CommandContext): Promise<PreparedCommand> {
  const config = await loadCommandConfig(args, ctx);
  return { ...await commandSettings(command, args, ctx, config), config };
}

/** Opens the command's engine; `check` may refuse the settings (exit 3) before anything is opened. */
export async function openCommandEngine(command: CommandName, args: ParsedArgs, ctx: CommandContext,
  check?: (settings: EngineSettings, values: OptionValues) => void, prepared?: PreparedCommand): Promise<CommandEngine> {
  const config = prepared ? prepared.config : await loadCommandConfig(args, ctx);
  const { settings, url, serverName, values } = prepared ?? await commandSettings(command, args, ctx, config);
  check?.(settings, values);
  // Garbage collection of freed Buffers is paced (gc-pacer.ts) where a command moves more than a few MiB: a
  // backup, a restore, wal-archive (a 16 MiB segment streamed up and, on a store that ignores create-only writes,
  // read back: 48 MB of dead chunks at its peak unpaced) and wal-restore (its 16 MiB of 16 KiB chunks otherwise
  // wait for V8's external-memory limit: +12 MB peak RSS once the segment checks stopped making garbage).
  const long = command === 'backup' || command === 'restore' || command === 'wal-archive' || command === 'wal-restore';
  const budget = memoryBudgetOf(values, ctx.env, config);
  const { budget: memory, stop: stopPacer } = long ? pacedBudget(budget) : { budget, stop: () => {} };
  let engine: Engine;
  try {
    engine = await openEngine(settings, { log: ctx.log, signal: ctx.signal, memory });
  } catch (err) {
    stopPacer();
    throw err;
  }
  let stopWatching = async (): Promise<void> => {};
  if (config && watchesConfig(command, values, settings)) {
    try {
      stopWatching = await watchConfig(command, args, ctx, config, engine);
    } catch (err) {
      stopPacer();
      await engine.close();
      throw err;
    }
  }
  return { engine, settings, config, url, serverName, values, close: async () => { stopPacer(); await stopWatching(); await engine.close(); } };
}

/**
 * The process's memory budget: --max-memory, else PGSTOW_MAX_MEMORY from the --config manifest's environment
 * (an ObjectStore's instanceSidecarConfiguration.env), else from the process environment, else 100 MiB.
 */
export function memoryBudgetOf(values: OptionValues, env: Readonly<Record<string, string | undefined>>, config: ResolvedConfig | undefined): MemoryBudget {
  const fromConfig = config?.extraEnv.PGSTOW_MAX_MEMORY;
  const [text, where] = typeof values.maxMemory === 'string' ? [values.maxMemory, 'argument --max-memory']
    : fromConfig !== undefined ? [revealText(fromConfig), `PGSTOW_MAX_MEMORY in ${config?.source.file}`]
      : env.PGSTOW_MAX_MEMORY ? [env.PGSTOW_MAX_MEMORY, 'PGSTOW_MAX_MEMORY'] : [undefined, ''];
  if (text === undefined) return memoryBudget();
  try {
    return memoryBudget(parseMemorySize(text));
  } catch (err) {
    throw new UsageError(`${where}: ${(err as Error).message}`);
  }
}

/** Follows the manifest, its Secrets and CA; every new configuration becomes the engine's settings. */
async function watchConfig(command: CommandName, args: ParsedArgs, ctx: CommandContext, initial: ResolvedConfig, engine: Engine): Promise<() => Promise<void>> {
  const { ConfigWatcher } = await import('../config/config-watcher.js');
  const { secretValues } = await import('../config/resolved-config.js');
  const request = configRequestOf(args, ctx.env, ctx.barmanMode);
  if (!request) return async () => {};
  const watcher = await ConfigWatcher.start({ ...request, initial });
  watcher.on('change', (config, generation) => {
    ctx.secrets.push(...secretValues(config));
    void (async () => {
      const { settings } = await commandSettings(command, args, ctx, config);
      await engine.reconfigure(settings);
      ctx.log.info(`${config.source.file}: configuration changed (generation ${generation}); new requests use the new credentials and CA`);
    })().catch((err: unknown) => {
      ctx.log.warning('WARN_CONFIG_RELOAD_FAILED', `${request.configFile}: applying the new configuration failed, keeping the last good one: ${errorMessage(err)}`);
    });
  });
  watcher.on('error', (err) => {
    ctx.log.warning('WARN_CONFIG_RELOAD_FAILED', `${request.configFile}: re-reading the configuration failed, keeping the last good one: ${errorMessage(err)}`);
  });
  return () => watcher.close();
}
