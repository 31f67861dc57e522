/**
 * Options every barman-cloud command takes (barman/clients/cloud_cli.py), plus pgstow's own, and the
 * translation from parsed options + environment to StoreOptions.
 */
import { parseArgs, type CommandSpec, type OptionSpec, type ParsedArgs } from './args.js';
import { inferProvider } from '../storage/destination.js';
import type { CloudProvider, StoreOptions } from '../storage/store-options.js';
import { UsageError } from '../errors.js';
import type { ResolvedConfig } from '../config/resolved-config.js';
import type { KubernetesMode, LoadConfigOptions } from '../config/load-config.js';
import { memoryBudget, parseMemorySize, type MemoryBudget } from '../memory-budget.js';
import { revealText } from '../secret.js';

export const COMMON_OPTIONS: readonly OptionSpec[] = [
  { dest: 'version', flags: ['-V', '--version'], type: 'flag', help: 'show program\'s version number and exit' },
  { dest: 'help', flags: ['--help'], type: 'flag', help: 'show this help message and exit' },
  { dest: 'verbose', flags: ['-v', '--verbose'], type: 'count', help: 'increase output verbosity (e.g., -vv is more than -v)', exclusiveGroup: 'verbosity' },
  { dest: 'quiet', flags: ['-q', '--quiet'], type: 'count', help: 'decrease output verbosity (e.g., -qq is less than -q)', exclusiveGroup: 'verbosity' },
  { dest: 'test', flags: ['-t', '--test'], type: 'flag', help: 'test cloud connectivity and exit' },
  { dest: 'cloudProvider', flags: ['--cloud-provider'], type: 'string', choices: ['aws-s3', 'azure-blob-storage', 'google-cloud-storage', 'file'],
    help: 'the cloud provider (default: from the URL scheme; aws-s3 for s3://)' },
  { dest: 'endpointUrl', flags: ['--endpoint-url'], type: 'string', metavar: 'URL', help: 'override default S3 endpoint URL with the given one' },
  { dest: 'awsProfile', flags: ['-P', '--aws-profile', '--profile'], type: 'string', metavar: 'AWS_PROFILE', help: 'profile name (e.g. INI section in AWS credentials file)' },
  { dest: 'readTimeout', flags: ['--read-timeout'], type: 'int', metavar: 'SECONDS', help: 'the time in seconds until a timeout is raised when waiting to read from a connection (default 60)' },
  { dest: 'azureCredential', flags: ['--azure-credential', '--credential'], type: 'string', choices: ['azure-cli', 'managed-identity', 'default'],
    help: 'optionally specify the type of credential to use when authenticating with Azure' },
  { dest: 'endpointCa', flags: ['--endpoint-ca'], type: 'string', metavar: 'FILE', help: '(pgstow) PEM file with CA certificates trusted in addition to the system roots' },
  { dest: 'addressingStyle', flags: ['--s3-addressing-style'], type: 'string', choices: ['auto', 'path', 'virtual'], help: '(pgstow) S3 addressing style (default auto: path when --endpoint-url is set)' },
  { dest: 'config', flags: ['--config'], type: 'string', metavar: 'FILE', help: '(pgstow) CloudNativePG Cluster or ObjectStore manifest to read settings from (also PGSTOW_CONFIG)' },
  { dest: 'secrets', flags: ['--secrets'], type: 'multi', metavar: 'FILE', help: '(pgstow) YAML file with Secret manifests for --config (repeatable; also PGSTOW_SECRETS, ":"-separated)' },
  { dest: 'secretsDir', flags: ['--secrets-dir'], type: 'string', metavar: 'DIR', help: '(pgstow) Secrets mounted as DIR/<secret>/<key>, as Kubernetes mounts them (also PGSTOW_SECRETS_DIR)' },
  { dest: 'kubernetes', flags: ['--kubernetes-secrets'], type: 'string', choices: ['auto', 'always', 'never'], help: '(pgstow) read Secrets from the Kubernetes API: auto = when a kubeconfig or in-cluster service account exists (also PGSTOW_KUBERNETES_SECRETS)' },
  { dest: 'source', flags: ['--source'], type: 'string', metavar: 'NAME', help: '(pgstow) with --config: use spec.externalClusters[NAME].barmanObjectStore (a restore source)' },
  { dest: 'serverName', flags: ['--server-name'], type: 'string', metavar: 'NAME', help: '(pgstow) with --config: the server name (needed for an ObjectStore not referenced by a Cluster)' },
  { dest: 'debug', flags: ['--debug'], type: 'flag', help: '(pgstow) print stack traces and error causes' },
  { dest: 'maxMemory', flags: ['--max-memory'], type: 'string', metavar: 'SIZE',
    help: '(pgstow) memory budget of this process, e.g. 100Mi or 1Gi (default 100Mi; also PGSTOW_MAX_MEMORY): part sizes, read-ahead and concurrency follow from it' },
];

