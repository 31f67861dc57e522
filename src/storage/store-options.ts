/**
 * What a driver needs to open a store: the destination URL already split into provider coordinates,
 * plus connection and credential settings. Built by the config layer (flags, environment, manifests) and
 * handed to the registry; nothing here imports an SDK.
 */

export type CloudProvider = 'aws-s3' | 'azure-blob-storage' | 'google-cloud-storage' | 'file';

export const CLOUD_PROVIDERS: readonly CloudProvider[] = ['aws-s3', 'azure-blob-storage', 'google-cloud-storage', 'file'];

export interface S3StoreOptions {
  /** "auto" = path style when an endpoint URL is given (as botocore does), virtual otherwise. */
  addressingStyle?: 'auto' | 'path' | 'virtual';
  /** Flexible checksums; defaults to when_required for any non-AWS endpoint (user-pain item 1). */
  requestChecksumCalculation?: 'when_required' | 'when_supported';
  responseChecksumValidation?: 'when_required' | 'when_supported';
  /** Server-side encryption: AES256 or aws:kms. */
  encryption?: 'AES256' | 'aws:kms';
  sseKmsKeyId?: string;
  /** Named profile from the shared config/credentials files (-P/--aws-profile). */
  profile?: string;
  region?: string;
  /** Multipart part size in bytes (0 = choose from size and maxParts). */
  partSize?: number;
  maxParts?: number;
  /** Parts uploaded at once per object. */
  uploadConcurrency?: number;
}

export interface AzureStoreOptions {
  /** --credential / --azure-credential: which Entra ID credential to use instead of env secrets. */
  credential?: 'azure-cli' | 'managed-identity' | 'default';
  encryptionScope?: string;
  maxBlockSize?: number;
  maxConcurrency?: number;
  maxSinglePutSize?: number;
}

export interface GcsStoreOptions {
  kmsKeyName?: string;
  /** Resumable upload chunk size in bytes. */
  chunkSize?: number;
}

export interface StoreOptions {
  provider: CloudProvider;
  /** The destination URL exactly as the user gave it (s3://bucket/prefix, gs://…, https://acct.blob…, file:///…). */
  destinationUrl: string;
  /** --endpoint-url / endpointURL. */
  endpointUrl?: string;
  /** PEM file with extra CA certificates, added to the system roots (endpointCA, AWS_CA_BUNDLE, REQUESTS_CA_BUNDLE). */
  caFile?: string;
  /** Per-request read timeout in seconds (--read-timeout). */
  readTimeoutSeconds?: number;
  /** Where credentials come from: the process environment or a resolved config (never logged). */
  env: Readonly<Record<string, string | undefined>>;
  s3?: S3StoreOptions;
  azure?: AzureStoreOptions;
  gcs?: GcsStoreOptions;
  /**
   * With a watched --config (long-running commands): the credentials and CA in force now. A driver that
   * supports it (see DriverModule.liveSettings) calls it for each request instead of using `env`/`caFile` once,
   * so a rotated Secret or CA applies to the next request without rebuilding the client mid-transfer.
   */
  live?: () => LiveStoreSettings;
}

/** The part of StoreOptions that rotates: credentials (environment form) and the CA file. */
export interface LiveStoreSettings {
  env: Readonly<Record<string, string | undefined>>;
  caFile: string | undefined;
}

/** A destination URL split into the store root and the key prefix below it. */
export interface Destination {
  provider: CloudProvider;
  /** Bucket (S3, GCS), container (Azure) or directory (file). */
  bucket: string;
  /** Key prefix below the bucket, no leading or trailing "/", possibly empty (Barman's <P>). */
  prefix: string;
  /** Azure only: account and the service URL (https://acct.blob.core.windows.net or http://host:port/acct). */
  azureAccount?: string;
  azureAccountUrl?: string;
  /** Azure only: true for the emulator / custom-host form (account is the first path segment). */
  azureEmulated?: boolean;
}
