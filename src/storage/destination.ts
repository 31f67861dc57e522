/**
 * Parses destination URLs the way barman-cloud does (barman/cloud_providers/*.py), so the same
 * destinationPath works with both tools. Pure: no SDK, no I/O.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';
import { CLOUD_PROVIDERS, type CloudProvider, type Destination } from './store-options.js';

/** Picks the provider from --cloud-provider, else from the URL scheme (Barman defaults to aws-s3). */
export function inferProvider(rawUrl: string, explicit?: string): CloudProvider {
  const url = urlForMessages(rawUrl);
  if (explicit !== undefined) {
    if (!(CLOUD_PROVIDERS as readonly string[]).includes(explicit)) {
      throw new UsageError(`unknown cloud provider "${explicit}" (expected one of: ${CLOUD_PROVIDERS.join(', ')})`);
    }
    return explicit as CloudProvider;
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case 's3': return 'aws-s3';
    case 'gs': return 'google-cloud-storage';
    case 'file': return 'file';
    case 'memory': return 'memory';
    case 'http':
    case 'https':
      if (/\.blob\.core\./i.test(url)) return 'azure-blob-storage';
      if (/^https:\/\/console\.cloud\.google\.com\/storage\/browser\//i.test(url)) return 'google-cloud-storage';
      throw new UsageError(`cannot tell the provider of "${url}": pass --cloud-provider (aws-s3, azure-blob-storage, google-cloud-storage)`);
    case undefined:
      if (url.startsWith('/')) return 'file';
      throw new UsageError(`destination "${url}" is not a URL (expected s3://, gs://, https://<account>.blob.core.windows.net/…, or file:///path)`);
    default:
      throw new UsageError(`unsupported destination scheme "${scheme}:" in "${url}" (expected s3://, gs://, https:// for Azure, or file://)`);
  }
}

/** The URL for messages: any user:password@ part replaced, so an error never prints a secret given there. */
export function urlForMessages(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1***@');
}

/**
 * Refuses credentials inside a URL (s3://KEY:SECRET@bucket/…, https://user:pass@host): Barman has no such form, they
 * would end up in logs and process lists, and the message names neither. Exit 3.
 */
export function assertNoUserinfo(url: string, what: string): void {
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(url)) {
    throw new UsageError(`${what} holds credentials (user:password@…), which pgstow refuses and does not print: give them through the `
      + 'environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AZURE_STORAGE_*, GOOGLE_APPLICATION_CREDENTIALS) or --config secrets');
  }
}

export function parseDestination(url: string, provider: CloudProvider): Destination {
  assertNoUserinfo(url, 'the destination URL');
  switch (provider) {
    case 'file': return parseFile(url);
    case 'aws-s3': return parseS3(url);
    case 'google-cloud-storage': return parseGcs(url);
    case 'azure-blob-storage': return parseAzure(url);
    case 'memory': return parseMemory(url);
  }
}

/** memory://<name>[/prefix]: an in-process store; stores opened on the same name share their objects. */
function parseMemory(url: string): Destination {
  const m = /^memory:\/\/([^/]+)(\/.*)?$/i.exec(url);
  if (!m || !m[1]) throw new UsageError(`invalid memory URL "${url}" (expected memory://name[/prefix])`);
  return { provider: 'memory', bucket: m[1], prefix: cleanPrefix(m[2] ?? '') };
}

function cleanPrefix(p: string): string {
  return p.split('/').filter((s) => s.length > 0).join('/');
}

function parseFile(url: string): Destination {
  let dir: string;
  if (url.startsWith('/')) dir = url;
  else {
    if (!/^file:\/\//i.test(url)) throw new UsageError(`invalid file URL "${url}" (expected file:///absolute/path)`);
    try { dir = fileURLToPath(url); } catch (err) {
      throw new UsageError(`invalid file URL "${url}": ${(err as Error).message}`);
    }
  }
  return { provider: 'file', bucket: path.resolve(dir), prefix: '' };
}

function parseS3(url: string): Destination {
  const m = /^s3:\/\/([^/]*)(\/.*)?$/i.exec(url);
  if (!m) throw new UsageError(`invalid s3 URL "${url}" (expected s3://bucket[/prefix])`);
  const bucket = m[1] ?? '';
  if (bucket === '') throw new UsageError(`invalid s3 URL "${url}": the bucket name is empty`);
  return { provider: 'aws-s3', bucket, prefix: cleanPrefix(m[2] ?? '') };
}

function parseGcs(url: string): Destination {
  let m = /^gs:\/\/([^/]*)(\/.*)?$/i.exec(url);
  if (!m) m = /^https:\/\/console\.cloud\.google\.com\/storage\/browser\/([^/]*)(\/.*)?$/i.exec(url);
  if (!m || !m[1]) throw new UsageError(`Google Cloud Storage URL "${url}" is malformed (expected gs://bucket[/prefix])`);
  return { provider: 'google-cloud-storage', bucket: m[1], prefix: cleanPrefix(m[2] ?? '') };
}

function parseAzure(url: string): Destination {
  let u: URL;
  try { u = new URL(url); } catch {
    throw new UsageError(`invalid Azure URL "${url}" (expected https://<account>.blob.core.windows.net/<container>[/path])`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new UsageError(`invalid Azure URL "${url}": scheme must be http or https`);
  const parts = u.pathname.split('/').filter((s) => s.length > 0).map(decodeURIComponent);
  if (/\.blob\.core\./i.test(u.hostname)) {
    // https://<account>.blob.core.windows.net/<container>/<path> (also sovereign clouds: blob.core.chinacloudapi.cn, …)
    const account = u.hostname.split('.')[0] ?? '';
    const container = parts[0];
    if (!container) throw new UsageError(`invalid Azure URL "${url}": the container is missing`);
    return { provider: 'azure-blob-storage', bucket: container, prefix: parts.slice(1).join('/'), azureAccount: account,
      azureAccountUrl: `${u.protocol}//${u.host}`, azureEmulated: false };
  }
  // Emulator / compatible form: http(s)://host:port/<account>/<container>/<path>
  const account = parts[0];
  const container = parts[1];
  if (!account || !container) throw new UsageError(`invalid Azure URL "${url}": expected http(s)://host:port/<account>/<container>[/path] for an emulator`);
  return { provider: 'azure-blob-storage', bucket: container, prefix: parts.slice(2).join('/'), azureAccount: account,
    azureAccountUrl: `${u.protocol}//${u.host}/${account}`, azureEmulated: true };
}
