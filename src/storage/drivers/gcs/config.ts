/**
 * Turns StoreOptions into what the GCS driver needs: endpoint, credential source, KMS key, chunk size.
 * No SDK here; the only I/O is reading a key file (the credentials' file, or the gcloud ADC file when it
 * exists), so a broken key is reported before any request, naming the file.
 */
import * as fsp from 'node:fs/promises';
import { ConfigError, UsageError } from '../../../errors.js';
import { revealText } from '../../../secret.js';
import type { Destination, StoreOptions } from '../../store-options.js';
import { endpointProxy, type ProxyVariables } from '../../proxy-choice.js';

export const DEFAULT_GCS_ENDPOINT = 'https://storage.googleapis.com';
/** GCS requires resumable chunks to be multiples of 256 KiB (except the last). */
export const GCS_CHUNK_GRANULARITY = 256 * 1024;
/** Memory per upload is about one chunk; 16 MiB measured fastest on the emulator (test-infra §4b). */
export const DEFAULT_GCS_CHUNK_SIZE = 16 * 1024 * 1024;
/** Scope for object reads and writes; enough for every pgstow operation. */
export const GCS_SCOPE = 'https://www.googleapis.com/auth/devstorage.read_write';
/** Token URLs Google's library already uses; any other token_uri in a key file is honoured explicitly. */
export const GOOGLE_TOKEN_URLS: readonly string[] = ['https://oauth2.googleapis.com/token', 'https://www.googleapis.com/oauth2/v4/token'];

export type GcsAuth =
  /** A JSON credential (a key file, or its text from a Secret): service-account key or any type Google's library reads. */
  | { kind: 'key-file'; file: string; json: Record<string, unknown>; label: string; tokenUri?: string }
  /** The metadata server (GKE workload identity, GCE): Application Default Credentials without an ADC file. */
  | { kind: 'application-default'; label: string; metadataHost: string }
  /** STORAGE_EMULATOR_HOST without a key: emulators do not authenticate (as Google's own libraries do). */
  | { kind: 'anonymous'; label: string };

export interface GcsConfig {
  bucket: string;
  /** Custom endpoint, or undefined for Google Cloud Storage itself. */
  apiEndpoint: string | undefined;
  /** True when the endpoint came from STORAGE_EMULATOR_HOST. */
  emulator: boolean;
  /** The proxy for the endpoint (proxy-choice.ts: the environment's variables, NO_PROXY), or undefined: direct. */
  proxy: URL | undefined;
  /** The proxy variables, for the token requests (other hosts than the endpoint: index.ts tokenAgent). */
  proxyVariables: ProxyVariables | undefined;
  auth: GcsAuth;
  kmsKeyName: string | undefined;
  chunkSize: number;
  timeoutMs: number;
  /** Extra trusted CA certificates (PEM) for an HTTPS endpoint with a private CA, added to the system roots. */
  caPem: string | undefined;
  /** GOOGLE_CLOUD_PROJECT / GCLOUD_PROJECT, if given (only project-level calls need it; pgstow makes none). */
  projectId: string | undefined;
  description: string;
}

export const DEFAULT_METADATA_HOST = '169.254.169.254';

export async function resolveGcsConfig(destination: Destination, options: StoreOptions): Promise<GcsConfig> {
  const endpoint = nonEmpty(options.endpointUrl);
  const apiEndpoint = endpoint === undefined ? undefined : normalizeEndpoint(endpoint);
  const emulator = apiEndpoint !== undefined && options.gcs?.emulator === true;
  const auth = await resolveAuth(options, emulator);

  const requested = options.gcs?.chunkSize ?? DEFAULT_GCS_CHUNK_SIZE;
  if (!Number.isSafeInteger(requested) || requested <= 0) throw new UsageError(`GCS chunk size must be a positive number of bytes, got ${requested}`);
  const chunkSize = Math.ceil(requested / GCS_CHUNK_GRANULARITY) * GCS_CHUNK_GRANULARITY;

  // Each request answers within the read timeout (Barman's 60 s by default) or is retried; without one, a store
  // that stops answering held a call forever.
  const timeoutMs = (options.readTimeoutSeconds ?? 60) * 1000;
  return {
    bucket: destination.bucket, apiEndpoint, emulator, auth, chunkSize, timeoutMs,
    proxy: endpointProxy(options.proxy, new URL(apiEndpoint ?? DEFAULT_GCS_ENDPOINT)), proxyVariables: options.proxy,
    projectId: nonEmpty(options.gcs?.projectId),
    caPem: options.ca?.pem,
    kmsKeyName: nonEmpty(options.gcs?.kmsKeyName),
    description: `gs://${destination.bucket}${apiEndpoint ? ` at ${apiEndpoint}` : ''} (credential: ${auth.label})`,
  };
}

