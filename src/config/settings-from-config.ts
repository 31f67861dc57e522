/**
 * EngineSettings for a command run with --config: the manifest's settings (settingsFromObjectStore over the
 * resolved ResolvedConfig), the environment where CloudNativePG would let it apply (spec.env and the
 * process environment for identities, the CA bundle variables when the manifest has no endpointCA), then
 * the command line on top, then the manifest's additional command args filling what is left.
 */
import type { EngineSettings, Provider } from '../engine/settings.js';
import type { SecretText } from '../secret.js';
import { inferProvider } from '../storage/destination.js';
import type { CommandName } from './options.js';
import type { ResolvedConfig } from './resolved-config.js';
import { additionalArgsFor, settingsFromObjectStore, withAdditionalArgs } from './settings-from-manifest.js';
import {
  applyOptionValues, applyProcessEnv, azureCredentialsFromEnv, gcsSettingsFromEnv, s3CredentialsFromEnv, s3SettingsFromEnv, settingsFromCli, type Env, type OptionValues,
} from './settings-from-cli.js';
import { mergeSettings } from './settings-merge.js';

/** The manifest's settings, with the environment (process env + spec.env) where CNPG's sidecar would use it. */
export function settingsFromResolvedConfig(config: ResolvedConfig, baseEnv: Env, serverName = config.serverName ?? ''): EngineSettings {
  const env: Record<string, string | undefined> = { ...baseEnv };
  for (const [k, v] of Object.entries(config.extraEnv)) env[k] = typeof v === 'string' ? v : v.reveal();
  const byField = new Map<string, SecretText>(config.secrets.map((u) => [u.field, u.value]));
  const settings = settingsFromObjectStore({
    configuration: config.configuration, serverName, env, path: config.source.path,
    secret: (_selector, field) => byField.get(field),
    ...(config.retentionPolicy ? { retentionPolicy: config.retentionPolicy.text } : {}),
  });
  if (settings.provider === 'aws-s3') {
    // Region and checksum modes from spec.env / the environment, as botocore would read them.
    settings.s3 = { ...s3SettingsFromEnv(env), ...settings.s3 };
  }
  if (!settings.endpointCa) {
    // As without a manifest: Barman's CA bundle variables still apply when the manifest has no endpointCA.
    const bundle = settings.provider === 'aws-s3' ? env.AWS_CA_BUNDLE : settings.provider === 'azure-blob-storage' ? env.REQUESTS_CA_BUNDLE : undefined;
    if (bundle) settings.endpointCa = { file: bundle };
  }
  if (settings.provider === 'google-cloud-storage') {
    const g = gcsSettingsFromEnv(env, settings, undefined);
    if (g.endpointUrl) settings.endpointUrl = g.endpointUrl;
    settings.gcs = { ...settings.gcs, ...g.gcs };
    settings.credentials ??= g.credentials;
  }
  return settings;
}

export interface CommandWithConfig {
  command: CommandName;
  config: ResolvedConfig;
  /** The command line's option values. */
  values: OptionValues;
  /** The destination and server name in force (positionals win over the manifest). */
  destination: string;
  serverName: string;
  env: Env;
}

/**
 * The command line wins over the manifest, which wins over its additional command args (CNPG's rule). Returns
 * the settings and the per-call values the additional args add (a backup's --name…), for the command to use
 * where its own command line has none.
 */
export function settingsWithConfig(input: CommandWithConfig): { settings: EngineSettings; extraValues: OptionValues } {
  const { config, values, env, command } = input;
  const provider = providerFor(values, input.destination, config);
  const manifest = settingsFromResolvedConfig(config, env, input.serverName);
  manifest.destination = input.destination;
  if (provider !== config.provider) {
    // Another kind of store than the manifest's: its WAL, data and retention settings apply, its credentials,
    // CA and provider options do not; the environment gives the credentials, as without a manifest.
    const cli = settingsFromCli({ command, values, destination: input.destination, serverName: input.serverName, env });
    const { credentials: _c, endpointCa: _ca, s3: _s3, azure: _az, gcs: _g, ...portable } = manifest;
    return { settings: mergeSettings(cli, portable), extraValues: {} };
  }
  const flags: EngineSettings = { destination: input.destination, serverName: input.serverName, provider };
  applyOptionValues(flags, command, values);
  applyProcessEnv(flags, env);
  // Only credentials and the CA the command line names itself (a profile, --credential, --endpoint-ca).
  if (values.awsProfile && provider === 'aws-s3') flags.credentials = s3CredentialsFromEnv(env, values.awsProfile as string);
  if (values.azureCredential && provider === 'azure-blob-storage') flags.credentials = azureCredentialsFromEnv(env, values.azureCredential as string);
  if (values.endpointCa) flags.endpointCa = { file: values.endpointCa as string };
  const merged = mergeSettings(flags, manifest);
  const extra = withAdditionalArgs(merged, command, additionalArgsFor(command, config.configuration), `${config.source.path}.additionalCommandArgs`);
  return { settings: extra.settings, extraValues: extra.values };
}

/** With a config the provider comes from its credentials block, unless a flag or a different URL says otherwise. */
function providerFor(values: OptionValues, url: string, config: ResolvedConfig): Provider {
  const explicit = values.cloudProvider as string | undefined;
  if (explicit !== undefined) return inferProvider(url, explicit);
  if (url === config.destinationPath) return config.provider;
  try {
    return inferProvider(url);
  } catch {
    return config.provider;
  }
}
