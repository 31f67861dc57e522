/**
 * The only code that reads Azure SDK error shapes (RestError from core-rest-pipeline, @azure/identity's
 * credential errors) and turns them into pgstow's typed storage errors. Decisions use status codes and
 * the service's x-ms-error-code, never message text.
 */
import {
  AccessDeniedError, BucketNotFoundError, InvalidCredentialsError, ObjectExistsError, ObjectNotFoundError,
  StorageError, StorageRequestError, StorageUnavailableError, TlsError, type StorageOperation,
} from '../../errors.js';
import { PgstowError } from '../../../errors.js';
import { proxyRefused } from '../../proxy-choice.js';

export interface AzureErrorContext {
  operation: StorageOperation;
  key?: string;
  container: string;
  /** Service URL without secrets, e.g. https://acct.blob.core.windows.net. */
  endpoint: string;
  /** Where the credential came from (describeAuth), for auth failures. */
  credential: string;
  /** What kind of credential it is, to say what a 403 most likely means. */
  credentialKind?: 'key' | 'sas' | 'token';
  /** The proxy the request went through, without its credentials (proxyLabel). */
  proxy?: string | undefined;
}

/** The likely causes of a 403 AuthorizationFailure/PermissionMismatch for each kind of credential. */
function denialHint(kind: AzureErrorContext['credentialKind']): string {
  switch (kind) {
    case 'key': return 'the account key is wrong (an account key grants every permission), or the storage account\'s network rules block this client';
    case 'sas': return 'the SAS token does not cover this container or permission, has expired, or network rules block this client';
    case 'token': return 'the identity lacks a data role such as Storage Blob Data Contributor on this container, or network rules block this client';
    default: return 'the credential is wrong or lacks this permission, or a network rule blocks it';
  }
}

const PROVIDER = 'azure-blob';

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_UNTRUSTED', 'CERT_REVOKED', 'EPROTO', 'ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_TLS_HANDSHAKE_TIMEOUT',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH',
  'ECONNABORTED', 'REQUEST_SEND_ERROR', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'ERR_STREAM_PREMATURE_CLOSE',
]);
/** 403 codes meaning the credential itself was rejected (wrong key, bad signature, bad token). */
const AUTHENTICATION_CODES = new Set([
  'AuthenticationFailed', 'InvalidAuthenticationInfo', 'NoAuthenticationInformation', 'InvalidAuthenticationInfoHeader',
]);

interface SdkErrorShape {
  name?: string;
  code?: string;
  statusCode?: number;
  message?: string;
  details?: { errorCode?: string; message?: string; Message?: string };
  cause?: unknown;
  errors?: unknown[];
}

/** The service's error code (x-ms-error-code header or XML <Code>), if any. */
export function azureErrorCode(err: unknown): string | undefined {
  const e = err as SdkErrorShape | undefined;
  return e?.details?.errorCode ?? (typeof e?.code === 'string' && /^[A-Z]/.test(e.code) ? e.code : undefined);
}

