/**
 * EngineSettings from a CloudNativePG store configuration (Cluster spec.backup.barmanObjectStore, an external
 * cluster's barmanObjectStore, or a plugin ObjectStore's spec.configuration) plus the values of the Secrets
 * it references, resolved by the caller (files, manifests, the Kubernetes API). Pure: the same inputs give the
 * same settings. Fields with a command-line twin go through the option table (`manifest` in options.ts).
 */
import { ConfigError } from '../errors.js';
import { revealText, type SecretText } from '../secret.js';
import type { EngineSettings } from '../engine/settings.js';
import type { StoreCredentials } from '../storage/credentials.js';
import { inferProvider } from '../storage/destination.js';
import { parseArgs } from './argv.js';
import { COMMAND_OPTIONS, settingOf, type CommandName, type OptionDef } from './options.js';
import type { BarmanObjectStoreConfiguration, SecretKeySelector } from './schema.js';
import { MissingSecretsError, type MissingSecret } from './secrets.js';
import { applyOptionValues, azureIdentityFromEnv, proxyVariables, s3CredentialsFromEnv, type Env, type OptionValues } from './settings-from-cli.js';
import { getPath, mergeSettings, setPath } from './settings-merge.js';

export interface ObjectStoreSettingsInput {
  configuration: BarmanObjectStoreConfiguration;
  serverName: string;
  /** The value of one Secret key, or undefined when it cannot be found (every miss is reported at once). */
  secret: (selector: SecretKeySelector, field: string) => SecretText | undefined;
  /** The process environment of the sidecar: identity variables (IRSA, workload identity, GKE), region. */
  env?: Env;
  /** Cluster spec.backup.retentionPolicy / ObjectStore spec.retentionPolicy (30d, 4w, 1m). */
  retentionPolicy?: string;
  /** Where the configuration sits in its manifest, for messages (default spec.configuration). */
  path?: string;
}

export function settingsFromObjectStore(input: ObjectStoreSettingsInput): EngineSettings {
  const c = input.configuration;
  const p = input.path ?? 'spec.configuration';
  const missing: MissingSecret[] = [];
  const get = (field: string, sel: SecretKeySelector | undefined): SecretText | undefined => {
    if (!sel) return undefined;
    const v = input.secret(sel, `${p}.${field}`);
    if (v === undefined) missing.push({ field: `${p}.${field}`, namespace: '', selector: sel, detail: `Secret "${sel.name}" key "${sel.key}" was not found` });
    return v;
  };
  const env = input.env ?? {};
  const provider = c.s3Credentials ? 'aws-s3' : c.azureCredentials ? 'azure-blob-storage' : c.googleCredentials ? 'google-cloud-storage' : inferProvider(c.destinationPath);
  const settings: EngineSettings = { destination: c.destinationPath, serverName: input.serverName, provider };
  applyManifestFields(settings, c);
  const { credentials, region } = credentialsOf(c, get, env);
  if (credentials) settings.credentials = credentials;
  // The region is a plain string in the settings (the SDK puts it in host names); a Secret would print as ***.
  if (region) setPath(settings, 's3.region', revealText(region));
  else if (provider === 'aws-s3' && (env.AWS_REGION || env.AWS_DEFAULT_REGION)) setPath(settings, 's3.region', env.AWS_REGION || env.AWS_DEFAULT_REGION);
  const proxy = proxyVariables(env);
  if (proxy) settings.proxy = proxy;
  const ca = get('endpointCA', c.endpointCA);
  if (ca !== undefined) settings.endpointCa = { pem: ca };
  if (input.retentionPolicy) settings.retentionPolicy = input.retentionPolicy;
  if (missing.length > 0) throw new MissingSecretsError(missing);
  return settings;
}

/** Every option-table entry with a `manifest` field, once per field. */
function manifestOptions(): Array<{ option: OptionDef; command: CommandName }> {
  const seen = new Set<string>();
  const out: Array<{ option: OptionDef; command: CommandName }> = [];
  for (const [command, options] of Object.entries(COMMAND_OPTIONS) as Array<[CommandName, readonly OptionDef[]]>) {
    for (const option of options) {
      if (!option.manifest || seen.has(option.manifest)) continue;
      seen.add(option.manifest);
      out.push({ option, command });
    }
  }
  return out;
}

/** Copies the manifest fields the option table maps (wal.*, data.*, tags, endpointURL) into the settings. */
function applyManifestFields(settings: EngineSettings, c: BarmanObjectStoreConfiguration): void {
  for (const { option, command } of manifestOptions()) {
    const value = getPath(c, option.manifest as string);
    const target = settingOf(option, command);
    if (value === undefined || value === null || !target) continue;
    // Manifest values are already typed (a map of tags, a number): only flag constants need translating.
    setPath(settings, target.path, value);
  }
  // wal.maxParallel 1 is CNPG's default and means "no archive-ahead", as no setting does.
  if (settings.wal?.maxParallel === 1) delete settings.wal.maxParallel;
}

