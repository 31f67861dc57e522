/**
 * EngineSettings from a command line: the option values (through the option table) plus the environment, read
 * here and only here, exactly as barman-cloud and CloudNativePG's environment define it (AWS_*, AZURE_*,
 * GOOGLE_*, STORAGE_EMULATOR_HOST, GCE_METADATA_HOST, the CA bundle variables, PG*). Pure: no I/O; the
 * environment is a parameter, so the result is the same for the same inputs.
 */
import * as path from 'node:path';
import { ConfigError } from '../errors.js';
import type { EngineSettings, Provider } from '../engine/settings.js';
import type { AzureIdentitySettings, StoreCredentials } from '../storage/credentials.js';
import { inferProvider } from '../storage/destination.js';
import type { ProxyVariables } from '../storage/proxy-choice.js';
import { COMMAND_OPTIONS, settingOf, type CommandName } from './options.js';
import { setPath } from './settings-merge.js';

export type Env = Readonly<Record<string, string | undefined>>;
/** Parsed option values by `dest` (the parser's ParsedArgs.options). */
export type OptionValues = Readonly<Record<string, unknown>>;

export interface CliSettingsInput {
  command: CommandName;
  values: OptionValues;
  destination: string;
  serverName: string;
  env: Env;
}

export function settingsFromCli(input: CliSettingsInput): EngineSettings {
  const provider = inferProvider(input.destination, input.values.cloudProvider as string | undefined);
  const settings: EngineSettings = { destination: input.destination, serverName: input.serverName, provider };
  applyOptionValues(settings, input.command, input.values);
  Object.assign(settings, providerSettingsFromEnv(provider, input.values, input.env, settings));
  applyProcessEnv(settings, input.env);
  return settings;
}

/**
 * What the command's own environment says beyond the store: the libpq variables for the backup connection,
 * the spool base (PGSTOW_SPOOL_DIR), the prefetch miss TTL (PGSTOW_PREFETCH_MISS_TTL) and the runtime directory.
 */
export function applyProcessEnv(settings: EngineSettings, env: Env): void {
  const pgEnv = libpqEnv(env);
  if (Object.keys(pgEnv).length > 0) settings.postgres = { ...settings.postgres, libpqEnv: pgEnv };
  if (env.PGSTOW_SPOOL_DIR) setPath(settings, 'wal.spoolDir', env.PGSTOW_SPOOL_DIR);
  if (env.PGSTOW_PREFETCH_MISS_TTL && Number(env.PGSTOW_PREFETCH_MISS_TTL) >= 0) {
    setPath(settings, 'wal.prefetchMissTtlSeconds', Number(env.PGSTOW_PREFETCH_MISS_TTL));
  }
  if (env.PGSTOW_RUNTIME_DIR) settings.runtimeDir = env.PGSTOW_RUNTIME_DIR;
}

/** Sets every setting the given option values carry, through the option table. */
export function applyOptionValues(settings: EngineSettings, command: CommandName, values: OptionValues): void {
  for (const o of COMMAND_OPTIONS[command]) {
    const target = settingOf(o, command);
    const v = values[o.dest];
    if (!target || v === undefined || v === false) continue;
    const value = target.value !== undefined ? target.value : target.parse ? target.parse(v, o.flags.at(-1) ?? o.dest) : v;
    if (value !== undefined) setPath(settings, target.path, value);
  }
}

/**
 * Credentials, CA and provider details from flags and the environment. `settings` already holds what the
 * option table set (endpointUrl, s3.addressingStyle…); what is returned is merged over it.
 */
export function providerSettingsFromEnv(provider: Provider, values: OptionValues, env: Env, settings: EngineSettings): Partial<EngineSettings> {
  const caFlag = values.endpointCa as string | undefined;
  switch (provider) {
    case 'aws-s3': {
      const out: Partial<EngineSettings> = { credentials: s3CredentialsFromEnv(env, values.awsProfile as string | undefined), s3: s3SettingsFromEnv(env, settings.s3) };
      const ca = caFlag ?? (env.AWS_CA_BUNDLE || undefined);
      if (ca) out.endpointCa = { file: ca };
      return withProxy(out, env);
    }
    case 'azure-blob-storage': {
      const out: Partial<EngineSettings> = { credentials: azureCredentialsFromEnv(env, values.azureCredential as string | undefined) };
      const ca = caFlag ?? (env.REQUESTS_CA_BUNDLE || undefined);
      if (ca) out.endpointCa = { file: ca };
      return withProxy(out, env);
    }
    case 'google-cloud-storage':
      return withProxy(gcsSettingsFromEnv(env, settings, caFlag), env);
    default:
      return caFlag ? { endpointCa: { file: caFlag } } : {};
  }
}

