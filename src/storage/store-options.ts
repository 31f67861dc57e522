/**
 * What a driver needs to open a store: the destination URL already split into provider coordinates,
 * plus connection settings and typed credentials. Built by the composition root from EngineSettings and
 * handed to the registry; nothing here imports an SDK, and no driver reads process.env.
 */

import type { StoreCredentials } from './credentials.js';
import type { ProxyVariables } from './proxy-choice.js';

export type CloudProvider = 'aws-s3' | 'azure-blob-storage' | 'google-cloud-storage' | 'file' | 'memory';

export const CLOUD_PROVIDERS: readonly CloudProvider[] = ['aws-s3', 'azure-blob-storage', 'google-cloud-storage', 'file', 'memory'];

export interface S3StoreOptions {
  /** "auto" = path style when an endpoint URL is given (as botocore does), virtual otherwise. */
  addressingStyle?: 'auto' | 'path' | 'virtual';
  /** Flexible checksums; defaults to when_required for any non-AWS endpoint (user-pain item 1). */
  requestChecksumCalculation?: 'when_required' | 'when_supported';
  responseChecksumValidation?: 'when_required' | 'when_supported';
  /** Server-side encryption: AES256 or aws:kms. */
  encryption?: 'AES256' | 'aws:kms';
  sseKmsKeyId?: string;
  region?: string;
  /** Multipart part size in bytes (0 = choose from size and maxParts). */
  partSize?: number;
  maxParts?: number;
  /** Parts uploaded at once per object. */
  uploadConcurrency?: number;
}

export interface AzureStoreOptions {
  encryptionScope?: string;
  maxBlockSize?: number;
  maxConcurrency?: number;
  maxSinglePutSize?: number;
}

export interface GcsStoreOptions {
  kmsKeyName?: string;
  /** Resumable upload chunk size in bytes. */
  chunkSize?: number;
  projectId?: string;
  /** The endpoint is an emulator: no credentials unless given, preconditions not trusted. */
  emulator?: boolean;
}

/** Extra CA certificates in PEM, added to the system roots, and where they came from (for messages). */
export interface CaBundle {
  pem: string;
  source: string;
}

export interface StoreOptions {
  provider: CloudProvider;
  /** The destination URL exactly as the user gave it (s3://bucket/prefix, gs://…, https://acct.blob…, file:///…). */
  destinationUrl: string;
  /** --endpoint-url / endpointURL. */
  endpointUrl?: string;
  /** endpointCA / --endpoint-ca / AWS_CA_BUNDLE / REQUESTS_CA_BUNDLE, already read. */
  ca?: CaBundle;
  /** Per-request read timeout in seconds (--read-timeout). */
  readTimeoutSeconds?: number;
  /** The proxy variables; each driver picks the proxy for its endpoint (proxy-choice.ts). */
  proxy?: ProxyVariables;
  /** Default: the provider's ambient identity (S3 default chain, Entra ID default, GCS ADC). */
  credentials?: StoreCredentials;
  s3?: S3StoreOptions;
  azure?: AzureStoreOptions;
  gcs?: GcsStoreOptions;
  /**
   * Credentials and CA that may rotate while the store is open (a watched config, Engine.reconfigure). A driver
   * that supports it (DriverModule.liveSettings) calls it for each request, so a rotated Secret or CA applies to
   * the next request without rebuilding the client mid-transfer.
   */
  live?: () => LiveStoreSettings;
}

/** The part of StoreOptions that rotates. */
export interface LiveStoreSettings {
  credentials: StoreCredentials | undefined;
  ca: CaBundle | undefined;
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
