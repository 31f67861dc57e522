/**
 * The Kubernetes API as pgstow uses it. @kubernetes/client-node's KubeConfig does what it is good at: kubeconfig
 * files and contexts, the in-cluster service account (its token file re-read as kubelet refreshes it), CAs, client
 * certificates, exec and other auth providers, impersonation, proxy-url (its own Node agents); its public
 * applyToHTTPSOptions() puts all of that on each request. The few calls pgstow makes (custom objects, one Secret
 * read) are plain JSON requests over node:https / node:http, bounded by a timeout. The library's generated API
 * classes and its fetch (undici) stay out: the build bundles KubeConfig alone into
 * dist/src/vendor/@kubernetes/client-node.mjs (scripts/bundle-sdks.mjs; what only rare kubeconfigs use, oidc, the
 * gcp/azure auth providers and socks5 proxies, loads from node_modules when used), because the plugin sidecar is a
 * long-lived process with a memory limit (issue 12; docs/cnpg-plugin.md has the numbers). Without that file (a tsc-only
 * build) the package comes from node_modules. Both the Secret source and the plugin's API client load it through
 * here, so a process holds one copy.
 */
import type { IncomingMessage, RequestOptions } from 'node:http';
import { ConfigError } from '../errors.js';
import { http, https } from '../storage/node-net.js';
import { VERSION } from '../version.js';

type KubeConfig = InstanceType<typeof import('@kubernetes/client-node').KubeConfig>;
export type KubeModule = Pick<typeof import('@kubernetes/client-node'), 'KubeConfig'>;

const BUNDLE = new URL('../vendor/@kubernetes/client-node.mjs', import.meta.url).href;

/** Node caches each module: every call after the first resolves to the same copy. */
export async function loadKubeClient(): Promise<KubeModule> {
  try {
    return await (import(BUNDLE) as Promise<KubeModule>);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    return import('@kubernetes/client-node');
  }
}

/** A whole request (connect, TLS, answer) gets this long; the API server answers pgstow's calls in milliseconds. */
export const KUBE_REQUEST_TIMEOUT_MS = 30_000;
/** Larger answers are refused: pgstow reads single objects and one cluster's Backups. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** An answer other than 2xx, with the message of the Status object the API server sends with one. */
export class KubeStatusError extends Error {
  constructor(readonly status: number, readonly apiMessage: string | undefined) {
    super(`the Kubernetes API answered ${status}${apiMessage ? `: ${apiMessage}` : ''}`);
  }
}
KubeStatusError.prototype.name = 'KubeStatusError';

export type KubeconfigLocation = { kind: 'file'; file: string } | { kind: 'in-cluster' };

export interface KubeConnection {
  /** The current cluster's server URL, for messages. */
  readonly server: string;
  /** The namespace of the current context, if it names one (in a pod: the service account's, untrimmed). */
  readonly contextNamespace: string | undefined;
  /**
   * One request; `path` starts with /api or /apis and may carry a query. Resolves to the parsed JSON of a 2xx
   * answer (undefined when empty); rejects with KubeStatusError for any other status, or with the network error.
   */
  request(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<unknown>;
}

/** KubeConfig loaded from a kubeconfig file or the in-cluster service account, and a way to call its server. */
export async function connectKube(where: KubeconfigLocation, timeoutMs = KUBE_REQUEST_TIMEOUT_MS): Promise<KubeConnection> {
  const { KubeConfig } = await loadKubeClient();
  const kc = new KubeConfig();
  if (where.kind === 'file') kc.loadFromFile(where.file);
  else kc.loadFromCluster();
  const server = kc.getCurrentCluster()?.server;
  if (!server) {
    throw new ConfigError(where.kind === 'file'
      ? `kubeconfig ${where.file}: its current context ("${kc.getCurrentContext()}") names no cluster with a server`
      : 'the in-cluster Kubernetes configuration names no server (KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT)');
  }
  const base = new URL(server);
  return {
    server,
    contextNamespace: kc.getContextObject(kc.getCurrentContext())?.namespace,
    request: (method, path, body) => send(kc, base, method, path, body, timeoutMs),
  };
}

async function send(kc: KubeConfig, base: URL, method: string, path: string, body: unknown, timeoutMs: number): Promise<unknown> {
  // A server URL may carry a path prefix (an API proxy such as Rancher's /k8s/clusters/<id>).
  const url = new URL(`${base.origin}${base.pathname.replace(/\/+$/, '')}${path}`);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
  const headers: Record<string, string | number> = { Accept: 'application/json', 'User-Agent': `pgstow/${VERSION}` };
  if (payload) Object.assign(headers, { 'Content-Type': 'application/json', 'Content-Length': payload.length });
  const opts: RequestOptions = {
    method, protocol: url.protocol, hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'), path: `${url.pathname}${url.search}`, headers,
  };
  if (url.port) opts.port = Number(url.port);
  // CA, client certificate and key, TLS server name, skip-verify, the Authorization header from the token or auth
  // provider (re-read or refreshed as the library decides), basic auth, impersonation, and the agent (a proxy agent
  // when the cluster has a proxy-url). The library throws for http: without insecure-skip-tls-verify.
  await kc.applyToHTTPSOptions(opts);
  const timeout = Object.assign(new Error(`no complete answer within ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' });
  let timedOut = false;
  let text: string;
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = (url.protocol === 'http:' ? http : https).request(opts, resolve);
    const timer = setTimeout(() => { timedOut = true; req.destroy(timeout); }, timeoutMs);
    // Cleared once the exchange is over, either way; until then the destroy above also cuts a body being read.
    req.on('close', () => clearTimeout(timer));
    req.on('error', reject);
    req.end(payload);
  });
  try {
    text = await readBody(res);
  } catch (err) {
    throw timedOut ? timeout : err;
  }
  const status = res.statusCode ?? 0;
  if (status < 200 || status > 299) throw new KubeStatusError(status, statusMessage(text));
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new KubeStatusError(status, `the answer is not JSON (${res.headers['content-type'] ?? 'no content-type'})`);
  }
}

/** The `message` of a Status object (what kubectl prints), if the body is one. */
function statusMessage(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { message?: unknown } | null;
    return typeof parsed?.message === 'string' ? parsed.message : undefined;
  } catch {
    return undefined;
  }
}

async function readBody(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > MAX_BODY_BYTES) {
      res.destroy();
      throw Object.assign(new Error(`answer larger than ${MAX_BODY_BYTES / 1024 / 1024} MiB`), { code: 'EMSGSIZE' });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, length).toString('utf8');
}
