/**
 * Builds the SDK credential for a resolved AzureAuth. @azure/identity is imported only for Entra ID
 * credentials, so key/SAS/connection-string users never load it (it is large and slow to import).
 */
import { tls } from '../../node-net.js';
import type { TokenCredential } from '@azure/core-auth';
import type { AnonymousCredential, StorageSharedKeyCredential } from '@azure/storage-blob';
import { IDENTITY_ENV_VARS, type AzureAuth } from './config.js';
import type { StoreOptions } from '../../store-options.js';
import { blobSdk, loadIdentity } from './sdk.js';

export type AzureSdkCredential = StorageSharedKeyCredential | AnonymousCredential | TokenCredential;

/** Microsoft's own authority hosts: MSAL validates these itself (instance discovery). */
const KNOWN_AUTHORITY_HOSTS = ['login.microsoftonline.com', 'login.chinacloudapi.cn', 'login.microsoftonline.us', 'login.microsoftonline.de'];

/**
 * @azure/identity and MSAL read their settings (IDENTITY_ENDPOINT, AZURE_FEDERATED_TOKEN_FILE, …) from
 * process.env only. Copy them from StoreOptions.env so a resolved configuration, not the ambient
 * environment, decides the credential. A no-op when the options carry process.env itself (the CLI).
 */
export function applyIdentityEnv(env: StoreOptions['env']): void {
  if (env === process.env) return;
  for (const name of IDENTITY_ENV_VARS) {
    const v = env[name];
    if (v === undefined || v === '') delete process.env[name];
    else process.env[name] = v;
  }
}

/** TLS settings for identity requests: the system roots plus the private CA. */
export function identityTlsOptions(caPem: string | undefined): { ca: string[] } | undefined {
  return caPem ? { ca: [...tls.rootCertificates, caPem] } : undefined;
}

export async function buildCredential(auth: AzureAuth, options: StoreOptions, caPem: string | undefined): Promise<AzureSdkCredential> {
  switch (auth.kind) {
    case 'connection-string':
      return auth.accountKey ? new blobSdk.StorageSharedKeyCredential(auth.accountName, auth.accountKey) : new blobSdk.AnonymousCredential();
    case 'sas':
      return new blobSdk.AnonymousCredential();
    case 'shared-key':
      return new blobSdk.StorageSharedKeyCredential(auth.accountName, auth.accountKey);
    case 'token':
      return buildTokenCredential(auth.credential, options, caPem);
  }
}

async function buildTokenCredential(kind: 'azure-cli' | 'managed-identity' | 'default', options: StoreOptions, caPem: string | undefined): Promise<TokenCredential> {
  applyIdentityEnv(options.env);
  const identity = loadIdentity();
  const env = options.env;
  const tlsOptions = identityTlsOptions(caPem);
  // A few quick retries: archive_command is retried by PostgreSQL anyway, and a DBA waits on check-store.
  const common = { retryOptions: { maxRetries: 2 }, ...(tlsOptions ? { tlsOptions } : {}) };
  const clientId = env.AZURE_CLIENT_ID || undefined;
  const tenantId = env.AZURE_TENANT_ID || undefined;
  switch (kind) {
    case 'azure-cli':
      return new identity.AzureCliCredential(tenantId ? { tenantId } : {});
    case 'managed-identity':
      // AZURE_CLIENT_ID selects a user-assigned identity; without it the system-assigned one is used.
      return clientId ? new identity.ManagedIdentityCredential({ clientId, ...common }) : new identity.ManagedIdentityCredential(common);
    case 'default': {
      const authorityHost = env.AZURE_AUTHORITY_HOST || undefined;
      // A custom authority (Azure Stack, a private cloud) cannot be checked against Microsoft's instance
      // discovery service; the administrator who set AZURE_AUTHORITY_HOST vouches for it.
      const custom = authorityHost !== undefined && !KNOWN_AUTHORITY_HOSTS.includes(new URL(authorityHost).hostname.toLowerCase());
      return new identity.DefaultAzureCredential({
        ...common,
        ...(clientId ? { managedIdentityClientId: clientId } : {}),
        ...(tenantId ? { tenantId } : {}),
        ...(authorityHost ? { authorityHost } : {}),
        ...(custom ? { disableInstanceDiscovery: true } : {}),
      });
    }
  }
}
