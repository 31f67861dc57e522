/**
 * Azure Storage's Shared Key signature of one request (learn.microsoft.com, "Authorize with Shared Key"), as the
 * SDK's storageSharedKeyCredentialPolicy computes it, for the lean store (lean-store.ts): node:crypto's HMAC, no SDK.
 */
import { createHmac } from 'node:crypto';

/** The standard headers signed, in the SDK's order (it puts Content-Language before Content-Encoding). */
const SIGNED = ['content-language', 'content-encoding', 'content-length', 'content-md5', 'content-type', 'date',
  'if-modified-since', 'if-match', 'if-none-match', 'if-unmodified-since', 'range'];

/**
 * x-ms-* header names in the order the service sorts them. The SDK's comparator ignores "-" first; for names of
 * lower-case letters, digits and "-" (the only ones the lean store sends) that is this order.
 */
function compareHeaderNames(a: string, b: string): number {
  const x = a.replace(/-/g, '');
  const y = b.replace(/-/g, '');
  if (x !== y) return x < y ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The Authorization header for a request. `path` is the URL's encoded path (the account's included, as on
 * Azurite); `query` its parameters decoded; `headers` every header with lower-case names.
 */
export function sharedKeyAuthorization(account: string, key: Buffer, method: string, path: string,
  query: Readonly<Record<string, string>>, headers: Readonly<Record<string, string>>): string {
  const value = (name: string): string => {
    const v = headers[name] ?? '';
    return name === 'content-length' && v === '0' ? '' : v;
  };
  const msHeaders = Object.keys(headers).filter((n) => n.startsWith('x-ms-')).sort(compareHeaderNames)
    .map((n) => `${n}:${(headers[n] ?? '').trimStart()}\n`).join('');
  const params = Object.keys(query).map((k) => [k.toLowerCase(), query[k] ?? ''] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([k, v]) => `\n${k}:${v}`).join('');
  const toSign = `${method}\n${SIGNED.map(value).join('\n')}\n${msHeaders}/${account}${path || '/'}${params}`;
  return `SharedKey ${account}:${createHmac('sha256', key).update(toSign, 'utf8').digest('base64')}`;
}
