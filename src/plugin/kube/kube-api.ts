/**
 * What the plugin reads and writes through the Kubernetes API (src/config/kube-client.ts: the in-cluster service
 * account, or KUBECONFIG outside a cluster, through @kubernetes/client-node's KubeConfig; JSON over node:https):
 * ObjectStores (and their status), the Cluster's Backup resources, and Secrets (through src/config's
 * KubernetesSecretSource). ObjectStores and Secrets are cached at most `ttlMs` (10 s), so rotated keys and CAs
 * take effect without a restart; every other call goes to the API server.
 */
import { ExitCode, OperationError, PgstowError } from '../../errors.js';
import { findKubeconfigAsync, KubernetesSecretSource, type KubernetesSourceOptions, type LookupResult, type SecretSource } from '../../config/secrets.js';
import { PluginConfigError } from '../plugin-errors.js';
import { connectKube, KubeStatusError, type KubeConnection } from '../../config/kube-client.js';

export const OBJECT_STORE_GROUP = 'barmancloud.cnpg.io';
export const OBJECT_STORE_VERSION = 'v1';
export const OBJECT_STORE_PLURAL = 'objectstores';
export const DEFAULT_TTL_MS = 10_000;
/** What call() hands back for the status its caller expects instead of an answer. */
const REFUSED = Symbol('refused');

export type KubeObject = Record<string, unknown> & { metadata?: Record<string, unknown> };

export interface KubeApiOptions {
  env: Readonly<Record<string, string | undefined>>;
  /** Explicit kubeconfig file (tests); else KUBECONFIG, ~/.kube/config or the in-cluster service account. */
  kubeconfig?: string;
  ttlMs?: number;
  now?: () => number;
  /** Per request (default KUBE_REQUEST_TIMEOUT_MS). */
  timeoutMs?: number;
}

export class KubeApi {
  private api: Promise<KubeConnection> | undefined;
  private readonly storeCache = new Map<string, { at: number; value: Promise<KubeObject> }>();
  private readonly secretSource: KubernetesSecretSource;
  private secretsReadAt = 0;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(private readonly options: KubeApiOptions) {
    this.ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    this.now = options.now ?? Date.now;
    const k: KubernetesSourceOptions = { env: options.env };
    if (options.kubeconfig) k.kubeconfig = options.kubeconfig;
    if (options.timeoutMs !== undefined) k.timeoutMs = options.timeoutMs;
    this.secretSource = new KubernetesSecretSource(k);
  }

  /** Secrets with the same TTL: the whole cache is forgotten once it is older than ttlMs. */
  secrets(): SecretSource {
    return {
      description: this.secretSource.description,
      lookup: (namespace: string, name: string, key: string): Promise<LookupResult> => {
        if (this.now() - this.secretsReadAt >= this.ttlMs) {
          this.secretSource.clear();
          this.secretsReadAt = this.now();
        }
        return this.secretSource.lookup(namespace, name, key);
      },
    };
  }

  /** The ObjectStore, from the cache when read less than ttlMs ago. */
  getObjectStore(namespace: string, name: string): Promise<KubeObject> {
    const key = `${namespace}/${name}`;
    const hit = this.storeCache.get(key);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.value;
    const value = this.getCustom(OBJECT_STORE_GROUP, OBJECT_STORE_VERSION, OBJECT_STORE_PLURAL, namespace, name).then((o) => {
      if (!o) throw new PluginConfigError(`ObjectStore ${namespace}/${name} (${OBJECT_STORE_GROUP}/${OBJECT_STORE_VERSION}) not found`);
      return o;
    });
    this.storeCache.set(key, { at: this.now(), value });
    value.catch(() => this.storeCache.delete(key));
    return value;
  }

