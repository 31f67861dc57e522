/**
 * Which proxy, if any, a request to a store endpoint goes through: the variables botocore reads (through
 * Python's urllib and requests) with their meaning, so a command that replaces `barman-cloud-*` behind a proxy
 * reaches the store the same way. Pure: the composition root reads the environment; drivers get the values.
 */
import { BlockList, isIP } from 'node:net';
import { ConfigError } from '../errors.js';
import { StorageRequestError, type StorageErrorOptions } from './errors.js';

/** HTTPS_PROXY / HTTP_PROXY (ALL_PROXY folded in) and NO_PROXY, as read from an environment. */
export interface ProxyVariables {
  https?: string;
  http?: string;
  noProxy?: string;
}

/** The proxy for `target` (an endpoint URL), or undefined to connect directly. */
export function proxyFor(vars: ProxyVariables | undefined, target: URL): URL | undefined {
  if (!vars) return undefined;
  const raw = target.protocol === 'https:' ? vars.https : target.protocol === 'http:' ? vars.http : undefined;
  if (raw === undefined || bypassed(vars.noProxy, target)) return undefined;
  // requests adds the scheme a proxy variable often lacks ("proxy:3128").
  return new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
}

/** Where a wrong proxy variable is reported (never its value: it may hold a password). */
const PROXY_VARIABLE = 'the proxy variable (HTTPS_PROXY/HTTP_PROXY/ALL_PROXY)';

/** proxyFor, checked: a value that is not a URL, or a proxy other than http:// and https:// (SOCKS), is a ConfigError. */
export function endpointProxy(vars: ProxyVariables | undefined, endpoint: URL): URL | undefined {
  let proxy: URL | undefined;
  try {
    proxy = proxyFor(vars, endpoint);
  } catch {
    throw new ConfigError('not a URL (expected e.g. http://proxy.example.com:3128)', PROXY_VARIABLE);
  }
  if (proxy && proxy.protocol !== 'http:' && proxy.protocol !== 'https:') {
    throw new ConfigError(`must be an http:// or https:// proxy, not ${proxy.protocol}//`, PROXY_VARIABLE);
  }
  return proxy;
}

/**
 * NO_PROXY: "*" for every host; otherwise names, matched exactly or as a parent domain ("example.com" and
 * ".example.com" both cover "s3.example.com"), "host:port" for that port only, and IP addresses or CIDR ranges.
 */
export function bypassed(noProxy: string | undefined, target: URL): boolean {
  if (noProxy === undefined) return false;
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const port = target.port || (target.protocol === 'https:' ? '443' : '80');
  return noProxy.split(/[\s,]+/).filter((e) => e !== '').some((entry) => matches(entry.toLowerCase(), host, port));
}

function matches(entry: string, host: string, port: string): boolean {
  if (entry === '*') return true;
  const family = isIP(host);
  if (family !== 0 && entry.includes('/')) return inRange(entry, host, family);
  const withPort = /^(.*):(\d+)$/.exec(entry);
  if (withPort && isIP(entry) === 0) return withPort[2] === port && matches(withPort[1]!, host, port);
  const name = entry.replace(/^\*?\./, '').replace(/^\[(.*)\]$/, '$1');
  return host === name || (family === 0 && host.endsWith(`.${name}`));
}

function inRange(cidr: string, host: string, family: number): boolean {
  const [net, bits] = cidr.split('/');
  const type = family === 6 ? 'ipv6' : 'ipv4';
  if (isIP(net ?? '') !== family || !/^\d+$/.test(bits ?? '')) return false;
  const list = new BlockList();
  try { list.addSubnet(net!, Number(bits), type); } catch { return false; }
  return list.check(host, type);
}

/** The proxy URL for messages: without its user name and password. */
export function proxyLabel(proxy: URL): string {
  return `${proxy.protocol}//${proxy.host}`;
}

/**
 * A proxy's 407 (Proxy Authentication Required, for a tunnel or a forwarded request): not the store's answer, so one
 * line that says which proxy (without its credentials) and what to check; not retried.
 */
export function proxyRefused(base: StorageErrorOptions, what: string, endpoint: string, proxy: string | undefined): StorageRequestError {
  return new StorageRequestError({ ...base, retryable: false }, `${what} failed: the proxy refused it (HTTP 407 Proxy Authentication Required, at ${endpoint}`
    + `${proxy ? ` through the proxy ${proxy}` : ''}); check the user and password in HTTPS_PROXY / HTTP_PROXY`);
}
