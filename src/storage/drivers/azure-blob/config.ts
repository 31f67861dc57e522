/**
 * Which Azure credential and sizes a store uses, decided from StoreOptions alone (no SDK, no I/O), with
 * Barman's precedence (barman/cloud_providers/azure_blob_storage.py, spec §7.2):
 *   --credential/--azure-credential > AZURE_STORAGE_CONNECTION_STRING > AZURE_STORAGE_SAS_TOKEN
 *   > AZURE_STORAGE_KEY (account from the URL) > DefaultAzureCredential.
 */
import { ConfigError } from '../../../errors.js';
import { revealText } from '../../../secret.js';
import type { AzureIdentitySettings } from '../../credentials.js';
import type { AzureStoreOptions, Destination, StoreOptions } from '../../store-options.js';

export type AzureTokenCredentialKind = 'azure-cli' | 'managed-identity' | 'default';

export type AzureAuth =
  | { kind: 'connection-string'; accountName: string; blobEndpoint: string; accountKey?: string; sasToken?: string }
  | { kind: 'sas'; accountName: string; blobEndpoint: string; sasToken: string }
  | { kind: 'shared-key'; accountName: string; blobEndpoint: string; accountKey: string }
  | { kind: 'token'; accountName: string; blobEndpoint: string; credential: AzureTokenCredentialKind; explicit: boolean; identity: AzureIdentitySettings };

/** Azurite's well-known account (UseDevelopmentStorage=true); public, documented by Microsoft. */
const DEV_ACCOUNT = 'devstoreaccount1';
const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

function nonBlank(v: string): string | undefined {
  return v.trim() === '' ? undefined : v.trim();
}

export function resolveAzureAuth(destination: Destination, options: StoreOptions): AzureAuth {
  const accountName = destination.azureAccount ?? '';
  const blobEndpoint = destination.azureAccountUrl ?? '';
  const c = options.credentials;
  switch (c?.kind) {
    case undefined:
      return { kind: 'token', accountName, blobEndpoint, credential: 'default', explicit: false, identity: {} };
    case 'azure-entra-id':
      return { kind: 'token', accountName, blobEndpoint, credential: c.method, explicit: c.explicit ?? true, identity: c.identity ?? {} };
    case 'azure-connection-string': {
      const cs = nonBlank(revealText(c.connectionString));
      if (!cs) throw new ConfigError('the connection string is empty', 'AZURE_STORAGE_CONNECTION_STRING');
      return { kind: 'connection-string', ...parseConnectionString(cs) };
    }
    case 'azure-sas': {
      const sas = nonBlank(revealText(c.sasToken));
      if (!sas) throw new ConfigError('the SAS token is empty', 'AZURE_STORAGE_SAS_TOKEN');
      return { kind: 'sas', accountName, blobEndpoint, sasToken: sas.replace(/^\?/, '') };
    }
    case 'azure-shared-key': {
      const key = nonBlank(revealText(c.accountKey));
      if (!key) throw new ConfigError('the account key is empty', 'AZURE_STORAGE_KEY');
      return { kind: 'shared-key', accountName, blobEndpoint, accountKey: key };
    }
    default:
      throw new ConfigError(`${String(c?.kind)} credentials cannot be used with an Azure destination`, 'credentials');
  }
}

/**
 * Parses an Azure Storage connection string. As with Barman, the connection string decides the endpoint
 * (BlobEndpoint, else <protocol>://<account>.blob.<EndpointSuffix>); the URL only gives container and prefix.
 */