type Getter = (field: string, sel: SecretKeySelector | undefined) => SecretText | undefined;

/** Credentials as CloudNativePG passes them to barman-cloud (cnpg-api §2.1), typed. */
function credentialsOf(c: BarmanObjectStoreConfiguration, get: Getter, env: Env): { credentials?: StoreCredentials; region?: SecretText } {
  if (c.s3Credentials) {
    const s3 = c.s3Credentials;
    // inheritFromIAMRole: the pod's own identity (IRSA web identity from its environment, Pod Identity, instance profile).
    if (s3.inheritFromIAMRole) return { credentials: s3CredentialsFromEnv(env, undefined) };
    const accessKeyId = get('s3Credentials.accessKeyId', s3.accessKeyId);
    const secretAccessKey = get('s3Credentials.secretAccessKey', s3.secretAccessKey);
    const sessionToken = get('s3Credentials.sessionToken', s3.sessionToken);
    const region = get('s3Credentials.region', s3.region);
    if (accessKeyId === undefined || secretAccessKey === undefined) return region !== undefined ? { region } : {};
    return { credentials: { kind: 's3-access-key', accessKeyId, secretAccessKey, ...(sessionToken !== undefined ? { sessionToken } : {}) }, ...(region !== undefined ? { region } : {}) };
  }
  if (c.azureCredentials) return { credentials: azureCredentialsOf(c.azureCredentials, get, env) };
  if (c.googleCredentials?.gkeEnvironment) {
    return { credentials: { kind: 'gcs-application-default', ...(env.GCE_METADATA_HOST ? { metadataHost: env.GCE_METADATA_HOST } : {}) } };
  }
  const json = get('googleCredentials.applicationCredentials', c.googleCredentials?.applicationCredentials);
  if (json !== undefined) return { credentials: { kind: 'gcs-key', json, label: 'googleCredentials.applicationCredentials' } };
  return {};
}

function azureCredentialsOf(az: NonNullable<BarmanObjectStoreConfiguration['azureCredentials']>, get: Getter, env: Env): StoreCredentials | undefined {
  if (az.connectionString) {
    const cs = get('azureCredentials.connectionString', az.connectionString);
    return cs === undefined ? undefined : { kind: 'azure-connection-string', connectionString: cs };
  }
  const account = get('azureCredentials.storageAccount', az.storageAccount);
  const accountName = account !== undefined ? { accountName: account } : {};
  if (az.storageKey) {
    const key = get('azureCredentials.storageKey', az.storageKey);
    return key === undefined ? undefined : { kind: 'azure-shared-key', accountKey: key, ...accountName };
  }
  if (az.storageSasToken) {
    const sas = get('azureCredentials.storageSasToken', az.storageSasToken);
    return sas === undefined ? undefined : { kind: 'azure-sas', sasToken: sas, ...accountName };
  }
  const method = az.useDefaultAzureCredentials ? 'default' : 'managed-identity';
  return { kind: 'azure-entra-id', method, identity: azureIdentityFromEnv(env), explicit: true };
}

/** The additional command args CloudNativePG appends for a command (wal-archive, wal-restore, backup, restore). */
export function additionalArgsFor(command: CommandName, c: BarmanObjectStoreConfiguration): readonly string[] {
  switch (command) {
    case 'wal-archive': return c.wal?.archiveAdditionalCommandArgs ?? [];
    case 'wal-restore': return c.wal?.restoreAdditionalCommandArgs ?? [];
    case 'backup': return c.data?.additionalCommandArgs ?? [];
    case 'restore': return c.data?.restoreAdditionalCommandArgs ?? [];
    default: return [];
  }
}

/**
 * CloudNativePG's rule for *AdditionalCommandArgs as a merge: the extra arguments are parsed with the
 * command's options and fill only what `settings` (the manifest, and a command line on top of it) leaves
 * unset; they never override it. Returns the merged settings and the extra per-call values (e.g. a
 * backup's --name) for the caller to use where it has none of its own.
 */
export function withAdditionalArgs(settings: EngineSettings, command: CommandName, extra: readonly string[], field = 'additionalCommandArgs'): { settings: EngineSettings; values: OptionValues } {
  // An argument without a key ("=x") is dropped, as CloudNativePG drops it.
  const args = extra.filter((a) => (a.split('=')[0] ?? '') !== '');
  if (args.length === 0) return { settings, values: {} };
  let values: OptionValues;
  try {
    values = parseArgs({ name: command, summary: '', positionals: [], options: COMMAND_OPTIONS[command] }, args).options;
  } catch (err) {
    throw new ConfigError(`${(err as Error).message} (in ${extra.join(' ')})`, field);
  }
  const overlay: EngineSettings = { destination: settings.destination, serverName: settings.serverName };
  applyOptionValues(overlay, command, values);
  return { settings: mergeSettings(settings, overlay), values };
}
