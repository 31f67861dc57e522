/**
 * Builds the SDK credential for a resolved AzureAuth. @azure/identity is imported only for Entra ID
 * credentials, so key/SAS/connection-string users never load it (it is large and slow to import). Every
 * identity setting comes from the typed settings, never from process.env: the chain DefaultAzureCredential
 * would build from the environment is built here from AzureIdentitySettings.
 */
import { tls } from '../../node-net.js';
import type { TokenCredential } from '@azure/core-auth';
import type { AnonymousCredential, StorageSharedKeyCredential } from '@azure/storage-blob';
import { revealText } from '../../../secret.js';
import type { AzureIdentitySettings } from '../../credentials.js';
import type { AzureAuth, AzureTokenCredentialKind } from './config.js';
import { blobSdk, loadIdentity } from './sdk.js';
import { EndpointManagedIdentityCredential } from './managed-identity-endpoint.js';

export type AzureSdkCredential = StorageSharedKeyCredential | AnonymousCredential | TokenCredential;

/** Microsoft's own authority hosts: MSAL validates these itself (instance discovery). */
const KNOWN_AUTHORITY_HOSTS = ['login.microsoftonline.com', 'login.chinacloudapi.cn', 'login.microsoftonline.us', 'login.microsoftonline.de'];

/** TLS settings for identity requests: the system roots plus the private CA. */
export function identityTlsOptions(caPem: string | undefined): { ca: string[] } | undefined {
  return caPem ? { ca: [...tls.rootCertificates, caPem] } : undefined;
}

export async function buildCredential(auth: AzureAuth, caPem: string | undefined): Promise<AzureSdkCredential> {
  switch (auth.kind) {
    case 'connection-string':
      return auth.accountKey ? new blobSdk.StorageSharedKeyCredential(auth.accountName, auth.accountKey) : new blobSdk.AnonymousCredential();
    case 'sas':
      return new blobSdk.AnonymousCredential();
    case 'shared-key':
      return new blobSdk.StorageSharedKeyCredential(auth.accountName, auth.accountKey);
    case 'token':
      return buildTokenCredential(auth.credential, auth.identity, caPem);
  }
}

function buildTokenCredential(kind: AzureTokenCredentialKind, id: AzureIdentitySettings, caPem: string | undefined): TokenCredential {
  const identity = loadIdentity();
  const tlsOptions = identityTlsOptions(caPem);
  // A few quick retries: archive_command is retried by PostgreSQL anyway, and a DBA waits on check-store.
  const common = { retryOptions: { maxRetries: 2 }, ...(tlsOptions ? { tlsOptions } : {}) };
  const authority = authorityOptions(id.authorityHost);
  const managedIdentity = (): TokenCredential => {
    if (id.managedIdentityEndpoint && id.managedIdentityHeader !== undefined) {
      return new EndpointManagedIdentityCredential({
        endpoint: id.managedIdentityEndpoint, header: revealText(id.managedIdentityHeader),
        ...(id.clientId ? { clientId: id.clientId } : {}), ...(tlsOptions ? { ca: tlsOptions.ca } : {}),
      });
    }
    // AZURE_CLIENT_ID selects a user-assigned identity; without it the system-assigned one (IMDS) is used.
    return id.clientId ? new identity.ManagedIdentityCredential({ clientId: id.clientId, ...common }) : new identity.ManagedIdentityCredential(common);
  };
  switch (kind) {
    case 'azure-cli':
      return new identity.AzureCliCredential(id.tenantId ? { tenantId: id.tenantId } : {});
    case 'managed-identity':
      return managedIdentity();
    case 'default': {
      // DefaultAzureCredential's order: service principal, workload identity, managed identity, Azure CLI.
      const chain: TokenCredential[] = [];
      const { tenantId, clientId } = id;
      if (tenantId && clientId && id.clientSecret !== undefined) {
        chain.push(new identity.ClientSecretCredential(tenantId, clientId, revealText(id.clientSecret), { ...common, ...authority }));
      } else if (tenantId && clientId && id.clientCertificatePath) {
        chain.push(new identity.ClientCertificateCredential(tenantId, clientId, { certificatePath: id.clientCertificatePath }, { ...common, ...authority }));
      }
      if (tenantId && clientId && id.federatedTokenFile) {
        chain.push(new identity.WorkloadIdentityCredential({ tenantId, clientId, tokenFilePath: id.federatedTokenFile, ...common, ...authority }));
      }
      chain.push(managedIdentity(), new identity.AzureCliCredential(tenantId ? { tenantId } : {}));
      return new identity.ChainedTokenCredential(...chain);
    }
  }
}

/**
 * A custom authority (Azure Stack, a private cloud) cannot be checked against Microsoft's instance discovery
 * service; the administrator who set it vouches for it.
 */
function authorityOptions(authorityHost: string | undefined): { authorityHost?: string; disableInstanceDiscovery?: boolean } {
  if (!authorityHost) return {};
  const custom = !KNOWN_AUTHORITY_HOSTS.includes(new URL(authorityHost).hostname.toLowerCase());
  return { authorityHost, ...(custom ? { disableInstanceDiscovery: true } : {}) };
}
