/**
 * EngineSettings: everything an engine needs, as one typed value. Only `destination` and `serverName` are
 * required; everything else has the CLI's default. Built by hand, by settingsFromCli() (flags + environment)
 * or by settingsFromObjectStore() (a CloudNativePG barmanObjectStore / ObjectStore spec.configuration plus
 * resolved Secrets). Nothing in the engine reads process.env: what the environment says is already in here.
 */
import type { SecretText } from '../secret.js';
import type { ProxyVariables } from '../storage/proxy-choice.js';
import type { AzureCredentials, AzureIdentitySettings, GcsCredentials, S3Credentials, StoreCredentials } from '../storage/credentials.js';

export type { SecretText, StoreCredentials, S3Credentials, AzureCredentials, AzureIdentitySettings, GcsCredentials };

/** The store kinds; `memory` is an in-process store for tests and trials (memory://name). */
export type Provider = 'aws-s3' | 'azure-blob-storage' | 'google-cloud-storage' | 'file' | 'memory';

/** WAL codecs (Barman's suffixes .gz .bz2 .xz .snappy .zst .lz4). */
export type WalCompression = 'gzip' | 'bzip2' | 'xz' | 'snappy' | 'zstd' | 'lz4';
/** Base backup codecs; Barman 3.19 restores lz4 too (3.4 does not), zstd is pgstow's own (no Barman restores it). */
export type DataCompression = 'gzip' | 'bzip2' | 'snappy' | 'lz4' | 'zstd';
/** S3 server-side encryption (CloudNativePG wal.encryption / data.encryption). */
export type ServerSideEncryption = 'AES256' | 'aws:kms';

/** Extra CA certificates for an HTTPS endpoint, added to the system roots: PEM text, or a PEM file. */
export type EndpointCa = { readonly pem: SecretText } | { readonly file: string };

export interface S3Settings {
  region?: string;
  /** auto (default): path style when endpointUrl is set, virtual-host style on AWS. */
  addressingStyle?: 'auto' | 'path' | 'virtual';
  /** Flexible checksums; default when_required for any non-AWS endpoint. */
  requestChecksumCalculation?: 'when_required' | 'when_supported';
  responseChecksumValidation?: 'when_required' | 'when_supported';
  /** KMS key for encryption aws:kms. */
  sseKmsKeyId?: string;
}

export interface AzureSettings {
  encryptionScope?: string;
  /** Bytes per staged block (default 8 MiB). */
  maxBlockSize?: number;
  /** Blocks uploaded at once per WAL upload (a backup uses data.jobs). */
  maxConcurrency?: number;
  /** Largest body sent in one Put Blob (default 64 MiB). */
  maxSinglePutSize?: number;
}

export interface GcsSettings {
  kmsKeyName?: string;
  /** Resumable upload chunk size in bytes (default 16 MiB). */
  chunkSize?: number;
  /** Project id (only project-level calls need one; pgstow makes none). */
  projectId?: string;
  /** endpointUrl is an emulator (STORAGE_EMULATOR_HOST): no credentials unless given, preconditions untrusted. */
  emulator?: boolean;
}

export interface WalSettings {
  compression?: WalCompression;
  /** low, medium (default), high, or the codec's own integer level. */
  compressionLevel?: 'low' | 'medium' | 'high' | number;
  encryption?: ServerSideEncryption;
  /** One archiveWal/restoreWal call handles its file plus up to maxParallel − 1 others (default 1). */
  maxParallel?: number;
  /**
   * Base directory of the spools maxParallel > 1 uses (default <tmp>/pgstow): the engine keeps one spool per
   * destination and server below it (wal-archive-spool/<server>-<hash>, wal-restore-spool/<server>-<hash>).
   */
  spoolDir?: string;
  /** WAL segment size for prefetching; default: learned from the first restored segment. */
  segmentSize?: number;
  /** How long a prefetch's "not in archive" answer is trusted, in seconds (default 10). */
  prefetchMissTtlSeconds?: number;
}

export interface DataSettings {
  /** Default: no compression. */
  compression?: DataCompression;
  compressionLevel?: number;
  encryption?: ServerSideEncryption;
  /** Archives and parts uploaded at once by a backup; objects downloaded at once by a restore (default 2). */
  jobs?: number;
  immediateCheckpoint?: boolean;
  /** Largest tar volume in bytes (default 100 GiB, at most 1 TiB). */
  maxArchiveSize?: number;
  /** Smallest upload part in bytes (Barman's --min-chunk-size). */
  minChunkSize?: number;
  /** Upload bandwidth per tar stream, bytes per second. */
  maxBandwidth?: number;
}

/** How takeBackup reaches PostgreSQL (libpq's keywords); defaults as libpq's without environment. */
export interface PostgresSettings {
  host?: string;
  port?: string | number;
  user?: string;
  /** A database name, or a conninfo string / postgresql:// URI (used as given). */
  dbname?: string;
  password?: SecretText;
  /** libpq environment (PGHOST, PGSSLMODE, PGPASSFILE, …) applied to what is not set above. */
  libpqEnv?: Readonly<Record<string, string | undefined>>;
}

export interface EngineSettings {
  /**
   * Where backups and WAL go (CloudNativePG destinationPath): s3://bucket/prefix, gs://bucket/prefix,
   * https://<account>.blob.core.windows.net/<container>/prefix (http://host:port/<account>/<container> for an
   * emulator), file:///absolute/dir, memory://name.
   */
  destination: string;
  /** The server's directory below the destination (Barman's SERVER_NAME). */
  serverName: string;
  /** Default: from the URL scheme (s3:// is aws-s3; an https URL needs it unless it is *.blob.core.*). */
  provider?: Provider;
  endpointUrl?: string;
  endpointCa?: EndpointCa;
  /** Seconds without a byte before a request fails (default 60). */
  readTimeoutSeconds?: number;
  /**
   * The proxy variables of the environment (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY), which every store driver
   * applies to its own requests (proxy-choice.ts, proxy-agents.ts), as botocore does. May hold a proxy password.
   */
  proxy?: ProxyVariables;
  /** Default: the provider's ambient identity (S3 default chain, Entra ID default, GCS ADC); none for file/memory. */
  credentials?: StoreCredentials;
  s3?: S3Settings;
  azure?: AzureSettings;
  gcs?: GcsSettings;
  wal?: WalSettings;
  data?: DataSettings;
  /** Tags on every uploaded object (WAL and backups). */
  tags?: Readonly<Record<string, string>>;
  /** Tags on .history files instead of `tags`. */
  historyTags?: Readonly<Record<string, string>>;
  /** REDUNDANCY n, RECOVERY WINDOW OF n DAYS|WEEKS|MONTHS, or CloudNativePG's 30d/4w/1m; used by deleteBackups(). */
  retentionPolicy?: string;
  minimumRedundancy?: number;
  postgres?: PostgresSettings;
  /** Private directory for files the SDKs need on disk (a GCS key given as text); default <tmp>/pgstow-<uid>. */
  runtimeDir?: string;
}