async function resolveAuth(options: StoreOptions, emulator: boolean): Promise<GcsAuth> {
  const c = options.credentials;
  switch (c?.kind) {
    case 'gcs-key-file': return parseKey(await readKeyFile(c.file), c.file, 'GOOGLE_APPLICATION_CREDENTIALS');
    case 'gcs-key': return parseKey(revealText(c.json), c.label ?? 'googleCredentials.applicationCredentials', 'googleCredentials.applicationCredentials');
    case 'gcs-anonymous': return { kind: 'anonymous', label: c.label ?? 'no credentials (STORAGE_EMULATOR_HOST)' };
    case undefined:
      if (emulator) return { kind: 'anonymous', label: 'no credentials (STORAGE_EMULATOR_HOST)' };
      return metadataAuth(undefined);
    case 'gcs-application-default': {
      // The gcloud ADC file first (outside GKE), as Google's libraries do; else the metadata server.
      const text = c.adcFile ? await fsp.readFile(c.adcFile, 'utf8').catch(() => undefined) : undefined;
      if (c.adcFile && text !== undefined && text.trim() !== '') return parseKey(text, c.adcFile, 'application default credentials');
      return metadataAuth(c.metadataHost);
    }
    default:
      throw new ConfigError(`${String(c?.kind)} credentials cannot be used with a GCS destination`, 'credentials');
  }
}

function metadataAuth(host: string | undefined): GcsAuth {
  const metadataHost = host ?? DEFAULT_METADATA_HOST;
  return { kind: 'application-default', metadataHost, label: `Application Default Credentials (metadata server ${metadataHost})` };
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function normalizeEndpoint(url: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `https://${url}`;
  try { new URL(withScheme); } catch {
    throw new UsageError(`invalid GCS endpoint URL "${url}"`);
  }
  return withScheme.replace(/\/+$/, '');
}

/**
 * Reads a credential file. A missing or empty file is a configuration error (exit 3): no request was made and
 * retrying cannot help until the file is fixed. The GKE workload identity case must not set
 * GOOGLE_APPLICATION_CREDENTIALS at all (an empty placeholder file is what broke barman, cnpg#4142).
 */
async function readKeyFile(file: string): Promise<string> {
  const where = 'GOOGLE_APPLICATION_CREDENTIALS';
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable by this user' : `cannot be read (${code ?? 'error'})`;
    throw new ConfigError(`the Google credentials file ${file} ${why}`, where, { cause: err });
  }
  if (text.trim() === '') {
    throw new ConfigError(`the Google credentials file ${file} is empty; put a service-account JSON key there, or for GKE workload identity `
      + '(gkeEnvironment) leave GOOGLE_APPLICATION_CREDENTIALS unset so the metadata server is used', where);
  }
  return text;
}

/** Checks a JSON credential; `file` names it in messages (a path, or the manifest field it came from). */
function parseKey(text: string, file: string, where: string): GcsAuth {
  let json: unknown;
  try { json = JSON.parse(text); } catch {
    // Never echo the content: it may be a private key.
    throw new ConfigError(`the Google credentials file ${file} is not valid JSON`, where);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json) || typeof (json as { type?: unknown }).type !== 'string') {
    throw new ConfigError(`the Google credentials file ${file} has no "type" field (expected a service-account key, "type": "service_account")`, where);
  }
  const obj = json as Record<string, unknown>;
  if (obj.type === 'service_account') {
    for (const field of ['client_email', 'private_key']) {
      if (typeof obj[field] !== 'string' || obj[field] === '') throw new ConfigError(`the service-account key ${file} has no "${field}"`, where);
    }
  }
  const tokenUri = typeof obj.token_uri === 'string' && !GOOGLE_TOKEN_URLS.includes(obj.token_uri) ? obj.token_uri : undefined;
  const who = typeof obj.client_email === 'string' ? ` (${obj.client_email})` : '';
  return { kind: 'key-file', file, json: obj, tokenUri, label: `${obj.type} credentials ${file}${who}` };
}
