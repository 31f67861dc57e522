/**
 * Driver tests describe a store the way the command line does (a provider, a URL, an environment such as
 * AWS_ACCESS_KEY_ID or STORAGE_EMULATOR_HOST, a CA file, driver tuning). This turns that description into
 * StoreOptions through the production code paths: the CLI's environment interpretation
 * (providerSettingsFromEnv), the composition root's storeOptionsFor and CA loader. Only the tuning a test asks
 * for directly (part sizes, chunk sizes) is laid on top.
 */
import type { EngineSettings } from '../../src/engine/settings.js';
import { loadCa, storeOptionsFor } from '../../src/app/compose.js';
import { providerSettingsFromEnv } from '../../src/config/settings-from-cli.js';
import { openStore, type OpenedStore } from '../../src/storage/registry.js';
import type { AzureStoreOptions, CloudProvider, GcsStoreOptions, S3StoreOptions, StoreOptions } from '../../src/storage/store-options.js';

export interface EnvStoreDescription {
  provider: CloudProvider;
  destinationUrl: string;
  endpointUrl?: string;
  /** The environment the command would run with (credentials, emulator hosts, CA bundles). */
  env: Readonly<Record<string, string | undefined>>;
  caFile?: string;
  readTimeoutSeconds?: number;
  s3?: S3StoreOptions & { profile?: string };
  azure?: AzureStoreOptions & { credential?: 'azure-cli' | 'managed-identity' | 'default' };
  gcs?: GcsStoreOptions;
}

export async function storeOptionsFromEnv(d: EnvStoreDescription): Promise<StoreOptions> {
  return envStoreOptions(d, await loadCa(envSettings(d).endpointCa));
}

function envSettings(d: EnvStoreDescription): EngineSettings {
  const values = { awsProfile: d.s3?.profile, azureCredential: d.azure?.credential, endpointCa: d.caFile };
  const settings: EngineSettings = {
    destination: d.destinationUrl, serverName: 'test', provider: d.provider,
    ...(d.endpointUrl ? { endpointUrl: d.endpointUrl } : {}), ...(d.readTimeoutSeconds !== undefined ? { readTimeoutSeconds: d.readTimeoutSeconds } : {}),
  };
  Object.assign(settings, providerSettingsFromEnv(d.provider, values, d.env, settings));
  return settings;
}

/** The same, synchronously, with the CA already loaded (or none): for tests of the drivers' pure settings code. */
export function envStoreOptions(d: EnvStoreDescription, ca?: import('../../src/storage/store-options.js').CaBundle): StoreOptions {
  const options = storeOptionsFor(envSettings(d), 'wal', ca);
  const { profile: _p, ...s3 } = d.s3 ?? {};
  const { credential: _c, ...azure } = d.azure ?? {};
  if (options.s3) options.s3 = { ...options.s3, ...s3 };
  if (options.azure) options.azure = { ...options.azure, ...azure };
  if (options.gcs) options.gcs = { ...options.gcs, ...d.gcs };
  return options;
}

export async function openStoreFromEnv(d: EnvStoreDescription): Promise<OpenedStore> {
  return openStore(await storeOptionsFromEnv(d));
}

/** The store a command line opens (its options and environment), with the server's layout. */
export async function openCommandStore(command: import('../../src/config/options.js').CommandName, values: Readonly<Record<string, unknown>>, url: string, serverName: string,
  env: Readonly<Record<string, string | undefined>>): Promise<{ store: import('../../src/storage/object-store.js').ObjectStore; layout: import('../../src/repository/barman-layout.js').BarmanLayout }> {
  const { settingsFromCli } = await import('../../src/config/settings-from-cli.js');
  const { composeStore, destinationOf } = await import('../../src/app/compose.js');
  const { BarmanLayout } = await import('../../src/repository/barman-layout.js');
  const settings = settingsFromCli({ command, values, destination: url, serverName, env });
  const { store } = await composeStore(storeOptionsFor(settings, 'wal', await loadCa(settings.endpointCa)));
  return { store, layout: new BarmanLayout(destinationOf(settings).prefix, serverName) };
}

