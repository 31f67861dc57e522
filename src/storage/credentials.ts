/**
 * Typed credentials, one union per provider. Built once from flags + environment (the CLI) or from a
 * CloudNativePG manifest + resolved Secrets (the plugin); drivers take them as they are and never look at
 * process.env, so two stores in one process can use two identities. Secret fields are SecretText: a plain
 * string from a library caller, or a Secret (prints as ***) from a manifest.
 */
import type { SecretText } from '../secret.js';

/** AWS S3 and S3-compatible stores. */
export type S3Credentials =
  /** An access key (s3Credentials.accessKeyId/secretAccessKey[/sessionToken]). */
  | { readonly kind: 's3-access-key'; readonly accessKeyId: SecretText; readonly secretAccessKey: SecretText; readonly sessionToken?: SecretText }
  /** A named profile of the shared AWS config/credentials files (-P/--aws-profile). */
  | { readonly kind: 's3-profile'; readonly profile: string; readonly configFile?: string; readonly credentialsFile?: string }
  /** IRSA: a web identity token file exchanged at STS for the role. */
  | { readonly kind: 's3-web-identity'; readonly roleArn: string; readonly tokenFile: string; readonly sessionName?: string; readonly stsEndpoint?: string }
  /** The AWS SDK's default chain (s3Credentials.inheritFromIAMRole): Pod Identity, instance profile, … */
  | { readonly kind: 's3-default-chain' };

/** Entra ID identity settings, the typed form of what @azure/identity otherwise reads from the environment. */
export interface AzureIdentitySettings {
  /** AZURE_CLIENT_ID: the application (workload identity, service principal) or user-assigned identity. */
  readonly clientId?: string;
  /** AZURE_TENANT_ID. */
  readonly tenantId?: string;
  /** AZURE_CLIENT_SECRET: a service principal's secret. */
  readonly clientSecret?: SecretText;
  /** AZURE_CLIENT_CERTIFICATE_PATH: a service principal's PEM certificate with its key. */
  readonly clientCertificatePath?: string;
  /** AZURE_FEDERATED_TOKEN_FILE: the projected service-account token of AKS workload identity. */
  readonly federatedTokenFile?: string;
  /** AZURE_AUTHORITY_HOST, e.g. https://login.microsoftonline.com (sovereign clouds, Azure Stack). */
  readonly authorityHost?: string;
  /** IDENTITY_ENDPOINT + IDENTITY_HEADER: a managed-identity endpoint (App Service, Arc, AKS pod identity). */
  readonly managedIdentityEndpoint?: string;
  readonly managedIdentityHeader?: SecretText;
}

/** Azure Blob Storage (Barman's precedence: connection string > SAS > account key > Entra ID). */
export type AzureCredentials =
  | { readonly kind: 'azure-connection-string'; readonly connectionString: SecretText }
  /**
   * Shared key. The account is the destination URL's (as in Barman); `accountName` is what the manifest's
   * storageAccount says, kept for messages.
   */
  | { readonly kind: 'azure-shared-key'; readonly accountKey: SecretText; readonly accountName?: SecretText }
  | { readonly kind: 'azure-sas'; readonly sasToken: SecretText; readonly accountName?: SecretText }
  /**
   * An Entra ID token. `default`: workload identity, service principal, managed identity and Azure CLI, in
   * that order, from `identity`; `managed-identity` (inheritFromAzureAD); `azure-cli` (an `az login`).
   */
  | { readonly kind: 'azure-entra-id'; readonly method: 'default' | 'managed-identity' | 'azure-cli'; readonly identity?: AzureIdentitySettings; readonly explicit?: boolean };

/** Google Cloud Storage. */
export type GcsCredentials =
  /** A JSON credential file (service-account key or any type Google's library reads). */
  | { readonly kind: 'gcs-key-file'; readonly file: string }
  /** The same JSON, as text (googleCredentials.applicationCredentials). */
  | { readonly kind: 'gcs-key'; readonly json: SecretText; readonly label?: string }
  /**
   * Application Default Credentials (gkeEnvironment): the gcloud ADC file when `adcFile` exists, else the
   * metadata server at `metadataHost` (default 169.254.169.254; GKE workload identity, GCE).
   */
  | { readonly kind: 'gcs-application-default'; readonly metadataHost?: string; readonly adcFile?: string }
  /** No credentials: an emulator. `label` says why in descriptions (e.g. a key file that was ignored). */
  | { readonly kind: 'gcs-anonymous'; readonly label?: string };

export type StoreCredentials = S3Credentials | AzureCredentials | GcsCredentials;

/** Every secret value the credentials hold, for scrubbing messages (never logged). */
export function credentialSecrets(c: StoreCredentials | undefined): SecretText[] {
  if (!c) return [];
  switch (c.kind) {
    case 's3-access-key': return [c.secretAccessKey, ...(c.sessionToken ? [c.sessionToken] : [])];
    case 'azure-connection-string': return [c.connectionString];
    case 'azure-shared-key': return [c.accountKey];
    case 'azure-sas': return [c.sasToken];
    case 'azure-entra-id': return [...(c.identity?.clientSecret ? [c.identity.clientSecret] : []), ...(c.identity?.managedIdentityHeader ? [c.identity.managedIdentityHeader] : [])];
    case 'gcs-key': return [c.json];
    default: return [];
  }
}
