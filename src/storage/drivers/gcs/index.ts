/**
 * GCS driver entry point (loaded lazily by the registry): the only place that loads @google-cloud/storage and
 * google-auth-library, so an S3 or Azure command never pays for them.
 */
import type { ObjectStore } from '../../object-store.js';
import type { Destination, StoreOptions } from '../../store-options.js';
import { GCS_SCOPE, GOOGLE_TOKEN_URLS, resolveGcsConfig, type GcsConfig } from './config.js';
import { GcsObjectStore } from './gcs-store.js';

export async function createStore(destination: Destination, options: StoreOptions): Promise<ObjectStore> {
  const config = resolveGcsConfig(destination, options);
  const [{ Storage, IdempotencyStrategy }, auth] = await Promise.all([import('@google-cloud/storage'), createAuth(config)]);
  const storage = new Storage({
    ...(config.apiEndpoint ? { apiEndpoint: config.apiEndpoint } : {}),
    ...(auth ? { authClient: auth, useAuthWithCustomEndpoint: true } : {}),
    ...(options.env.GOOGLE_CLOUD_PROJECT ? { projectId: options.env.GOOGLE_CLOUD_PROJECT } : {}),
    ...(config.timeoutMs !== undefined ? { timeout: config.timeoutMs } : {}),
    retryOptions: {
      autoRetry: true,
      // Every pgstow write is safe to repeat: same key, same bytes; create-if-absent callers compare contents.
      idempotencyStrategy: IdempotencyStrategy.RetryAlways,
      maxRetries: 3,
      retryDelayMultiplier: 2,
      maxRetryDelay: 16,
      totalTimeout: 300,
    },
  });
  return new GcsObjectStore(storage, config, auth);
}

async function createAuth(config: GcsConfig): Promise<import('google-auth-library').GoogleAuth | undefined> {
  if (config.auth.kind === 'anonymous') return undefined;
  // Google's library reads the metadata server address from process.env only; StoreOptions.env is authoritative.
  if (config.metadataHost !== undefined) process.env.GCE_METADATA_HOST = config.metadataHost;
  const { GoogleAuth, DefaultTransporter } = await import('google-auth-library');
  if (config.auth.kind === 'application-default') return new GoogleAuth({ scopes: [GCS_SCOPE] });
  const tokenUri = config.auth.tokenUri;
  let clientOptions: { transporter: InstanceType<typeof DefaultTransporter> } | undefined;
  if (tokenUri !== undefined) {
    // The Node library always posts to Google's token URL; the key's own token_uri (private or test
    // deployments, honoured by Python's google-auth and so by barman) is applied here.
    const transporter = new DefaultTransporter();
    transporter.instance.interceptors.request.add({
      resolved: async (cfg) => (GOOGLE_TOKEN_URLS.includes(String(cfg.url)) ? { ...cfg, url: tokenUri } : cfg),
    });
    clientOptions = { transporter };
  }
  return new GoogleAuth({
    scopes: [GCS_SCOPE],
    credentials: config.auth.json as import('google-auth-library').JWTInput,
    ...(clientOptions ? { clientOptions } : {}),
  });
}
