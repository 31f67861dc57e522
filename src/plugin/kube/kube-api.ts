/**
 * What the plugin reads and writes through the Kubernetes API (@kubernetes/client-node, loaded lazily; the
 * in-cluster service account, or KUBECONFIG outside a cluster): ObjectStores (and their status), the
 * Cluster's Backup resources, and Secrets (through src/config's KubernetesSecretSource). ObjectStores and
 * Secrets are cached at most `ttlMs` (10 s), so rotated keys and CAs take effect without a restart; every
 * other call goes to the API server.
 */
import { ExitCode, OperationError, PgstowError } from '../../errors.js';
import { findKubeconfigAsync, KubernetesSecretSource, type LookupResult, type SecretSource } from '../../config/secrets.js';
import { PluginConfigError } from '../plugin-errors.js';
import { loadKubeClient, type KubeModule } from '../../config/kube-client.js';

export const OBJECT_STORE_GROUP = 'barmancloud.cnpg.io';
export const OBJECT_STORE_VERSION = 'v1';
export const OBJECT_STORE_PLURAL = 'objectstores';
export const DEFAULT_TTL_MS = 10_000;

export type KubeObject = Record<string, unknown> & { metadata?: Record<string, unknown> };

type CustomApi = InstanceType<KubeModule['CustomObjectsApi']>;

export interface KubeApiOptions {
  env: Readonly<Record<string, string | undefined>>;
  /** Explicit kubeconfig file (tests); else KUBECONFIG, ~/.kube/config or the in-cluster service account. */
  kubeconfig?: string;
  ttlMs?: number;
  now?: () => number;
}

export class KubeApi {
  private api: Promise<{ custom: CustomApi; server: string }> | undefined;
  private readonly storeCache = new Map<string, { at: number; value: Promise<KubeObject> }>();
  private readonly secretSource: KubernetesSecretSource;
  private secretsReadAt = 0;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(private readonly options: KubeApiOptions) {
    this.ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    this.now = options.now ?? Date.now;
    const k: { env: KubeApiOptions['env']; kubeconfig?: string } = { env: options.env };
    if (options.kubeconfig) k.kubeconfig = options.kubeconfig;
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
    const { custom, server } = await this.client();
    for (let attempt = 0; ; attempt++) {
      const current = await this.getCustom(group, version, plural, namespace, name);
      if (!current) throw new PluginConfigError(`${plural}.${group} ${namespace}/${name} not found`);
      const status = mutate(structuredClone((current.status ?? {}) as Record<string, unknown>));
      if (!status) return false;
      try {
        await custom.replaceNamespacedCustomObjectStatus({ group, version, namespace, plural, name, body: { ...current, status } });
        return true;
      } catch (err) {
        if (httpCode(err) === 409 && attempt < 4) continue;
        throw apiError(err, server, `update the status of ${plural}.${group} ${namespace}/${name}`);
      }
    }
  }

  async list(group: string, version: string, plural: string, namespace: string, labelSelector?: string): Promise<KubeObject[]> {
    const { custom, server } = await this.client();
    try {
      const res = await custom.listNamespacedCustomObject({ group, version, namespace, plural, ...(labelSelector ? { labelSelector } : {}) }) as { items?: KubeObject[] };
      return res.items ?? [];
    } catch (err) {
      throw apiError(err, server, `list ${plural}.${group} in namespace ${namespace}`);
    }
  }

  async delete(group: string, version: string, plural: string, namespace: string, name: string): Promise<boolean> {
    const { custom, server } = await this.client();
    try {
      await custom.deleteNamespacedCustomObject({ group, version, namespace, plural, name });
      return true;
    } catch (err) {
      if (httpCode(err) === 404) return false;
      throw apiError(err, server, `delete ${plural}.${group} ${namespace}/${name}`);
    }
  }

  /** POST of a namespaced object of any API group (the operator side creates Roles and RoleBindings this way). */
  async create(group: string, version: string, plural: string, namespace: string, body: KubeObject): Promise<KubeObject> {
    const { custom, server } = await this.client();
    try {
      return await custom.createNamespacedCustomObject({ group, version, namespace, plural, body }) as KubeObject;
    } catch (err) {
      throw apiError(err, server, `create ${plural}.${group} ${namespace}/${String(body.metadata?.name ?? '')}`);
    }
  }

  /** PUT of a namespaced object; `body.metadata.resourceVersion` makes it conditional (409 on a stale one). */
  async replace(group: string, version: string, plural: string, namespace: string, body: KubeObject): Promise<KubeObject> {
    const { custom, server } = await this.client();
    const name = String(body.metadata?.name ?? '');
    try {
      return await custom.replaceNamespacedCustomObject({ group, version, namespace, plural, name, body }) as KubeObject;
    } catch (err) {
      throw apiError(err, server, `replace ${plural}.${group} ${namespace}/${name}`);
    }
  }

  async getCustom(group: string, version: string, plural: string, namespace: string, name: string): Promise<KubeObject | undefined> {
    const { custom, server } = await this.client();
    try {
      return await custom.getNamespacedCustomObject({ group, version, namespace, plural, name }) as KubeObject;
    } catch (err) {
      if (httpCode(err) === 404) return undefined;
      throw apiError(err, server, `get ${plural}.${group} ${namespace}/${name}`);
    }
  }

  private client(): Promise<{ custom: CustomApi; server: string }> {
    this.api ??= (async () => {
      const k8s = await loadKubeClient();
      const kc = new k8s.KubeConfig();
      const where = this.options.kubeconfig ? { kind: 'file' as const, file: this.options.kubeconfig } : await findKubeconfigAsync(this.options.env);
      if (where?.kind === 'file') kc.loadFromFile(where.file);
      else if (where?.kind === 'in-cluster') kc.loadFromCluster();
      else throw new PluginConfigError('no Kubernetes configuration: the sidecar needs its service account (KUBERNETES_SERVICE_HOST) or KUBECONFIG');
      return { custom: kc.makeApiClient(k8s.CustomObjectsApi), server: kc.getCurrentCluster()?.server ?? '(unknown server)' };
    })();
    this.api.catch(() => { this.api = undefined; });
    return this.api;
  }
}

function httpCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/** One line naming the call and what the API server said. */
function apiError(err: unknown, server: string, what: string): PgstowError {
  const code = httpCode(err);
  const message = bodyMessage(err);
  if (code === 403) return new OperationError('ERR_KUBERNETES_FORBIDDEN', `Kubernetes API at ${server}: not allowed to ${what} (403${message ? `: ${message}` : ''}); check the Role the operator side grants`);
  if (code === 401) return new OperationError('ERR_KUBERNETES_UNAUTHORIZED', `Kubernetes API at ${server} refused the service account token (401) to ${what}`);
  if (code !== undefined) return new PgstowError('ERR_KUBERNETES_API', ExitCode.GENERAL, `Kubernetes API at ${server} answered ${code} to ${what}${message ? `: ${message}` : ''}`);
  const reason = (err as NodeJS.ErrnoException).code ?? (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
  return new PgstowError('ERR_KUBERNETES_UNREACHABLE', ExitCode.NETWORK, `cannot reach the Kubernetes API at ${server} to ${what}: ${reason}`, { cause: err });
}

function bodyMessage(err: unknown): string | undefined {
  const body = (err as { body?: unknown }).body;
  try {
    const parsed = typeof body === 'string' ? JSON.parse(body) as { message?: string } : body as { message?: string } | undefined;
    return typeof parsed?.message === 'string' ? parsed.message : undefined;
  } catch {
    return undefined;
  }
}