  /**
   * Read-modify-write of an object's status subresource (fresh read, never the cache), retried on a
   * conflict. `mutate` returns the new status, or undefined to write nothing.
   */
  async updateStatus(group: string, version: string, plural: string, namespace: string, name: string,
    mutate: (status: Record<string, unknown>) => Record<string, unknown> | undefined): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.getCustom(group, version, plural, namespace, name);
      if (!current) throw new PluginConfigError(`${plural}.${group} ${namespace}/${name} not found`);
      const status = mutate(structuredClone((current.status ?? {}) as Record<string, unknown>));
      if (!status) return false;
      const wrote = await this.call('PUT', `${objectPath(group, version, namespace, plural, name)}/status`, { ...current, status },
        `update the status of ${plural}.${group} ${namespace}/${name}`, attempt < 4 ? 409 : undefined);
      if (wrote !== REFUSED) return true;
    }
  }

  async list(group: string, version: string, plural: string, namespace: string, labelSelector?: string): Promise<KubeObject[]> {
    const query = labelSelector ? `?${new URLSearchParams({ labelSelector }).toString()}` : '';
    const res = await this.call('GET', `${objectPath(group, version, namespace, plural)}${query}`, undefined,
      `list ${plural}.${group} in namespace ${namespace}`) as { items?: KubeObject[] } | undefined;
    return res?.items ?? [];
  }

  async delete(group: string, version: string, plural: string, namespace: string, name: string): Promise<boolean> {
    return await this.call('DELETE', objectPath(group, version, namespace, plural, name), undefined, `delete ${plural}.${group} ${namespace}/${name}`, 404) !== REFUSED;
  }

  /** POST of a namespaced object of any API group (the operator side creates Roles and RoleBindings this way). */
  async create(group: string, version: string, plural: string, namespace: string, body: KubeObject): Promise<KubeObject> {
    return await this.call('POST', objectPath(group, version, namespace, plural), body,
      `create ${plural}.${group} ${namespace}/${String(body.metadata?.name ?? '')}`) as KubeObject;
  }

  /** PUT of a namespaced object; `body.metadata.resourceVersion` makes it conditional (409 on a stale one). */
  async replace(group: string, version: string, plural: string, namespace: string, body: KubeObject): Promise<KubeObject> {
    const name = String(body.metadata?.name ?? '');
    return await this.call('PUT', objectPath(group, version, namespace, plural, name), body, `replace ${plural}.${group} ${namespace}/${name}`) as KubeObject;
  }

  async getCustom(group: string, version: string, plural: string, namespace: string, name: string): Promise<KubeObject | undefined> {
    const o = await this.call('GET', objectPath(group, version, namespace, plural, name), undefined, `get ${plural}.${group} ${namespace}/${name}`, 404);
    return o === REFUSED ? undefined : o as KubeObject;
  }

  /**
   * One request: the parsed answer, REFUSED when the API server answered `expected` (404: gone, 409: conflict),
   * else an error that names the call.
   */
  private async call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body: unknown, what: string, expected?: number): Promise<unknown> {
    const kube = await this.connection();
    try {
      return await kube.request(method, path, body);
    } catch (err) {
      if (err instanceof KubeStatusError && err.status === expected) return REFUSED;
      throw apiError(err, kube.server, what);
    }
  }

  private connection(): Promise<KubeConnection> {
    this.api ??= (async () => {
      const where = this.options.kubeconfig ? { kind: 'file' as const, file: this.options.kubeconfig } : await findKubeconfigAsync(this.options.env);
      if (!where) throw new PluginConfigError('no Kubernetes configuration: the sidecar needs its service account (KUBERNETES_SERVICE_HOST) or KUBECONFIG');
      return connectKube(where, this.options.timeoutMs);
    })();
    this.api.catch(() => { this.api = undefined; });
    return this.api;
  }
}

/** The path of a namespaced custom object, or of its collection without a name (as CustomObjectsApi builds them). */
function objectPath(group: string, version: string, namespace: string, plural: string, name?: string): string {
  const e = encodeURIComponent;
  return `/apis/${e(group)}/${e(version)}/namespaces/${e(namespace)}/${e(plural)}${name === undefined ? '' : `/${e(name)}`}`;
}

/** One line naming the call and what the API server said. */
function apiError(err: unknown, server: string, what: string): PgstowError {
  if (err instanceof KubeStatusError) {
    const { status: code, apiMessage: message } = err;
    if (code === 403) return new OperationError('ERR_KUBERNETES_FORBIDDEN', `Kubernetes API at ${server}: not allowed to ${what} (403${message ? `: ${message}` : ''}); check the Role the operator side grants`);
    if (code === 401) return new OperationError('ERR_KUBERNETES_UNAUTHORIZED', `Kubernetes API at ${server} refused the service account token (401) to ${what}`);
    return new PgstowError('ERR_KUBERNETES_API', ExitCode.GENERAL, `Kubernetes API at ${server} answered ${code} to ${what}${message ? `: ${message}` : ''}`);
  }
  const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  return new PgstowError('ERR_KUBERNETES_UNREACHABLE', ExitCode.NETWORK, `cannot reach the Kubernetes API at ${server} to ${what}: ${reason}`, { cause: err });
}
