/**
 * Resolves StoreOptions into the concrete S3 settings, without touching the SDK: region, endpoint,
 * addressing style, checksum modes, credential source, part sizing. Pure, so each rule is unit-testable.
 */
import { ConfigError } from '../../../errors.js';
import { revealText } from '../../../secret.js';
import type { StoreCredentials } from '../../credentials.js';
import type { Destination, StoreOptions } from '../../store-options.js';
import { assertNoUserinfo } from '../../destination.js';
import { endpointProxy, proxyLabel, type ProxyVariables } from '../../proxy-choice.js';

export const MIB = 1024 * 1024;
/** S3 limits: parts are 5 MiB..5 GiB, at most 10 000 of them. */
export const MIN_PART_SIZE = 5 * MIB;
export const MAX_PART_SIZE = 5 * 1024 * MIB;
export const DEFAULT_MAX_PARTS = 10_000;
/** Part size when neither an exact size nor a hint is known: 16 MiB × 10 000 parts = 156 GiB per object. */
export const DEFAULT_PART_SIZE = 16 * MIB;
/** Smallest part size we choose ourselves (fewer, larger requests than the 5 MiB minimum). */
export const MIN_CHOSEN_PART_SIZE = 8 * MIB;
/**
 * Bytes already in memory (a WAL segment) up to this size go in one PutObject unless a part size was set:
 * a 16 MiB segment as multipart took four requests (create, two parts, complete) instead of one.
 */
export const SINGLE_PUT_MAX_BYTES = 64 * MIB;
export const DEFAULT_UPLOAD_CONCURRENCY = 4;
export const DEFAULT_READ_TIMEOUT_SECONDS = 60;

export type ChecksumMode = 'WHEN_REQUIRED' | 'WHEN_SUPPORTED';

