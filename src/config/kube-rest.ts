/**
 * The few Kubernetes API calls pgstow makes (read a Secret; get, list, create, replace and delete a namespaced
 * object of any group, and replace its status), as plain JSON over node:https, with the same classes and method
 * names as @kubernetes/client-node's (KubeConfig, CustomObjectsApi, CoreV1Api). The package, even bundled down to
 * those three classes, held 7.5 MiB of the long-lived sidecar's V8 heap (its generated model classes and their
 * serializer, undici, js-yaml, the auth providers) and 27-35 MiB of RSS once loaded: more than a quarter of the
 * 100 MiB budget for what these ~200 lines do (measured for issue 12, see the commit).
 *
 * Authentication handled here: the in-cluster service account (its token file re-read every minute, as client-go
 * does: projected tokens rotate) and, from a kubeconfig, bearer tokens (inline or a token file), client
 * certificates and basic auth, with the cluster's CA or insecure-skip-tls-verify. A kubeconfig whose user needs
 * more (an exec credential plugin, an auth-provider, impersonation) or whose cluster needs a proxy gets its
 * headers and TLS agent from the package itself, loaded only then (a developer's kubeconfig, never a pod's).
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as path from 'node:path';

const SERVICE_ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';
/** How long a token read from a file is used before the file is read again (client-go: one minute). */
const TOKEN_FILE_TTL_MS = 60_000;
/** No answer on the connection for this long fails the call (the API server would have answered long before). */
const REQUEST_TIMEOUT_MS = 60_000;

interface Cluster { name: string; server: string; caData?: string; caFile?: string; skipTLSVerify?: boolean; tlsServerName?: string; proxyUrl?: string }
interface User {
  name: string; token?: string; tokenFile?: string; certData?: string; certFile?: string; keyData?: string; keyFile?: string;
  username?: string; password?: string;
  /** exec, auth-provider, as: left to the package. */
  needsPackage?: boolean;
}
interface Context { name: string; cluster: string; user: string; namespace?: string }

/** The API server's answer to a call that did not succeed: `code` is the HTTP status, `body` its text (a Status). */
export class KubeApiError extends Error {
  constructor(readonly code: number, readonly body: string, what: string) {
    super(`HTTP ${code} from the Kubernetes API (${what})`);
    this.name = 'KubeApiError';
  }
}

type Raw = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export class KubeConfig {
  private clusters: Cluster[] = [];
  private users: User[] = [];
  private contexts: Context[] = [];
  private currentContext = '';
  /** The kubeconfig file, for the package when this configuration needs it. */
  private file: string | undefined;
  private transport: Transport | undefined;

  /** `now`: the clock that times the re-reads of credential files (tests). */
  constructor(private readonly options: { now?: () => number } = {}) {}

  /** A kubeconfig file (YAML or JSON); relative file names in it are relative to its directory. */
  async loadFromFile(file: string): Promise<void> {
    const text = await fs.promises.readFile(file, 'utf8');
    const doc = (text.trimStart().startsWith('{') ? JSON.parse(text) : (await import('yaml')).parse(text)) as Raw | null;
    const dir = path.dirname(file);
    const abs = (p: unknown): string | undefined => { const s = str(p); return s === undefined ? undefined : path.resolve(dir, s); };
    const list = (key: string): Raw[] => (Array.isArray(doc?.[key]) ? doc[key] as Raw[] : []);
    this.clusters = list('clusters').map((e) => {
      const c = (e.cluster ?? {}) as Raw;
      const server = str(c.server);
      if (!str(e.name) || !server) throw new Error(`${file}: a cluster without a name or server`);
      return { name: e.name as string, server: server.replace(/\/$/, ''), caData: str(c['certificate-authority-data']), caFile: abs(c['certificate-authority']),
        skipTLSVerify: c['insecure-skip-tls-verify'] === true, tlsServerName: str(c['tls-server-name']), proxyUrl: str(c['proxy-url']) } as Cluster;
    });
    this.users = list('users').map((e) => {
      const u = (e.user ?? {}) as Raw;
      return { name: String(e.name), token: str(u.token), tokenFile: abs(u.tokenFile ?? u['token-file']), certData: str(u['client-certificate-data']),
        certFile: abs(u['client-certificate']), keyData: str(u['client-key-data']), keyFile: abs(u['client-key']), username: str(u.username),
        password: str(u.password), needsPackage: u.exec !== undefined || u['auth-provider'] !== undefined || u.as !== undefined } as User;
    });
    this.contexts = list('contexts').map((e) => ({ name: String(e.name), ...(e.context as Raw) } as Context));
    this.currentContext = String(doc?.['current-context'] ?? '');
    this.file = file;
  }

  /** The pod's service account: KUBERNETES_SERVICE_HOST/PORT of `env`, its CA and its token file. */
  loadFromCluster(env: Readonly<Record<string, string | undefined>>, pathPrefix = ''): void {
    const host = env.KUBERNETES_SERVICE_HOST ?? '';
    const port = env.KUBERNETES_SERVICE_PORT ?? '';
    const scheme = ['80', '8080', '8001'].includes(port) ? 'http' : 'https';
    this.clusters = [{ name: 'inCluster', server: `${scheme}://${net.isIPv6(host) ? `[${host}]` : host}:${port}`, caFile: `${pathPrefix}${SERVICE_ACCOUNT}/ca.crt` }];
    this.users = [{ name: 'inClusterUser', tokenFile: `${pathPrefix}${SERVICE_ACCOUNT}/token` }];
    this.contexts = [{ name: 'inClusterContext', cluster: 'inCluster', user: 'inClusterUser' }];
    this.currentContext = 'inClusterContext';
    this.file = undefined;
  }

  getCurrentContext(): string { return this.currentContext; }
  getContextObject(name: string): Context | null { return this.contexts.find((c) => c.name === name) ?? null; }
  getCurrentCluster(): Cluster | null {
    const ctx = this.getContextObject(this.currentContext);
    return ctx ? this.clusters.find((c) => c.name === ctx.cluster) ?? null : null;
  }

  makeApiClient<T>(api: new (transport: Transport) => T): T {
    const cluster = this.getCurrentCluster();
    if (!cluster) throw new Error('No active cluster!');
    const ctx = this.getContextObject(this.currentContext);
    const user = this.users.find((u) => u.name === ctx?.user) ?? { name: '' };
    this.transport ??= new Transport(cluster, user, cluster.proxyUrl !== undefined || user.needsPackage ? this.file : undefined, this.options.now ?? Date.now);
    return new api(this.transport);
  }
}

