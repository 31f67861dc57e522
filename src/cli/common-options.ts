/**
 * What every command shares: its options (from the option table), the exit-code epilog, argument parsing
 * with --config making the URL and server name optional, and where the destination comes from.
 */
import { parseArgs, type CommandSpec, type ParsedArgs } from '../config/argv.js';
import { COMMAND_OPTIONS, COMMON_OPTIONS, type CommandName } from '../config/options.js';
import { UsageError } from '../errors.js';
import type { ResolvedConfig } from '../config/resolved-config.js';
import type { KubernetesMode, LoadConfigOptions } from '../config/load-config.js';

export { COMMON_OPTIONS, COMMAND_OPTIONS };

/** The options of `command`, in --help order. */
export function optionsOf(command: CommandName): CommandSpec['options'] {
  return COMMAND_OPTIONS[command];
}

/** Positionals that a --config file can supply (pgstow commands only; barman-cloud-* keep Barman's CLI). */
export const CONFIG_SUPPLIED_POSITIONALS: readonly string[] = ['destinationUrl', 'sourceUrl', 'serverName'];

export const EXIT_CODES_EPILOG = `exit codes:
  0  success
  1  the operation failed (e.g. WAL or backup not found, access denied)
  2  the object store could not be reached (network, TLS)
  3  invalid arguments
  4  any other error`;

type Env = Readonly<Record<string, string | undefined>>;

/**
 * parseArgs, except that for pgstow commands with a config (--config or PGSTOW_CONFIG) the destination URL and
 * server name positionals may be left out: `pgstow wal-archive --config cluster.yaml pg_wal/0000…`.
 * barman-cloud-* keep Barman's exact positionals.
 */
export function parseCommandArgs(spec: CommandSpec, argv: readonly string[], env: Env, barmanMode: boolean): ParsedArgs {
  try {
    return parseArgs(spec, argv);
  } catch (err) {
    if (barmanMode || !(err instanceof UsageError)) throw err;
    const positionals = spec.positionals.filter((p) => !CONFIG_SUPPLIED_POSITIONALS.includes(p.name));
    if (positionals.length === spec.positionals.length) throw err;
    let args: ParsedArgs;
    try {
      args = parseArgs({ ...spec, positionals }, argv);
    } catch {
      throw err;
    }
    if (!configRequestOf(args, env, false)) throw err;
    return args;
  }
}

/**
 * What --config asks for (flag, else PGSTOW_CONFIG for pgstow commands), or undefined when no config is used.
 * Positionals and flags given on the command line override the file.
 */
export function configRequestOf(args: ParsedArgs, env: Env, barmanMode = false): LoadConfigOptions | undefined {
  const o = args.options;
  const file = (o.config as string | undefined) ?? (barmanMode ? undefined : env.PGSTOW_CONFIG || undefined);
  if (!file) return undefined;
  const req: LoadConfigOptions = { configFile: file, env };
  const secrets = (o.secrets as string[] | undefined) ?? env.PGSTOW_SECRETS?.split(':').filter((f) => f !== '');
  if (secrets?.length) req.secretsFiles = secrets;
  const dir = (o.secretsDir as string | undefined) ?? (env.PGSTOW_SECRETS_DIR || undefined);
  if (dir) req.secretsDir = dir;
  const kube = (o.kubernetes as string | undefined) ?? (env.PGSTOW_KUBERNETES_SECRETS || undefined);
  if (kube !== undefined) {
    if (kube !== 'auto' && kube !== 'always' && kube !== 'never') throw new UsageError(`PGSTOW_KUBERNETES_SECRETS must be auto, always or never (got "${kube}")`);
    req.kubernetes = kube as KubernetesMode;
  }
  if (typeof o.source === 'string') req.source = o.source;
  const serverName = typeof args.positionals.serverName === 'string' ? args.positionals.serverName : o.serverName as string | undefined;
  if (serverName !== undefined) req.serverName = serverName;
  return req;
}

/** Barman's positional URL + SERVER_NAME pair; with a config, missing ones come from the manifest. */
export function destinationOf(args: ParsedArgs, config: ResolvedConfig | undefined): { url: string; serverName: string } {
  const url = args.positionals.destinationUrl ?? args.positionals.sourceUrl ?? config?.destinationPath;
  const serverName = args.positionals.serverName ?? (args.options.serverName as string | undefined) ?? config?.serverName;
  if (config && typeof url === 'string' && typeof serverName !== 'string') {
    throw new UsageError(`${config.source.file}: no server name (${config.serverNameReason})`);
  }
  if (typeof url !== 'string' || typeof serverName !== 'string') throw new UsageError('the destination URL and server name are required');
  if (serverName === '' || serverName.includes('/')) throw new UsageError(`invalid server name "${serverName}"`);
  return { url, serverName };
}
