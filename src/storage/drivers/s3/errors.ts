/**
 * The only code reading AWS SDK v3 error shapes: turns them into the typed storage errors, with a message
 * that says what a DBA has to fix (which key, which permission, which endpoint). Never includes secrets.
 */
import {
  AccessDeniedError, BucketNotFoundError, InvalidCredentialsError, ObjectExistsError, ObjectNotFoundError,
  StorageRequestError, StorageUnavailableError, TlsError, type StorageOperation,
} from '../../errors.js';
import { PgstowError } from '../../../errors.js';

export interface S3ErrorContext {
  operation: StorageOperation;
  bucket: string;
  key?: string;
  /** Where requests go, for TLS and network messages (e.g. "https://s3.example.com" or "AWS S3 (us-east-1)"). */
  endpoint: string;
  /** Access key id in use (not secret; printed so the DBA knows which credential failed). */
  accessKeyId?: string;
}

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_UNTRUSTED', 'CERT_REVOKED', 'CERT_SIGNATURE_FAILURE', 'EPROTO', 'ERR_SSL_WRONG_VERSION_NUMBER',
]);

const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH',
  'ECONNABORTED', 'ESOCKETTIMEDOUT', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET',
]);

const CREDENTIAL_CODES = new Set([
  'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'TokenRefreshRequired',
  'InvalidClientTokenId', 'AuthorizationHeaderMalformed', 'ExpiredTokenException', 'InvalidSecurity',
]);

const THROTTLE_CODES = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequests',
  'RequestThrottled', 'ServiceUnavailable', 'InternalError', 'RequestTimeout', 'RequestTimeTooSkewed']);

interface SdkErrorShape {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
  cause?: unknown;
}

/** Walks `cause` chains: Node network errors are often wrapped by the SDK. */
function findCode(err: unknown, set: Set<string>): string | undefined {
  let cur: unknown = err;
  for (let i = 0; i < 5 && cur && typeof cur === 'object'; i++) {
    const e = cur as SdkErrorShape;
    if (e.code && set.has(e.code)) return e.code;
    if (e.name && set.has(e.name)) return e.name;
    cur = e.cause;
  }
  return undefined;
}

function target(ctx: S3ErrorContext): string {
  return `s3://${ctx.bucket}${ctx.key ? `/${ctx.key}` : ''}`;
}

/** True for errors already typed (e.g. thrown by our own code inside a driver call). */
function isTyped(err: unknown): err is PgstowError {
  return err instanceof PgstowError;
}

export function classifyS3Error(err: unknown, ctx: S3ErrorContext): Error {
  if (isTyped(err)) return err;
  const e = (err ?? {}) as SdkErrorShape;
  if (e.name === 'AbortError') return err as Error;
  const code = e.Code ?? e.code ?? e.name ?? 'Error';
  const status = e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
  const base = { provider: 's3', operation: ctx.operation, bucket: ctx.bucket, cause: err, ...(ctx.key !== undefined ? { key: ctx.key } : {}) };
  const sdkMsg = e.message && e.message !== code && e.message !== 'UnknownError' ? `: ${e.message}` : '';

  const tls = findCode(err, TLS_CODES);
  if (tls) {
    return new TlsError({ ...base, endpoint: ctx.endpoint },
      `TLS failure talking to ${ctx.endpoint} (${tls}): the server certificate is not trusted or does not match the host; `
      + 'give the CA with --endpoint-ca / AWS_CA_BUNDLE / endpointCA');
  }
  if (code === 'CredentialsProviderError' || e.name === 'CredentialsProviderError') {
    return new InvalidCredentialsError(base,
      `no usable AWS credentials for ${target(ctx)}: ${e.message ?? 'credential chain failed'} `
      + '(set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile with -P, or IRSA AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE)');
  }
  if (CREDENTIAL_CODES.has(code)) {
    const who = ctx.accessKeyId ? `access key ${ctx.accessKeyId}` : 'the credentials';
    const why = code === 'InvalidAccessKeyId' ? `${who} is not known to the server`
      : code === 'SignatureDoesNotMatch' ? `the secret access key does not match ${who}`
        : code.startsWith('Expired') ? `${who} came with an expired session token`
          : code === 'InvalidToken' ? `${who} came with a session token the server does not accept` : `${who} were refused`;
    return new InvalidCredentialsError(base, `invalid credentials: ${why} (${code}, ${ctx.operation} ${target(ctx)} at ${ctx.endpoint})`);
  }
  if (code === 'NoSuchBucket') {
    return new BucketNotFoundError({ ...base, bucket: ctx.bucket }, `bucket does not exist: ${ctx.bucket} (at ${ctx.endpoint})`);
  }
  if (code === 'NoSuchKey' || ((code === 'NotFound' || status === 404) && ctx.key !== undefined && code !== 'NoSuchUpload')) {
    return new ObjectNotFoundError({ ...base, key: ctx.key ?? '' }, `object not found: ${target(ctx)}`);
  }
  if (code === 'AccessDenied' || code === 'AllAccessDisabled' || code === 'AccountProblem' || code === 'Forbidden' || status === 403) {
    const who = ctx.accessKeyId ? ` for access key ${ctx.accessKeyId}` : '';
    // S3 answers 403 instead of 404 for a missing key when the caller may not list the bucket.
    const hint = ['get', 'stat', 'exists'].includes(ctx.operation) ? ' (S3 also answers 403 for a missing key when s3:ListBucket is not granted)' : '';
    return new AccessDeniedError(base, `access denied: ${ctx.operation} on ${target(ctx)}${who} (${code}${sdkMsg}); check the IAM or bucket policy${hint}`);
  }
  if (code === 'PreconditionFailed' || status === 412) {
    return new ObjectExistsError({ ...base, key: ctx.key ?? '' }, `object already exists: ${target(ctx)}`);
  }
  if (status === 407) {
    return new StorageRequestError(base, `${ctx.operation} ${target(ctx)} failed: the proxy refused it (HTTP 407 Proxy Authentication `
      + `Required, at ${ctx.endpoint}); check the user and password in HTTPS_PROXY / HTTP_PROXY`);
  }
  const net = findCode(err, NETWORK_CODES);
  if (net || code === 'TimeoutError' || e.name === 'TimeoutError') {
    return new StorageUnavailableError({ ...base, retryable: true },
      `cannot reach the object store at ${ctx.endpoint} (${net ?? code}) during ${ctx.operation} ${target(ctx)}`);
  }
  if (THROTTLE_CODES.has(code) || status === 429 || status === 503 || (status !== undefined && status >= 500)) {
    return new StorageUnavailableError({ ...base, retryable: true },
      `object store at ${ctx.endpoint} is unavailable or throttling (${code}${status ? ` HTTP ${status}` : ''}) during ${ctx.operation} ${target(ctx)}`);
  }
  if (status === 431) {
    return new StorageRequestError(base, `${ctx.operation} ${target(ctx)} failed: the store refused the request headers as too large (HTTP 431); the tags or metadata are too large`);
  }
  if (code === 'ConditionalRequestConflict' || (status === 409 && ctx.operation === 'put')) {
    return new StorageUnavailableError({ ...base, retryable: true }, `concurrent write conflict on ${target(ctx)} (${code}); retry`);
  }
  return new StorageRequestError(base, `${ctx.operation} ${target(ctx)} failed: ${code}${status ? ` (HTTP ${status})` : ''}${sdkMsg}`);
}

