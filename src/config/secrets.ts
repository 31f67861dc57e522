/**
 * Resolves CNPG SecretKeySelectors `{name, key}` to values, from these sources in this order (first source
 * that has the Secret decides; docs/configuration.md documents the order):
 *   1. `Secret` manifests in the --config file and in --secrets files (`stringData` wins over `data`, as the
 *      API server does);
 *   2. a directory laid out as Kubernetes mounts Secrets: DIR/<secret name>/<key> (--secrets-dir);
 *   3. the Kubernetes API (GET /api/v1/namespaces/<ns>/secrets/<name>) with the kubeconfig (KUBECONFIG,
 *      ~/.kube/config) or the in-cluster service account (./kube-client.ts: KubeConfig, JSON over node:https).
 * Errors name the Secret, the key and every place looked; never a value.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, ExitCode, OperationError, PgstowError } from '../errors.js';
import { Secret } from '../secret.js';
import type { SecretKeySelector } from './schema.js';
import { connectKube, KubeStatusError, type KubeConnection } from './kube-client.js';

export interface SecretManifest {
  name: string;
  namespace?: string;
  /** Decoded `data` merged with `stringData`. */
  values: Record<string, string>;
  /** Where it was read from, e.g. "secrets.yaml (document 2)". */
  origin: string;
  resourceVersion?: string;
}

export type LookupResult =
  | { found: true; value: string; origin: string; version?: string }
  | { found: false; secretExists: boolean; keys?: string[]; looked: string };

export interface SecretSource {
  /** Short description for error messages ("Secret manifests in a.yaml, b.yaml"). */
  readonly description: string;
  lookup(namespace: string, name: string, key: string): Promise<LookupResult>;
  /** Forget what earlier lookups read (a source kept across loads: each load reads afresh). */
  clear?(): void;
}

/** Source 1: Secret documents read from YAML files. */
export class ManifestSecretSource implements SecretSource {
  readonly description: string;
  constructor(private readonly secrets: readonly SecretManifest[], files: readonly string[]) {
    this.description = `Secret manifests in ${files.length ? files.join(', ') : '(no files)'}`;
  }

  async lookup(namespace: string, name: string, key: string): Promise<LookupResult> {
    // A manifest without a namespace is taken to be in the namespace of the object that refers to it (kubectl apply -n).
    const s = this.secrets.find((m) => m.name === name && (m.namespace === undefined || m.namespace === namespace));
    if (!s) return { found: false, secretExists: false, looked: this.description };
    const value = s.values[key];
    if (value === undefined) return { found: false, secretExists: true, keys: Object.keys(s.values), looked: `Secret manifest ${s.origin}` };
    const result: LookupResult = { found: true, value, origin: `manifest ${s.origin}` };
    if (s.resourceVersion) result.version = s.resourceVersion;
    return result;
  }
}

/** The file system calls a DirectorySecretSource makes; a seam for tests that swap `..data` between two reads. */
export interface SecretDirectoryIo {
  realpath(file: string): Promise<string>;
  readdir(dir: string): Promise<string[]>;
  readFile(file: string): Promise<string>;
}

const NODE_IO: SecretDirectoryIo = {
  realpath: (file) => fs.promises.realpath(file),
  readdir: (dir) => fs.promises.readdir(dir),
  readFile: (file) => fs.promises.readFile(file, 'utf8'),
};

/** A Secret's keys as read from one directory: values, and the keys that could not be read (with the reason). */
interface SecretSnapshot {
  values: Map<string, string>;
  unreadable: Map<string, string>;
}

const present = (s: SecretSnapshot): string[] => [...s.values.keys(), ...s.unreadable.keys()].sort();

/** How often one Secret may be swapped under one read before the load gives up (kubelet swaps about once a minute). */
const SNAPSHOT_ATTEMPTS = 5;

/**
 * Source 2: DIR/<secret>/<key>, as kubelet mounts a Secret volume (values are the raw bytes, not base64).
 *
 * kubelet writes a Secret's keys into a new `..<timestamp>` directory, points `..data` to it (a new `..data_tmp`
 * symlink renamed over `..data`) and removes the old directory; each key is a symlink through `..data`. Reading
 * key by key through those links can mix two versions (an access key id of one, the secret key of the next) when
 * the swap falls between two reads. So the first lookup of a Secret reads all its keys from the directory `..data`
 * points to, and every later lookup of that Secret in this source is answered from that snapshot; if the
 * directory disappears while it is read (the next swap), the whole Secret is read again from the new one. A
 * plain directory (no `..data`) is read as it is. One instance serves one load (clear() starts another).
 */
export class DirectorySecretSource implements SecretSource {
  readonly description: string;
  private readonly snapshots = new Map<string, Promise<SecretSnapshot | undefined>>();
  constructor(readonly dir: string, private readonly io: SecretDirectoryIo = NODE_IO) {
    this.description = `directory ${dir}`;
  }

  /** Forget the snapshots: the next lookups read the Secrets again. */
  clear(): void {
    this.snapshots.clear();
  }

