/**
 * Typed storage errors. Each driver owns one classify<Provider>Error(err) that is the only code reading SDK
 * error shapes; above the drivers, code looks at these classes and at `retryable` only.
 */
import { ExitCode, PgstowError, type ErrorCode, type PgstowErrorOptions } from '../errors.js';

export type StorageOperation = 'put' | 'get' | 'stat' | 'exists' | 'list' | 'delete' | 'create' | 'connect';

export interface StorageErrorOptions extends PgstowErrorOptions {
  /** Provider name, e.g. "s3", "azure-blob", "gcs", "fs". */
  provider: string;
  operation?: StorageOperation;
  /** Object key (or prefix) the operation was about. */
  key?: string;
  /** Bucket or container. */
  bucket?: string;
  /** True when retrying the same request may succeed (throttling, 5xx, resets, timeouts). */
  retryable?: boolean;
}

export class StorageError extends PgstowError {
  readonly provider: string;
  readonly operation: StorageOperation | undefined;
  readonly key: string | undefined;
  readonly bucket: string | undefined;
  readonly retryable: boolean;

  constructor(code: ErrorCode, exitCode: ExitCode, message: string, options: StorageErrorOptions) {
    super(code, exitCode, message, options);
    this.provider = options.provider;
    this.operation = options.operation;
    this.key = options.key;
    this.bucket = options.bucket;
    this.retryable = options.retryable ?? false;
  }
}
StorageError.prototype.name = 'StorageError';

/** get/stat on a key that does not exist. Exit 1 (Barman: "WAL file … does not exist"). */
export class ObjectNotFoundError extends StorageError {
  constructor(options: StorageErrorOptions & { key: string }, message?: string) {
    super('ERR_OBJECT_NOT_FOUND', ExitCode.OPERATION, message ?? `object not found: ${options.key}`, { ...options, retryable: false });
  }
}
ObjectNotFoundError.prototype.name = 'ObjectNotFoundError';

/** The credentials are valid but lack a permission. The message names the operation and key. */
export class AccessDeniedError extends StorageError {
  constructor(options: StorageErrorOptions, message?: string) {
    super('ERR_ACCESS_DENIED', ExitCode.OPERATION,
      message ?? `access denied: ${options.operation ?? 'request'} on ${describeTarget(options)}`, { ...options, retryable: false });
  }
}
AccessDeniedError.prototype.name = 'AccessDeniedError';

/** Unknown access key, wrong secret, expired token, bad signature. */
export class InvalidCredentialsError extends StorageError {
  constructor(options: StorageErrorOptions, message?: string) {
    super('ERR_INVALID_CREDENTIALS', ExitCode.OPERATION, message ?? `invalid credentials for ${describeTarget(options)}`, { ...options, retryable: false });
  }
}
InvalidCredentialsError.prototype.name = 'InvalidCredentialsError';

/** The bucket or container itself does not exist. */
export class BucketNotFoundError extends StorageError {
  constructor(options: StorageErrorOptions & { bucket: string }, message?: string) {
    super('ERR_BUCKET_NOT_FOUND', ExitCode.OPERATION, message ?? `bucket or container does not exist: ${options.bucket}`, { ...options, retryable: false });
  }
}
BucketNotFoundError.prototype.name = 'BucketNotFoundError';

/** Certificate not trusted, hostname mismatch, TLS handshake failure. Names the endpoint. */
export class TlsError extends StorageError {
  constructor(options: StorageErrorOptions & { endpoint: string }, message?: string) {
    super('ERR_TLS', ExitCode.NETWORK, message ?? `TLS failure talking to ${options.endpoint}`, { ...options, retryable: false });
  }
}
TlsError.prototype.name = 'TlsError';

/** Connection refused, DNS failure, reset, timeout, 5xx, throttling. Exit 2. */
export class StorageUnavailableError extends StorageError {
  constructor(options: StorageErrorOptions, message?: string) {
    super('ERR_STORAGE_UNAVAILABLE', ExitCode.NETWORK, message ?? `storage unavailable: ${describeTarget(options)}`, { retryable: true, ...options });
  }
}
StorageUnavailableError.prototype.name = 'StorageUnavailableError';

/** create-if-absent found the key already there. */
export class ObjectExistsError extends StorageError {
  constructor(options: StorageErrorOptions & { key: string }, message?: string) {
    super('ERR_OBJECT_EXISTS', ExitCode.OPERATION, message ?? `object already exists: ${options.key}`, { ...options, retryable: false });
  }
}
ObjectExistsError.prototype.name = 'ObjectExistsError';

/** Anything else the provider returned; exit 4. */
export class StorageRequestError extends StorageError {
  constructor(options: StorageErrorOptions, message: string) {
    super('ERR_STORAGE_REQUEST', ExitCode.GENERAL, message, options);
  }
}
StorageRequestError.prototype.name = 'StorageRequestError';

/** The content read back does not match what was written or recorded (checksum, size). */
export class IntegrityError extends StorageError {
  constructor(options: StorageErrorOptions, message: string) {
    super('ERR_INTEGRITY', ExitCode.OPERATION, message, { ...options, retryable: false });
  }
}
IntegrityError.prototype.name = 'IntegrityError';

/**
 * The exit code barman-cloud gives a catalog, restore or backup command (check-wal-archive, backup-list/show/delete/
 * keep, restore, backup) refused by the store for its credentials or permissions, measured with barman-cloud 3.4:
 * it tests connectivity first, which on S3 lets the ClientError through ("any other error", 4) and on Azure and
 * GCS takes the refusal for an unreachable store (2). Undefined for any other error (its own exit code stands).
 */
export function barmanRefusalExitCode(err: unknown): ExitCode | undefined {
  if (!(err instanceof InvalidCredentialsError) && !(err instanceof AccessDeniedError)) return undefined;
  switch (err.provider) {
    case 's3': return ExitCode.GENERAL;
    case 'azure-blob': case 'gcs': return ExitCode.NETWORK;
    default: return undefined;
  }
}

function describeTarget(o: StorageErrorOptions): string {
  const where = [o.bucket, o.key].filter(Boolean).join('/');
  return `${o.provider}${where ? ` ${where}` : ''}`;
}