interface Credentials { agent: http.Agent; headers: Record<string, string> }

/**
 * One keep-alive agent per configuration. The credentials' files are read again every minute (a projected
 * token rotates; a CA or client certificate may): a new agent only when the TLS material changed, the old one
 * closed once the calls it carries are over.
 */
class Transport {
  private material: Promise<Credentials> | undefined;
  private readAt = 0;
  private tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; agent: http.Agent } | undefined;
  private packageConfig: Promise<import('@kubernetes/client-node').KubeConfig> | undefined;
  private readonly base: URL;

  constructor(private readonly cluster: Cluster, private readonly user: User, private readonly packageFile: string | undefined,
    private readonly now: () => number) {
    this.base = new URL(cluster.server);
  }

  async call(method: string, apiPath: string, what: string, body?: unknown): Promise<unknown> {
    const { agent, headers } = await this.credentials();
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const url = new URL(this.base.pathname.replace(/\/$/, '') + apiPath, this.base);
    const text = await send(url, { method, agent, timeout: REQUEST_TIMEOUT_MS, headers: {
      ...headers, Accept: 'application/json', 'User-Agent': 'pgstow',
      ...(payload !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) } : {}),
    } }, payload, what);
    return text === '' ? {} : JSON.parse(text) as unknown;
  }

  private credentials(): Promise<Credentials> {
    if (!this.material || this.now() - this.readAt >= TOKEN_FILE_TTL_MS) {
      this.readAt = this.now();
      const next = this.packageFile ? this.fromPackage(this.packageFile) : this.read();
      next.catch(() => { if (this.material === next) this.material = undefined; });
      this.material = next;
    }
    return this.material;
  }

  private async read(): Promise<Credentials> {
    const { cluster, user } = this;
    const file = (f: string | undefined): Promise<Buffer | undefined> => (f ? fs.promises.readFile(f) : Promise.resolve(undefined));
    const data = (d: string | undefined): Buffer | undefined => (d ? Buffer.from(d, 'base64') : undefined);
    const [ca, cert, key, token] = await Promise.all([
      data(cluster.caData) ?? file(cluster.caFile), data(user.certData) ?? file(user.certFile), data(user.keyData) ?? file(user.keyFile),
      user.token ?? file(user.tokenFile).then((b) => b?.toString('utf8').trim()),
    ]);
    const headers: Record<string, string> = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    else if (user.username) headers.Authorization = `Basic ${Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64')}`;
    const same = (a: Buffer | undefined, b: Buffer | undefined): boolean => (a === undefined ? b === undefined : b !== undefined && a.equals(b));
    const old = this.tls;
    if (old && same(old.ca, ca) && same(old.cert, cert) && same(old.key, key)) return { agent: old.agent, headers };
    const agent = this.base.protocol === 'http:'
      ? new http.Agent({ keepAlive: true })
      : new https.Agent({ keepAlive: true, ca, cert, key, rejectUnauthorized: !cluster.skipTLSVerify, ...(cluster.tlsServerName ? { servername: cluster.tlsServerName } : {}) });
    this.tls = { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}), agent };
    if (old) setTimeout(() => old.agent.destroy(), REQUEST_TIMEOUT_MS).unref();
    return { agent, headers };
  }

  /** Exec credential plugins, auth providers, impersonation, proxies: the package's own code decides. */
  private async fromPackage(file: string): Promise<Credentials> {
    this.packageConfig ??= import('@kubernetes/client-node').then((k8s) => {
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(file);
      return kc;
    });
    this.packageConfig.catch(() => { this.packageConfig = undefined; });
    const opts: https.RequestOptions = { headers: {} };
    await (await this.packageConfig).applyToHTTPSOptions(opts);
    return { agent: opts.agent as http.Agent, headers: Object.fromEntries(Object.entries(opts.headers ?? {}).map(([k, v]) => [k, String(v)])) };
  }
}