  async lookup(_namespace: string, name: string, key: string): Promise<LookupResult> {
    if (name.includes('/') || name.startsWith('.') || key.includes('/') || key.startsWith('..')) {
      return { found: false, secretExists: false, looked: `${this.description} (unsafe name)` };
    }
    const secretDir = path.join(this.dir, name);
    const file = path.join(secretDir, key);
    let pending = this.snapshots.get(secretDir);
    if (!pending) {
      pending = this.readSecret(secretDir);
      this.snapshots.set(secretDir, pending);
    }
    const snapshot = await pending;
    if (!snapshot) return { found: false, secretExists: false, looked: `${this.description} (no ${secretDir})` };
    const value = snapshot.values.get(key);
    if (value !== undefined) return { found: true, value, origin: `file ${file}` };
    const code = snapshot.unreadable.get(key);
    if (code !== undefined) throw new ConfigError(`cannot read secret file ${file}: ${code}`);
    return { found: false, secretExists: true, keys: present(snapshot), looked: `directory ${secretDir}` };
  }

  /** Every key of one Secret from one version of it; undefined when there is no such directory. */
  private async readSecret(secretDir: string): Promise<SecretSnapshot | undefined> {
    for (let attempt = 0; attempt < SNAPSHOT_ATTEMPTS; attempt++) {
      let from = secretDir;
      try {
        from = await this.io.realpath(path.join(secretDir, '..data'));
      } catch {
        // No ..data: not kubelet's layout (or no such Secret, which readdir tells).
      }
      const snapshot = await this.readDir(secretDir, from);
      if (snapshot !== 'swapped') return snapshot;
    }
    throw new ConfigError(`secret directory ${secretDir} changed ${SNAPSHOT_ATTEMPTS} times while it was read; try again`);
  }

  /** The keys in `from` (the ..data target, or secretDir itself); 'swapped' when that target went away meanwhile. */
  private async readDir(secretDir: string, from: string): Promise<SecretSnapshot | undefined | 'swapped'> {
    const swappable = from !== secretDir;
    let names: string[];
    try {
      names = (await this.io.readdir(from)).filter((k) => !k.startsWith('..'));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (swappable && code === 'ENOENT') return 'swapped';
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw new ConfigError(`cannot read secret directory ${secretDir}: ${code ?? (err as Error).message}`);
    }
    const snapshot: SecretSnapshot = { values: new Map(), unreadable: new Map() };
    for (const key of names) {
      try {
        snapshot.values.set(key, await this.io.readFile(path.join(from, key)));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        if (code === 'ENOENT') {
          if (swappable) return 'swapped';
          continue; // Removed from a plain directory since it was listed: not there.
        }
        snapshot.unreadable.set(key, code);
      }
    }
    return snapshot;
  }
}

export interface KubernetesSourceOptions {
  env: Readonly<Record<string, string | undefined>>;
  /** Explicit kubeconfig file (else KUBECONFIG, ~/.kube/config, in-cluster). */
  kubeconfig?: string;
  /** Per request (default KUBE_REQUEST_TIMEOUT_MS). */
  timeoutMs?: number;
}

/**
 * Where a kubeconfig would come from, or undefined when there is none (the API source is then skipped); without
 * blocking the event loop (the config watcher re-reads every few seconds, the plugin runs for weeks).
 */
export async function findKubeconfigAsync(env: Readonly<Record<string, string | undefined>>): Promise<{ kind: 'file'; file: string } | { kind: 'in-cluster' } | undefined> {
  const exists = (f: string): Promise<boolean> => fs.promises.access(f).then(() => true, () => false);
  for (const f of env.KUBECONFIG?.split(path.delimiter) ?? []) if (f !== '' && await exists(f)) return { kind: 'file', file: f };
  const def = path.join(env.HOME ?? os.homedir(), '.kube', 'config');
  if (!env.KUBECONFIG && await exists(def)) return { kind: 'file', file: def };
  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) return { kind: 'in-cluster' };
  return undefined;
}

const IN_CLUSTER_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** Source 3: the live Kubernetes API. Each lookup is one GET; the watcher decides how often to look again. */
export class KubernetesSecretSource implements SecretSource {
  description: string;
  private api: Promise<{ kube: KubeConnection; namespace: string | undefined }> | undefined;
  /** One GET per Secret per resolution, however many keys are read from it. */
  private readonly cache = new Map<string, Promise<{ data: Record<string, string>; version?: string } | undefined>>();

  constructor(private readonly options: KubernetesSourceOptions) {
    this.description = 'Kubernetes API';
  }

  /** The namespace of the kubeconfig's current context (or the service account's), if any. */
  async defaultNamespace(): Promise<string | undefined> {
    return (await this.client()).namespace;
  }