/**
 * What a --config manifest resolves to, shown under the environment-variable names CloudNativePG gives
 * barman-cloud (AWS_ACCESS_KEY_ID, AZURE_STORAGE_KEY, …), so tests can say which Secret value became which
 * credential. Built from the real settingsFromResolvedConfig(); `ca` is the PEM the driver gets.
 */
export interface ManifestView {
  provider: CloudProvider;
  destinationUrl: string;
  endpointUrl: string | undefined;
  env: Record<string, string | undefined>;
  ca: string | undefined;
  azure: { credential?: string };
  settings: EngineSettings;
}

export async function manifestView(config: import('../../src/config/resolved-config.js').ResolvedConfig, env: Readonly<Record<string, string | undefined>>): Promise<ManifestView> {
  const { settingsFromResolvedConfig } = await import('../../src/config/settings-from-config.js');
  const { revealText } = await import('../../src/secret.js');
  const settings = settingsFromResolvedConfig(config, env);
  const v: Record<string, string | undefined> = {};
  const c = settings.credentials;
  const azure: { credential?: string } = {};
  switch (c?.kind) {
    case 's3-access-key':
      v.AWS_ACCESS_KEY_ID = revealText(c.accessKeyId); v.AWS_SECRET_ACCESS_KEY = revealText(c.secretAccessKey);
      if (c.sessionToken !== undefined) v.AWS_SESSION_TOKEN = revealText(c.sessionToken);
      break;
    case 's3-profile': v.AWS_PROFILE = c.profile; break;
    case 's3-web-identity': v.AWS_ROLE_ARN = c.roleArn; v.AWS_WEB_IDENTITY_TOKEN_FILE = c.tokenFile; break;
    case 'azure-connection-string': v.AZURE_STORAGE_CONNECTION_STRING = revealText(c.connectionString); break;
    case 'azure-shared-key':
      v.AZURE_STORAGE_KEY = revealText(c.accountKey);
      if (c.accountName !== undefined) v.AZURE_STORAGE_ACCOUNT = revealText(c.accountName);
      break;
    case 'azure-sas':
      v.AZURE_STORAGE_SAS_TOKEN = revealText(c.sasToken);
      if (c.accountName !== undefined) v.AZURE_STORAGE_ACCOUNT = revealText(c.accountName);
      break;
    case 'azure-entra-id': azure.credential = c.method; break;
    case 'gcs-key': v.GOOGLE_APPLICATION_CREDENTIALS_JSON = revealText(c.json); break;
    case 'gcs-key-file': v.GOOGLE_APPLICATION_CREDENTIALS = c.file; break;
    default: break;
  }
  if (settings.s3?.requestChecksumCalculation) v.AWS_REQUEST_CHECKSUM_CALCULATION = settings.s3.requestChecksumCalculation;
  if (settings.s3?.region) v.AWS_DEFAULT_REGION = settings.s3.region;
  const ca = settings.endpointCa && 'pem' in settings.endpointCa ? revealText(settings.endpointCa.pem) : undefined;
  return { provider: settings.provider as CloudProvider, destinationUrl: settings.destination, endpointUrl: settings.endpointUrl, env: v, ca, azure, settings };
}

/** StoreOptions for a --config manifest, as `pgstow wal-archive --config` builds them. */
export async function storeOptionsFromConfig(config: import('../../src/config/resolved-config.js').ResolvedConfig, env: Readonly<Record<string, string | undefined>>): Promise<StoreOptions> {
  const { settingsFromResolvedConfig } = await import('../../src/config/settings-from-config.js');
  const settings = settingsFromResolvedConfig(config, env);
  return storeOptionsFor(settings, 'wal', await loadCa(settings.endpointCa));
}