/** The settings with the environment's proxy variables, when it names a proxy. */
function withProxy(out: Partial<EngineSettings>, env: Env): Partial<EngineSettings> {
  const proxy = proxyVariables(env);
  return proxy ? { ...out, proxy } : out;
}

/**
 * The proxy variables as botocore reads them (Python's urllib: the lower-case name wins over the upper-case one;
 * ALL_PROXY for a scheme without its own), for every store driver. Undefined when no proxy is named.
 */
export function proxyVariables(env: Env): ProxyVariables | undefined {
  const read = (name: string): string | undefined => blank(env[name.toLowerCase()]) ?? blank(env[name]);
  const all = read('ALL_PROXY');
  const https = read('HTTPS_PROXY') ?? all;
  const http = read('HTTP_PROXY') ?? all;
  if (https === undefined && http === undefined) return undefined;
  const noProxy = read('NO_PROXY');
  return { ...(https !== undefined ? { https } : {}), ...(http !== undefined ? { http } : {}), ...(noProxy !== undefined ? { noProxy } : {}) };
}

/** Region and checksum modes as botocore reads them (AWS_REGION over AWS_DEFAULT_REGION). */
export function s3SettingsFromEnv(env: Env, base: EngineSettings['s3'] = {}): NonNullable<EngineSettings['s3']> {
  const s3 = { ...base };
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (region) s3.region = region;
  const req = checksumMode(env.AWS_REQUEST_CHECKSUM_CALCULATION, 'AWS_REQUEST_CHECKSUM_CALCULATION');
  const res = checksumMode(env.AWS_RESPONSE_CHECKSUM_VALIDATION, 'AWS_RESPONSE_CHECKSUM_VALIDATION');
  if (req) s3.requestChecksumCalculation = req;
  if (res) s3.responseChecksumValidation = res;
  return s3;
}

/** CloudNativePG's order: a named profile (-P), explicit keys (what CNPG injects), IRSA web identity, the default chain. */
export function s3CredentialsFromEnv(env: Env, profile: string | undefined): StoreCredentials {
  if (profile) {
    return { kind: 's3-profile', profile, ...(env.AWS_CONFIG_FILE ? { configFile: env.AWS_CONFIG_FILE } : {}),
      ...(env.AWS_SHARED_CREDENTIALS_FILE ? { credentialsFile: env.AWS_SHARED_CREDENTIALS_FILE } : {}) };
  }
  const id = env.AWS_ACCESS_KEY_ID;
  const secret = env.AWS_SECRET_ACCESS_KEY;
  if (id && !secret) throw new ConfigError('AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not', 'AWS_SECRET_ACCESS_KEY');
  if (secret && !id) throw new ConfigError('AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not', 'AWS_ACCESS_KEY_ID');
  if (id && secret) return { kind: 's3-access-key', accessKeyId: id, secretAccessKey: secret, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) };
  if (env.AWS_ROLE_ARN && env.AWS_WEB_IDENTITY_TOKEN_FILE) {
    return { kind: 's3-web-identity', roleArn: env.AWS_ROLE_ARN, tokenFile: env.AWS_WEB_IDENTITY_TOKEN_FILE,
      ...(env.AWS_ROLE_SESSION_NAME ? { sessionName: env.AWS_ROLE_SESSION_NAME } : {}),
      ...(env.AWS_ENDPOINT_URL_STS ? { stsEndpoint: env.AWS_ENDPOINT_URL_STS } : {}) };
  }
  return { kind: 's3-default-chain' };
}

function checksumMode(value: string | undefined, name: string): 'when_required' | 'when_supported' | undefined {
  if (value === undefined || value === '') return undefined;
  const v = value.trim().toLowerCase();
  if (v === 'when_required' || v === 'when_supported') return v;
  throw new ConfigError(`must be when_supported or when_required, not "${value}"`, name);
}

const blank = (v: string | undefined): string | undefined => (v === undefined || v.trim() === '' ? undefined : v.trim());