/** Positionals that a --config file can supply (pgstow commands only; barman-cloud-* keep Barman's CLI). */
export const CONFIG_SUPPLIED_POSITIONALS: readonly string[] = ['destinationUrl', 'sourceUrl', 'serverName'];

export const EXIT_CODES_EPILOG = `exit codes:
  0  success
  1  the operation failed (e.g. WAL or backup not found, access denied)
  2  the object store could not be reached (network, TLS)
  3  invalid arguments
  4  any other error`;

/**
 * parseArgs, except that for pgstow commands with a config (--config or PGSTOW_CONFIG) the destination URL and
 * server name positionals may be left out: `pgstow wal-archive --config cluster.yaml pg_wal/0000…`.
 * barman-cloud-* keep Barman's exact positionals.
 */
export function parseCommandArgs(spec: CommandSpec, argv: readonly string[], env: Readonly<Record<string, string | undefined>>, barmanMode: boolean): ParsedArgs {
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
export function configRequestOf(args: ParsedArgs, env: Readonly<Record<string, string | undefined>>, barmanMode = false): LoadConfigOptions | undefined {
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

const attached = new WeakMap<ParsedArgs, ResolvedConfig>();

type ConfigModule = Pick<typeof import('../config/resolved-config.js'), 'toStoreOptions'>;
let configModule: ConfigModule | undefined;

/**
 * The config modules are not imported here: every archive_command would pay ~8 ms of CPU to load them. Whoever
 * loads a config (app/compose.ts) registers resolved-config.js first, so storeOptionsFromArgs can use it.
 */
export function registerConfigModule(m: ConfigModule): void {
  configModule = m;
}

/** Records the config loaded for these args (cli/main.ts does it before the command runs). */
export function attachConfig(args: ParsedArgs, config: ResolvedConfig): void {
  attached.set(args, config);
}

/**
 * The resolved --config manifest for these args, or undefined without one. Commands read the manifest's
 * settings from it (wal.compression/encryption/maxParallel, data.*, tags, historyTags, retentionPolicy).
 */
export function configOf(args: ParsedArgs): ResolvedConfig | undefined {
  return attached.get(args);
}

/** Barman's positional URL + SERVER_NAME pair; with a config, missing ones come from the manifest. */
export function destinationOf(args: ParsedArgs, config: ResolvedConfig | undefined = configOf(args)): { url: string; serverName: string } {
  const url = args.positionals.destinationUrl ?? args.positionals.sourceUrl ?? config?.destinationPath;
  const serverName = args.positionals.serverName ?? (args.options.serverName as string | undefined) ?? config?.serverName;
  if (config && typeof url === 'string' && typeof serverName !== 'string') {
    throw new UsageError(`${config.source.file}: no server name (${config.serverNameReason})`);
  }
  if (typeof url !== 'string' || typeof serverName !== 'string') throw new UsageError('the destination URL and server name are required');
  if (serverName === '' || serverName.includes('/')) throw new UsageError(`invalid server name "${serverName}"`);
  return { url, serverName };
}

/** Where config-derived StoreOptions came from, so the composition can rebuild them from a rotated config. */
export interface ConfigOrigin {
  args: ParsedArgs;
  env: Readonly<Record<string, string | undefined>>;
  url: string;
}

const configOrigins = new WeakMap<StoreOptions, ConfigOrigin>();

/** The args/env/URL a config-derived StoreOptions was built from (undefined without --config). */
export function configOriginOf(options: StoreOptions): ConfigOrigin | undefined {
  return configOrigins.get(options);
}

/**
 * Builds StoreOptions from parsed flags and the environment; with a resolved config, from the manifest first
 * and then every flag given on the command line on top of it.
 */
export function storeOptionsFromArgs(args: ParsedArgs, env: Readonly<Record<string, string | undefined>>, url: string, config: ResolvedConfig | undefined = configOf(args)): StoreOptions {
  if (config) {
    if (!configModule) throw new Error('internal error: a config was given but config/resolved-config.js was not registered (registerConfigModule)');
    const options = overlayFlags(args, configModule.toStoreOptions(config, env, url), providerForConfig(args, url, config));
    configOrigins.set(options, { args, env, url });
    return options;
  }
  const o = args.options;
  const provider = inferProvider(url, o.cloudProvider as string | undefined);
  const endpointUrl = (o.endpointUrl as string | undefined) ?? undefined;
  const caFile = (o.endpointCa as string | undefined)
    ?? (provider === 'aws-s3' ? env.AWS_CA_BUNDLE : provider === 'azure-blob-storage' ? env.REQUESTS_CA_BUNDLE : undefined);
  const options: StoreOptions = { provider, destinationUrl: url, env };
  if (endpointUrl) options.endpointUrl = endpointUrl;
  if (caFile) options.caFile = caFile;
  if (typeof o.readTimeout === 'number') options.readTimeoutSeconds = o.readTimeout;
  if (provider === 'aws-s3') {
    options.s3 = {};
    if (o.awsProfile) options.s3.profile = o.awsProfile as string;
    if (o.addressingStyle) options.s3.addressingStyle = o.addressingStyle as 'auto' | 'path' | 'virtual';
  }
  if (provider === 'azure-blob-storage') {
    options.azure = {};
    if (o.azureCredential) options.azure.credential = o.azureCredential as 'azure-cli' | 'managed-identity' | 'default';
  }
  if (provider === 'google-cloud-storage') options.gcs = {};
  return options;
}

/** With a config the provider comes from its credentials block, unless a flag or a different URL says otherwise. */
function providerForConfig(args: ParsedArgs, url: string, config: ResolvedConfig): CloudProvider {
  const explicit = args.options.cloudProvider as string | undefined;
  if (explicit !== undefined) return inferProvider(url, explicit);
  if (url === config.destinationPath) return config.provider;
  try {
    return inferProvider(url);
  } catch {
    return config.provider;
  }
}

function overlayFlags(args: ParsedArgs, base: StoreOptions, provider: CloudProvider): StoreOptions {
  const o = args.options;
  const options: StoreOptions = { ...base, provider };
  if (provider !== base.provider) {
    delete options.s3; delete options.azure; delete options.gcs;
  }
  if (o.endpointUrl) options.endpointUrl = o.endpointUrl as string;
  if (o.endpointCa) options.caFile = o.endpointCa as string;
  if (typeof o.readTimeout === 'number') options.readTimeoutSeconds = o.readTimeout;
  if (provider === 'aws-s3') {
    options.s3 = { ...options.s3 };
    if (o.awsProfile) options.s3.profile = o.awsProfile as string;
    if (o.addressingStyle) options.s3.addressingStyle = o.addressingStyle as 'auto' | 'path' | 'virtual';
  }
  if (provider === 'azure-blob-storage') {
    options.azure = { ...options.azure };
    if (o.azureCredential) options.azure.credential = o.azureCredential as 'azure-cli' | 'managed-identity' | 'default';
  }
  if (provider === 'google-cloud-storage') options.gcs = { ...options.gcs };
  return options;
}

/**
 * The process's memory budget: --max-memory, else PGSTOW_MAX_MEMORY from the --config manifest's environment
 * (an ObjectStore's instanceSidecarConfiguration.env), else from the process environment, else 100 MiB.
 */
export function memoryBudgetOf(args: ParsedArgs, env: Readonly<Record<string, string | undefined>>, config: ResolvedConfig | undefined = configOf(args)): MemoryBudget {
  const fromConfig = config?.extraEnv.PGSTOW_MAX_MEMORY;
  const [text, where] = typeof args.options.maxMemory === 'string' ? [args.options.maxMemory, 'argument --max-memory']
    : fromConfig !== undefined ? [revealText(fromConfig), `PGSTOW_MAX_MEMORY in ${config?.source.file}`]
      : env.PGSTOW_MAX_MEMORY ? [env.PGSTOW_MAX_MEMORY, 'PGSTOW_MAX_MEMORY'] : [undefined, ''];
  if (text === undefined) return memoryBudget();
  try {
    return memoryBudget(parseMemorySize(text));
  } catch (err) {
    throw new UsageError(`${where}: ${(err as Error).message}`);
  }
}
