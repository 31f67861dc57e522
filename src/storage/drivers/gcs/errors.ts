/**
 * The only code reading @google-cloud/storage / gaxios error shapes. Looks at HTTP status, the JSON API
 * error reason, and system error codes; never at message text. Messages drop URL query strings because a
 * resumable session URI is itself a credential.
 */
import { PgstowError } from '../../../errors.js';
import { proxyLabel, proxyRefused } from '../../proxy-choice.js';
import {
  AccessDeniedError, BucketNotFoundError, IntegrityError, InvalidCredentialsError, ObjectExistsError, ObjectNotFoundError,
  StorageError, StorageRequestError, StorageUnavailableError, TlsError, type StorageOperation,
} from '../../errors.js';

export interface GcsErrorContext {
  operation: StorageOperation;
  bucket: string;
  key?: string;
  /** Endpoint for network messages (never contains secrets). */
  endpoint: string;
  /** Where the credentials came from, e.g. "service_account credentials /k.json (sa@p.iam…)". */
  credentials: string;
  /** The proxy of the endpoint, if any (named without its credentials). */
  proxy?: URL | undefined;
}

const PROVIDER = 'gcs';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED',
  'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'ERR_STREAM_PREMATURE_CLOSE']);
const TLS_CODES = new Set(['CERT_HAS_EXPIRED', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_NOT_YET_VALID', 'ERR_SSL_WRONG_VERSION_NUMBER']);
/** The SDK's own integrity checks (CRC32C/MD5 of uploads and downloads). */
const INTEGRITY_CODES = new Set(['CONTENT_DOWNLOAD_MISMATCH', 'FILE_NO_UPLOAD', 'FILE_NO_UPLOAD_DELETE', 'MD5_NOT_AVAILABLE']);

interface ErrorShape {
  code?: unknown;
  status?: unknown;
  message?: unknown;
  type?: unknown;
  errors?: Array<{ reason?: unknown; message?: unknown }>;
  response?: { status?: unknown; data?: unknown };
  cause?: unknown;
}

/** HTTP status of an SDK error, if it carries one. */
export function gcsHttpStatus(err: unknown): number | undefined {
  const e = err as ErrorShape | null;
  if (!e || typeof e !== 'object') return undefined;
  if (typeof e.code === 'number') return e.code;
  if (typeof e.response?.status === 'number') return e.response.status;
  if (typeof e.status === 'number') return e.status;
  return undefined;
}

/** A system-level code (ECONNREFUSED, CERT_…), looking through wrapped causes. */
function systemCode(err: unknown): string | undefined {
  for (let e = err as ErrorShape | null | undefined, depth = 0; e && typeof e === 'object' && depth < 5; e = e.cause as ErrorShape | undefined, depth++) {
    if (typeof e.code === 'string') return e.code;
  }
  return undefined;
}

/** A request timeout of the SDK's HTTP client (node-fetch FetchError type request-timeout/body-timeout), anywhere in the cause chain. */
function isTimeout(err: unknown): boolean {
  for (let e = err as (ErrorShape & { type?: unknown; name?: unknown }) | null | undefined, depth = 0; e && typeof e === 'object' && depth < 5; e = e.cause as typeof e, depth++) {
    if (e.type === 'request-timeout' || e.type === 'body-timeout' || e.name === 'TimeoutError') return true;
  }
  return false;
}

export function safeMessage(err: unknown): string {
  const raw = err instanceof Error ? err.message : String(err);
  // Strip query strings (upload_id, signatures) and collapse whitespace to one line.
  return raw.replace(/(https?:\/\/[^\s?"']+)\?[^\s"']*/g, '$1').replace(/\s+/g, ' ').trim().slice(0, 500);
}

export function classifyGcsError(err: unknown, ctx: GcsErrorContext): PgstowError {
  if (err instanceof PgstowError) return err;
  const base = { provider: PROVIDER, operation: ctx.operation, bucket: ctx.bucket, cause: err, ...(ctx.key !== undefined ? { key: ctx.key } : {}) };
  const target = `gs://${ctx.bucket}${ctx.key !== undefined ? `/${ctx.key}` : ''}`;
  const status = gcsHttpStatus(err);
  const msg = safeMessage(err);
  if (status === 407) return proxyRefused(base, `GCS ${ctx.operation} on ${target}`, ctx.endpoint, ctx.proxy && proxyLabel(ctx.proxy));
  if (status !== undefined) {
    switch (status) {
      case 404:
        if ((ctx.operation === 'get' || ctx.operation === 'stat') && ctx.key !== undefined) return new ObjectNotFoundError({ ...base, key: ctx.key });
        if (ctx.operation === 'delete' && ctx.key !== undefined) return new ObjectNotFoundError({ ...base, key: ctx.key });
        return new BucketNotFoundError(base, `GCS bucket does not exist: ${ctx.bucket} (${ctx.operation} ${target}: ${msg})`);
      case 401:
        return new InvalidCredentialsError(base, `GCS rejected the credentials (${ctx.credentials}) for ${ctx.operation} on ${target}: ${msg}`);
      case 403:
        return new AccessDeniedError(base, `GCS access denied for ${ctx.operation} on ${target} using ${ctx.credentials}: ${msg}`);
      case 412:
        if (ctx.key !== undefined) return new ObjectExistsError({ ...base, key: ctx.key }, `object already exists: ${target}`);
        break;
      case 408:
      case 429:
        return new StorageUnavailableError({ ...base, retryable: true }, `GCS is throttling or timing out ${ctx.operation} on ${target} (HTTP ${status}): ${msg}`);
      default:
        if (status >= 500) return new StorageUnavailableError({ ...base, retryable: true }, `GCS server error for ${ctx.operation} on ${target} (HTTP ${status}): ${msg}`);
    }
    return new StorageRequestError(base, `GCS ${ctx.operation} on ${target} failed (HTTP ${status}): ${msg}`);
  }
  if (isTimeout(err)) {
    return new StorageUnavailableError({ ...base, retryable: true }, `GCS at ${ctx.endpoint} did not answer ${ctx.operation} on ${target} in time: ${msg}`);
  }
  const code = systemCode(err);
  if (code !== undefined && TLS_CODES.has(code)) {
    return new TlsError({ ...base, endpoint: ctx.endpoint }, `TLS failure talking to GCS at ${ctx.endpoint} (${code}): ${msg}`);
  }
  if (code !== undefined && (NETWORK_CODES.has(code) || /^E[A-Z]+$/.test(code)) && !INTEGRITY_CODES.has(code)) {
    return new StorageUnavailableError({ ...base, retryable: true }, `cannot reach GCS at ${ctx.endpoint} for ${ctx.operation} on ${target} (${code}): ${msg}`);
  }
  if (code !== undefined && INTEGRITY_CODES.has(code)) {
    return new IntegrityError(base, `GCS ${ctx.operation} on ${target}: checksum mismatch (${code}): ${msg}`);
  }
  return new StorageRequestError(base, `GCS ${ctx.operation} on ${target} failed: ${msg}`);
}

/** Failure to obtain an access token, before any storage request. */
export function classifyGcsAuthError(err: unknown, ctx: Omit<GcsErrorContext, 'operation' | 'key'>): StorageError {
  const base = { provider: PROVIDER, operation: 'connect' as const, bucket: ctx.bucket, cause: err };
  const msg = safeMessage(err);
  const status = gcsHttpStatus(err);
  const code = systemCode(err);
  if (status === undefined && code !== undefined && NETWORK_CODES.has(code)) {
    return new StorageUnavailableError(base, `cannot obtain a Google access token from ${ctx.credentials} (${code}): ${msg}`);
  }
  // The token endpoint's proxy may not be the store's: named by the variables only.
  if (status === 407) return proxyRefused(base, `getting a Google access token from ${ctx.credentials}`, 'the token endpoint', undefined);
  if (status !== undefined && status >= 500) {
    return new StorageUnavailableError(base, `the Google token service failed for ${ctx.credentials} (HTTP ${status}): ${msg}`);
  }
  return new InvalidCredentialsError(base, `cannot obtain a Google access token from ${ctx.credentials}: ${msg}`);
}