/** Barman's precedence: --credential > AZURE_STORAGE_CONNECTION_STRING > AZURE_STORAGE_SAS_TOKEN > AZURE_STORAGE_KEY > DefaultAzureCredential. */
export function azureCredentialsFromEnv(env: Env, credential: string | undefined): StoreCredentials {
  const identity = azureIdentityFromEnv(env);
  if (credential) return { kind: 'azure-entra-id', method: credential as 'default' | 'managed-identity' | 'azure-cli', identity, explicit: true };
  const cs = blank(env.AZURE_STORAGE_CONNECTION_STRING);
  if (cs) return { kind: 'azure-connection-string', connectionString: cs };
  const sas = blank(env.AZURE_STORAGE_SAS_TOKEN);
  if (sas) return { kind: 'azure-sas', sasToken: sas };
  const key = blank(env.AZURE_STORAGE_KEY);
  if (key) return { kind: 'azure-shared-key', accountKey: key };
  return { kind: 'azure-entra-id', method: 'default', identity, explicit: false };
}

/** The variables @azure/identity would read from the environment, as typed settings. */
export function azureIdentityFromEnv(env: Env): AzureIdentitySettings {
  const id: { -readonly [K in keyof AzureIdentitySettings]: AzureIdentitySettings[K] } = {};
  const take = (k: keyof AzureIdentitySettings, name: string): void => { const v = blank(env[name]); if (v) id[k] = v; };
  take('clientId', 'AZURE_CLIENT_ID');
  take('tenantId', 'AZURE_TENANT_ID');
  take('clientSecret', 'AZURE_CLIENT_SECRET');
  take('clientCertificatePath', 'AZURE_CLIENT_CERTIFICATE_PATH');
  take('federatedTokenFile', 'AZURE_FEDERATED_TOKEN_FILE');
  take('authorityHost', 'AZURE_AUTHORITY_HOST');
  take('managedIdentityEndpoint', 'IDENTITY_ENDPOINT');
  take('managedIdentityHeader', 'IDENTITY_HEADER');
  return id;
}

/**
 * GCS: --endpoint-url authenticates as on Google; STORAGE_EMULATOR_HOST alone is an emulator (no credentials
 * unless GOOGLE_APPLICATION_CREDENTIALS). Without a key, Application Default Credentials: the gcloud ADC file,
 * then the metadata server (GCE_METADATA_HOST).
 */
export function gcsSettingsFromEnv(env: Env, settings: EngineSettings, caFlag: string | undefined): Partial<EngineSettings> {
  const out: Partial<EngineSettings> = {};
  const gcs = { ...settings.gcs };
  const emulatorHost = blank(env.STORAGE_EMULATOR_HOST);
  if (!settings.endpointUrl && emulatorHost) {
    out.endpointUrl = emulatorHost;
    gcs.emulator = true;
  }
  const project = blank(env.GOOGLE_CLOUD_PROJECT) ?? blank(env.GCLOUD_PROJECT);
  if (project) gcs.projectId = project;
  out.gcs = gcs;
  const keyFile = blank(env.GOOGLE_APPLICATION_CREDENTIALS);
  // As Google's Python client (so Barman) does: with STORAGE_EMULATOR_HOST it goes anonymous and never reads
  // GOOGLE_APPLICATION_CREDENTIALS, which CloudNativePG always sets (often to an empty or placeholder file).
  if (gcs.emulator) out.credentials = { kind: 'gcs-anonymous', label: `no credentials (STORAGE_EMULATOR_HOST${keyFile ? '; GOOGLE_APPLICATION_CREDENTIALS ignored' : ''})` };
  else if (keyFile) out.credentials = { kind: 'gcs-key-file', file: keyFile };
  else {
    const configDir = blank(env.CLOUDSDK_CONFIG) ?? (env.HOME ? path.join(env.HOME, '.config', 'gcloud') : undefined);
    const metadataHost = blank(env.GCE_METADATA_HOST);
    out.credentials = {
      kind: 'gcs-application-default',
      ...(configDir ? { adcFile: path.join(configDir, 'application_default_credentials.json') } : {}),
      ...(metadataHost ? { metadataHost } : {}),
    };
  }
  if (caFlag) out.endpointCa = { file: caFlag };
  return out;
}

const LIBPQ_VARS = ['PGHOST', 'PGHOSTADDR', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGPASSFILE', 'PGDATABASE', 'PGSSLMODE', 'PGSSLROOTCERT',
  'PGSSLCERT', 'PGSSLKEY', 'PGCONNECT_TIMEOUT', 'PGAPPNAME'];

/** The libpq environment takeBackup applies to what the flags do not set. */
export function libpqEnv(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of LIBPQ_VARS) { const v = env[k]; if (v !== undefined) out[k] = v; }
  return out;
}