export type CredentialSource =
  | { kind: 'static'; accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  | { kind: 'profile'; profile: string; configFile?: string; credentialsFile?: string }
  | { kind: 'web-identity'; roleArn: string; tokenFile: string; sessionName?: string }
  | { kind: 'default-chain' };

export interface S3Settings {
  bucket: string;
  region: string;
  /** Undefined for AWS itself. */
  endpoint: string | undefined;
  /** For messages: the endpoint URL, or "AWS S3 (region)"; and the proxy (without its credentials). */
  endpointLabel: string;
  forcePathStyle: boolean;
  requestChecksumCalculation: ChecksumMode;
  responseChecksumValidation: ChecksumMode;
  credentials: CredentialSource;
  /** STS endpoint for web identity, e.g. a private STS or a test server. */
  stsEndpoint: string | undefined;
  encryption: 'AES256' | 'aws:kms' | undefined;
  sseKmsKeyId: string | undefined;
  /** 0 = choose per object. */
  partSize: number;
  maxParts: number;
  uploadConcurrency: number;
  readTimeoutMs: number;
  /** The HTTP(S) proxy for the endpoint (the environment's variables and NO_PROXY), or undefined: direct. */
  proxy: URL | undefined;
  /**
   * Large bodies are sent with Expect: 100-continue (the SDK's default from 2 MiB). Not to an http endpoint through
   * a proxy: http-proxy-agent rewrites a request's header for the proxy, and a header Node already sent for the
   * Expect goes out twice (the body then reads as a broken request).
   */
  expectContinue: boolean;
}

export function resolveS3Settings(destination: Destination, options: StoreOptions): S3Settings {
  const s3 = options.s3 ?? {};
  const region = s3.region || 'us-east-1';
  let endpoint = options.endpointUrl || undefined;
  if (endpoint !== undefined) {
    assertNoUserinfo(endpoint, '--endpoint-url');
    let u: URL;
    try { u = new URL(endpoint); } catch {
      throw new ConfigError(`not a URL: "${endpoint}" (expected e.g. https://s3.example.com)`, '--endpoint-url');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(`must be http:// or https://, not "${endpoint}"`, '--endpoint-url');
    endpoint = endpoint.replace(/\/+$/, '');
  }
  const style = s3.addressingStyle ?? 'auto';
  // botocore (Barman) uses path style whenever an endpoint URL is given; virtual-host style on AWS.
  const forcePathStyle = style === 'path' || (style === 'auto' && endpoint !== undefined);
  // Non-AWS endpoints mostly reject or mis-store the SDK's default aws-chunked CRC32 bodies (user-pain item 1).
  const defaultChecksum: ChecksumMode = endpoint === undefined ? 'WHEN_SUPPORTED' : 'WHEN_REQUIRED';
  const requestChecksumCalculation = toMode(s3.requestChecksumCalculation) ?? defaultChecksum;
  const responseChecksumValidation = toMode(s3.responseChecksumValidation) ?? defaultChecksum;

  const encryption = s3.encryption;
  if (encryption !== undefined && encryption !== 'AES256' && encryption !== 'aws:kms') {
    throw new ConfigError(`must be AES256 or aws:kms, not "${String(encryption)}"`, '--encryption');
  }
  if (s3.sseKmsKeyId && encryption !== 'aws:kms') throw new ConfigError('a KMS key id needs encryption aws:kms', '--sse-kms-key-id');

  const partSize = s3.partSize ?? 0;
  if (partSize !== 0 && (partSize < MIN_PART_SIZE || partSize > MAX_PART_SIZE)) {
    throw new ConfigError(`must be between 5 MiB and 5 GiB, not ${partSize} bytes`, 'part size');
  }
  const maxParts = s3.maxParts ?? DEFAULT_MAX_PARTS;
  if (!Number.isInteger(maxParts) || maxParts < 1 || maxParts > DEFAULT_MAX_PARTS) throw new ConfigError(`must be 1..10000, not ${maxParts}`, 'max parts');
  const uploadConcurrency = s3.uploadConcurrency ?? DEFAULT_UPLOAD_CONCURRENCY;
  if (!Number.isInteger(uploadConcurrency) || uploadConcurrency < 1 || uploadConcurrency > 64) {
    throw new ConfigError(`must be 1..64, not ${uploadConcurrency}`, 'upload concurrency');
  }
  const readTimeout = options.readTimeoutSeconds ?? DEFAULT_READ_TIMEOUT_SECONDS;
  if (!(readTimeout > 0)) throw new ConfigError(`must be a positive number of seconds, not ${readTimeout}`, '--read-timeout');

  const proxy = s3EndpointProxy(options.proxy, endpoint, region);
  return {
    bucket: destination.bucket,
    region,
    endpoint,
    endpointLabel: `${endpoint ?? `AWS S3 (${region})`}${proxy ? ` through the proxy ${proxyLabel(proxy)}` : ''}`,
    forcePathStyle,
    requestChecksumCalculation,
    responseChecksumValidation,
    credentials: credentialSource(options.credentials),
    stsEndpoint: options.credentials?.kind === 's3-web-identity' ? options.credentials.stsEndpoint : undefined,
    encryption,
    sseKmsKeyId: s3.sseKmsKeyId || undefined,
    partSize,
    maxParts,
    uploadConcurrency,
    readTimeoutMs: Math.round(readTimeout * 1000),
    proxy,
    expectContinue: !(proxy && (endpoint ?? 'https:').startsWith('http:')),
  };
}

/** The proxy for the endpoint's scheme and host (AWS's regional host when there is no endpoint URL). */
function s3EndpointProxy(vars: ProxyVariables | undefined, endpoint: string | undefined, region: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(endpoint ?? `https://s3.${region}.amazonaws.com`);
  } catch {
    return undefined; // Not a URL: reported where the endpoint is checked.
  }
  return endpointProxy(vars, url);
}

function toMode(v: 'when_required' | 'when_supported' | undefined): ChecksumMode | undefined {
  return v === undefined ? undefined : v === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
}

/** The SDK-facing form of typed credentials (secrets revealed here, for the client only). */
export function credentialSource(c: StoreCredentials | undefined): CredentialSource {
  switch (c?.kind) {
    case undefined:
    case 's3-default-chain':
      return { kind: 'default-chain' };
    case 's3-access-key':
      return { kind: 'static', accessKeyId: revealText(c.accessKeyId), secretAccessKey: revealText(c.secretAccessKey), ...(c.sessionToken ? { sessionToken: revealText(c.sessionToken) } : {}) };
    case 's3-profile':
      return { kind: 'profile', profile: c.profile, ...(c.configFile ? { configFile: c.configFile } : {}), ...(c.credentialsFile ? { credentialsFile: c.credentialsFile } : {}) };
    case 's3-web-identity':
      return { kind: 'web-identity', roleArn: c.roleArn, tokenFile: c.tokenFile, ...(c.sessionName ? { sessionName: c.sessionName } : {}) };
    default:
      throw new ConfigError(`${String(c?.kind)} credentials cannot be used with an S3 destination`, 'credentials');
  }
}

/**
 * Part size for one upload: the configured size, else the smallest multiple of 1 MiB ≥ 8 MiB (≥ `budgeted`
 * when the memory budget asks for one, at least 5 MiB) that fits `expected` bytes (+25 % margin for inexact
 * hints) into maxParts. Every non-final part has this size.
 */
export function choosePartSize(settings: Pick<S3Settings, 'partSize' | 'maxParts'>, expected: number | undefined, budgeted?: number): number {
  if (settings.partSize > 0) return settings.partSize;
  const least = budgeted !== undefined ? Math.max(MIN_PART_SIZE, Math.ceil(budgeted / MIB) * MIB) : MIN_CHOSEN_PART_SIZE;
  if (expected === undefined || !(expected > 0)) return budgeted !== undefined ? Math.min(MAX_PART_SIZE, least) : Math.max(DEFAULT_PART_SIZE, MIN_CHOSEN_PART_SIZE);
  const needed = Math.ceil((expected * 1.25) / settings.maxParts);
  const rounded = Math.ceil(needed / MIB) * MIB;
  return Math.min(MAX_PART_SIZE, Math.max(least, rounded));
}