export function parseConnectionString(cs: string): { accountName: string; blobEndpoint: string; accountKey?: string; sasToken?: string } {
  const parts = new Map<string, string>();
  for (const piece of cs.split(';')) {
    if (piece.trim() === '') continue;
    const eq = piece.indexOf('=');
    if (eq <= 0) throw new ConfigError('malformed connection string (expected Key=Value pairs separated by ";")', 'AZURE_STORAGE_CONNECTION_STRING');
    parts.set(piece.slice(0, eq).trim().toLowerCase(), piece.slice(eq + 1).trim());
  }
  if (parts.get('usedevelopmentstorage')?.toLowerCase() === 'true') {
    const proxy = parts.get('developmentstorageproxyuri') ?? 'http://127.0.0.1:10000';
    return { accountName: DEV_ACCOUNT, accountKey: DEV_KEY, blobEndpoint: `${proxy.replace(/\/+$/, '')}/${DEV_ACCOUNT}` };
  }
  const accountKey = parts.get('accountkey');
  const sasToken = parts.get('sharedaccesssignature')?.replace(/^\?/, '');
  let blobEndpoint = parts.get('blobendpoint')?.replace(/\/+$/, '');
  let accountName = parts.get('accountname');
  if (!blobEndpoint) {
    if (!accountName) throw new ConfigError('the connection string has neither BlobEndpoint nor AccountName', 'AZURE_STORAGE_CONNECTION_STRING');
    const protocol = parts.get('defaultendpointsprotocol') ?? 'https';
    const suffix = parts.get('endpointsuffix') ?? 'core.windows.net';
    blobEndpoint = `${protocol}://${accountName}.blob.${suffix}`;
  }
  if (!accountName) {
    // SAS-only strings may omit AccountName: take it from the endpoint (host label or emulator path).
    const u = new URL(blobEndpoint);
    accountName = /\.blob\.core\./i.test(u.hostname) ? (u.hostname.split('.')[0] ?? '') : (u.pathname.split('/').filter(Boolean)[0] ?? '');
  }
  if (!accountKey && !sasToken) throw new ConfigError('the connection string has neither AccountKey nor SharedAccessSignature', 'AZURE_STORAGE_CONNECTION_STRING');
  return { accountName, blobEndpoint, ...(accountKey ? { accountKey } : {}), ...(sasToken ? { sasToken } : {}) };
}

/** Where the credential came from, for messages (never the secret itself). */
export function describeAuth(auth: AzureAuth): string {
  switch (auth.kind) {
    case 'connection-string': return `AZURE_STORAGE_CONNECTION_STRING (account ${auth.accountName}, ${auth.accountKey ? 'account key' : 'SAS'})`;
    case 'sas': return 'AZURE_STORAGE_SAS_TOKEN';
    case 'shared-key': return `AZURE_STORAGE_KEY for account ${auth.accountName}`;
    case 'token': {
      const name = auth.credential === 'managed-identity' ? 'managed identity' : auth.credential === 'azure-cli' ? 'Azure CLI credential' : 'DefaultAzureCredential';
      return auth.explicit ? `${name} (--credential ${auth.credential})`
        : `${name} (no AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_KEY set)`;
    }
  }
}

export interface AzureTuning {
  /** Bytes per staged block. */
  blockSize: number;
  /** Blocks uploaded at once per object. */
  concurrency: number;
  /** Bodies of known length up to this size go in one Put Blob request. */
  singlePutSize: number;
}

const MiB = 1024 * 1024;
/** Azure limits (API 2019-12-12+): 50 000 blocks per blob, 4000 MiB per block, 5000 MiB per Put Blob. */
export const AZURE_MAX_BLOCKS = 50_000;
const MAX_BLOCK = 4000 * MiB;
const MAX_SINGLE_PUT = 5000 * MiB;
/** 8 MiB blocks × 4 was the fastest setting measured on Azurite (test-infra §3); 64 MiB single put = Barman's WAL default. */
export const AZURE_DEFAULT_TUNING: AzureTuning = { blockSize: 8 * MiB, concurrency: 4, singlePutSize: 64 * MiB };

export function resolveTuning(o: AzureStoreOptions | undefined): AzureTuning {
  const pick = (v: number | undefined, def: number, min: number, max: number, name: string): number => {
    if (v === undefined) return def;
    if (!Number.isInteger(v) || v < min || v > max) throw new ConfigError(`must be an integer between ${min} and ${max}, got ${v}`, name);
    return v;
  };
  return {
    blockSize: pick(o?.maxBlockSize, AZURE_DEFAULT_TUNING.blockSize, 1, MAX_BLOCK, 'azure.maxBlockSize'),
    concurrency: pick(o?.maxConcurrency, AZURE_DEFAULT_TUNING.concurrency, 1, 64, 'azure.maxConcurrency'),
    singlePutSize: pick(o?.maxSinglePutSize, AZURE_DEFAULT_TUNING.singlePutSize, 0, MAX_SINGLE_PUT, 'azure.maxSinglePutSize'),
  };
}

/**
 * Block size for one upload: the memory budget's size when given, else the configured size, grown so
 * `sizeHint` bytes fit in 50 000 blocks.
 */
export function blockSizeFor(tuning: AzureTuning, sizeHint: number | undefined, budgeted?: number): number {
  const base = budgeted ?? tuning.blockSize;
  if (!sizeHint) return Math.min(MAX_BLOCK, base);
  return Math.min(MAX_BLOCK, Math.max(base, Math.ceil(sizeHint / AZURE_MAX_BLOCKS)));
}