  private client(): Promise<{ kube: KubeConnection; namespace: string | undefined }> {
    this.api ??= (async () => {
      const where = this.options.kubeconfig ? { kind: 'file' as const, file: this.options.kubeconfig } : await findKubeconfigAsync(this.options.env);
      if (!where) throw new ConfigError('no Kubernetes configuration found (KUBECONFIG, ~/.kube/config or an in-cluster service account)');
      const kube = await connectKube(where, this.options.timeoutMs);
      let namespace = kube.contextNamespace;
      if (where.kind === 'in-cluster') {
        try { namespace = (await fs.promises.readFile(IN_CLUSTER_NAMESPACE_FILE, 'utf8')).trim(); } catch { namespace = undefined; /* not in a pod */ }
      }
      this.description = `Kubernetes API at ${kube.server}`;
      return { kube, namespace };
    })();
    return this.api;
  }

  /** Forget what was read, so the next lookup asks the API server again (rotation). */
  clear(): void {
    this.cache.clear();
  }

  async lookup(namespace: string, name: string, key: string): Promise<LookupResult> {
    const { kube } = await this.client();
    const id = `${namespace}/${name}`;
    let pending = this.cache.get(id);
    if (!pending) {
      pending = this.fetch(kube, namespace, name);
      this.cache.set(id, pending);
    }
    const secret = await pending;
    if (!secret) return { found: false, secretExists: false, looked: `${this.description} (namespace ${namespace}: not found)` };
    const value = secret.data[key];
    if (value === undefined) return { found: false, secretExists: true, keys: Object.keys(secret.data), looked: `${this.description} (Secret ${id})` };
    const result: LookupResult = { found: true, value, origin: `${this.description} (Secret ${id})` };
    if (secret.version) result.version = secret.version;
    return result;
  }

  private async fetch(kube: KubeConnection, namespace: string, name: string): Promise<{ data: Record<string, string>; version?: string } | undefined> {
    const server = kube.server;
    let s: { data?: Record<string, string>; stringData?: Record<string, string>; metadata?: { resourceVersion?: string } } | undefined;
    try {
      s = await kube.request('GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`) as typeof s;
    } catch (err) {
      const code = err instanceof KubeStatusError ? err.status : undefined;
      if (code === 404) return undefined;
      if (code === 401) throw new OperationError('ERR_KUBERNETES_UNAUTHORIZED', `Kubernetes API at ${server} refused the credentials of the kubeconfig (401) while reading Secret ${namespace}/${name}`);
      if (code === 403) throw new OperationError('ERR_KUBERNETES_FORBIDDEN', `Kubernetes API at ${server}: the service account may not get Secret ${namespace}/${name} (403 Forbidden; grant "get" on secrets in namespace ${namespace})`);
      if (code !== undefined) throw new PgstowError('ERR_KUBERNETES_API', ExitCode.GENERAL, `Kubernetes API at ${server} answered ${code} reading Secret ${namespace}/${name}`);
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new PgstowError('ERR_KUBERNETES_UNREACHABLE', ExitCode.NETWORK, `cannot reach the Kubernetes API at ${server} to read Secret ${namespace}/${name}: ${reason}`, { cause: err });
    }
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(s?.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
    for (const [k, v] of Object.entries(s?.stringData ?? {})) data[k] = v;
    const out: { data: Record<string, string>; version?: string } = { data };
    if (s?.metadata?.resourceVersion) out.version = s.metadata.resourceVersion;
    return out;
  }
}

/** A selector that could not be resolved, with everything needed to say why. */
export interface MissingSecret {
  field: string;
  namespace: string;
  selector: SecretKeySelector;
  detail: string;
}

export class SecretResolver {
  constructor(readonly sources: readonly SecretSource[]) {}

  /** Resolves one selector; returns a MissingSecret instead of throwing so all misses are reported together. */
  async resolve(field: string, namespace: string, selector: SecretKeySelector): Promise<Secret | MissingSecret> {
    const looked: string[] = [];
    for (const source of this.sources) {
      const r = await source.lookup(namespace, selector.name, selector.key);
      if (r.found) return new Secret(r.value, `Secret ${namespace}/${selector.name} key ${selector.key} from ${r.origin}`);
      if (r.secretExists) {
        return { field, namespace, selector, detail: `Secret "${selector.name}" has no key "${selector.key}" in ${r.looked} (keys: ${r.keys?.length ? r.keys.join(', ') : 'none'})` };
      }
      looked.push(r.looked);
    }
    const where = looked.length ? looked.join('; ') : 'no secret source configured (use --secrets FILE, --secrets-dir DIR or a kubeconfig)';
    return { field, namespace, selector, detail: `Secret "${selector.name}" (key "${selector.key}") not found in namespace ${namespace}; looked in: ${where}` };
  }
}

/** All unresolved selectors at once (exit 3). */
export class MissingSecretsError extends ConfigError {
  readonly missing: readonly MissingSecret[];
  constructor(missing: readonly MissingSecret[]) {
    super(missing.length === 1
      ? `${(missing[0] as MissingSecret).field}: ${(missing[0] as MissingSecret).detail}`
      : `${missing.length} secrets could not be resolved:\n${missing.map((m) => `  ${m.field}: ${m.detail}`).join('\n')}`);
    this.missing = missing;
  }
}
MissingSecretsError.prototype.name = 'MissingSecretsError';

export function isMissing(v: Secret | MissingSecret): v is MissingSecret {
  return !(v instanceof Secret);
}