/** One line, no stack, bounded: SDK messages can span lines (XML bodies, aggregate identity errors). */
function oneLine(s: string | undefined): string {
  const line = (s ?? '').replace(/\s+/g, ' ').trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

/** Finds a Node error code anywhere along the cause chain (RestError wraps the socket error). */
function nodeCode(err: unknown): string | undefined {
  let cur: unknown = err;
  for (let i = 0; i < 5 && cur; i++) {
    const c = (cur as SdkErrorShape).code;
    if (typeof c === 'string' && (TLS_CODES.has(c) || NETWORK_CODES.has(c) || /^E[A-Z]+$/.test(c) || c.startsWith('ERR_'))) {
      if (c !== 'REQUEST_SEND_ERROR') return c;
    }
    cur = (cur as SdkErrorShape).cause;
  }
  return (err as SdkErrorShape | undefined)?.code === 'REQUEST_SEND_ERROR' ? 'REQUEST_SEND_ERROR' : undefined;
}

function isTlsMessage(err: unknown): boolean {
  // Fallback when core-rest-pipeline dropped the socket error's code: these are OpenSSL's own phrases.
  const m = (err as SdkErrorShape | undefined)?.message ?? '';
  return /certificate|self[- ]signed|SSL routines|wrong version number|altnames/i.test(m);
}

/**
 * DefaultAzureCredential reports every credential of its chain; the one that was configured and failed is
 * what matters, not the ones that were merely unavailable.
 */
function identityReason(e: SdkErrorShape): string {
  if (!Array.isArray(e.errors) || e.errors.length === 0) return e.message ?? '';
  const failed = (e.errors as SdkErrorShape[]).filter((x) => x?.name !== 'CredentialUnavailableError');
  if (failed.length > 0) return failed.map((x) => x.message ?? '').join(' | ');
  return `no credential of the chain is configured here (${(e.errors as SdkErrorShape[]).map((x) => (x.message ?? '').split(/[ .:]/)[0]).join(', ')})`;
}

export function classifyAzureError(err: unknown, ctx: AzureErrorContext): Error {
  if (err instanceof StorageError || err instanceof PgstowError) return err;
  const e = (err ?? {}) as SdkErrorShape;
  if (e.name === 'AbortError') return err as Error;
  const base = { provider: PROVIDER, operation: ctx.operation, bucket: ctx.container, cause: err, ...(ctx.key !== undefined ? { key: ctx.key } : {}) };
  const where = ctx.key !== undefined ? `${ctx.container}/${ctx.key}` : ctx.container;

  // @azure/identity: no usable credential in the environment, or the token endpoint refused us.
  if (e.name === 'CredentialUnavailableError' || e.name === 'AggregateAuthenticationError' || e.name === 'AuthenticationError'
    || e.name === 'AuthenticationRequiredError') {
    const network = e.name === 'AuthenticationError' && (e.statusCode === undefined || e.statusCode >= 500);
    const msg = `could not get an Entra ID token with ${ctx.credential} for ${ctx.operation} on ${where}: ${oneLine(identityReason(e))}`;
    return network ? new StorageUnavailableError(base, msg) : new InvalidCredentialsError(base, msg);
  }

  const status = e.statusCode;
  const code = azureErrorCode(err);
  if (status === undefined || status === 0) {
    const nc = nodeCode(err);
    if ((nc && TLS_CODES.has(nc)) || (nc === 'REQUEST_SEND_ERROR' && isTlsMessage(err)) || (!nc && isTlsMessage(err))) {
      return new TlsError({ ...base, endpoint: ctx.endpoint },
        `TLS failure talking to ${ctx.endpoint}: ${oneLine(e.message)} (trust a private CA with --endpoint-ca, endpointCA or REQUESTS_CA_BUNDLE)`);
    }
    if (nc) return new StorageUnavailableError(base, `cannot reach Azure Blob Storage at ${ctx.endpoint} (${ctx.operation} ${where}): ${oneLine(e.message) || nc}`);
    return new StorageRequestError(base, `${ctx.operation} ${where} failed: ${oneLine(e.message) || String(err)}`);
  }

  if (status === 407) return proxyRefused(base, `${ctx.operation} ${where}`, ctx.endpoint, ctx.proxy);
  const detail = code ? `${status} ${code}` : String(status);
  if (status === 404) {
    if (code === 'ContainerNotFound') {
      return new BucketNotFoundError({ ...base, bucket: ctx.container }, `container "${ctx.container}" does not exist at ${ctx.endpoint}`);
    }
    if (ctx.key !== undefined && (code === undefined || code === 'BlobNotFound' || code === 'ResourceNotFound')) {
      return new ObjectNotFoundError({ ...base, key: ctx.key });
    }
    return new StorageRequestError(base, `${ctx.operation} ${where} failed: ${detail}`);
  }
  if ((status === 409 && code === 'BlobAlreadyExists') || (status === 412 && code === 'ConditionNotMet' && ctx.operation === 'put')) {
    return new ObjectExistsError({ ...base, key: ctx.key ?? '' });
  }
  if (status === 401 || (status === 403 && code !== undefined && AUTHENTICATION_CODES.has(code))) {
    return new InvalidCredentialsError(base, `Azure rejected the credential from ${ctx.credential} (${detail}) for ${ctx.operation} on ${where}`);
  }
  if (status === 403) {
    return new AccessDeniedError(base,
      `access denied: ${ctx.operation} on ${where} with ${ctx.credential} (${detail}): ${denialHint(ctx.credentialKind)}`);
  }
  if (status === 431) {
    return new StorageRequestError(base, `${ctx.operation} ${where} failed: the store refused the request headers as too large (HTTP 431); the tags or metadata are too large`);
  }
  if (status === 408 || status === 429 || status >= 500) {
    return new StorageUnavailableError(base, `Azure Blob Storage unavailable for ${ctx.operation} on ${where} (${detail}): ${oneLine(e.details?.message ?? e.message)}`);
  }
  return new StorageRequestError(base, `${ctx.operation} ${where} failed (${detail}): ${oneLine(e.details?.message ?? e.message)}`);
}

/** A download whose connection closed before the whole body came (after the SDK's or the lean store's resumes). */
export function cutMidDownload(err: unknown, endpoint: string, container: string, key: string): StorageUnavailableError {
  return new StorageUnavailableError({ provider: PROVIDER, operation: 'get', key, bucket: container, cause: err },
    `the connection to Azure Blob Storage at ${endpoint} closed in the middle of downloading ${container}/${key}`);
}