function send(url: URL, options: https.RequestOptions, payload: string | undefined, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'http:' ? http : https).request(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve(text);
        else reject(new KubeApiError(status, text, what));
      });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer from the Kubernetes API in ${REQUEST_TIMEOUT_MS / 1000} s (${what})`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(payload);
  });
}

const seg = encodeURIComponent;
const objectPath = (o: { group: string; version: string; namespace: string; plural: string }): string =>
  `/apis/${seg(o.group)}/${seg(o.version)}/namespaces/${seg(o.namespace)}/${seg(o.plural)}`;

interface ObjectRef { group: string; version: string; namespace: string; plural: string; name: string }

/** Namespaced objects of any API group (ObjectStores, Backups, Clusters; the operator's Roles and RoleBindings). */
export class CustomObjectsApi {
  constructor(private readonly t: Transport) {}
  getNamespacedCustomObject(o: ObjectRef): Promise<unknown> {
    return this.t.call('GET', `${objectPath(o)}/${seg(o.name)}`, `get ${o.plural} ${o.namespace}/${o.name}`);
  }
  listNamespacedCustomObject(o: Omit<ObjectRef, 'name'> & { labelSelector?: string }): Promise<unknown> {
    const query = o.labelSelector ? `?labelSelector=${seg(o.labelSelector)}` : '';
    return this.t.call('GET', `${objectPath(o)}${query}`, `list ${o.plural} in ${o.namespace}`);
  }
  createNamespacedCustomObject(o: Omit<ObjectRef, 'name'> & { body: object }): Promise<unknown> {
    return this.t.call('POST', objectPath(o), `create ${o.plural} in ${o.namespace}`, o.body);
  }
  replaceNamespacedCustomObject(o: ObjectRef & { body: object }): Promise<unknown> {
    return this.t.call('PUT', `${objectPath(o)}/${seg(o.name)}`, `replace ${o.plural} ${o.namespace}/${o.name}`, o.body);
  }
  replaceNamespacedCustomObjectStatus(o: ObjectRef & { body: object }): Promise<unknown> {
    return this.t.call('PUT', `${objectPath(o)}/${seg(o.name)}/status`, `replace the status of ${o.plural} ${o.namespace}/${o.name}`, o.body);
  }
  deleteNamespacedCustomObject(o: ObjectRef): Promise<unknown> {
    return this.t.call('DELETE', `${objectPath(o)}/${seg(o.name)}`, `delete ${o.plural} ${o.namespace}/${o.name}`);
  }
}

export interface V1Secret { data?: Record<string, string>; stringData?: Record<string, string>; metadata?: { resourceVersion?: string } }

export class CoreV1Api {
  constructor(private readonly t: Transport) {}
  async readNamespacedSecret(o: { name: string; namespace: string }): Promise<V1Secret> {
    return await this.t.call('GET', `/api/v1/namespaces/${seg(o.namespace)}/secrets/${seg(o.name)}`, `get Secret ${o.namespace}/${o.name}`) as V1Secret;
  }
}
