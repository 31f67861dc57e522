/**
 * Reads YAML manifests (multi-document, `kind: List` too), finds the CloudNativePG object to use and the
 * Secret manifests next to it, validates the object with CNPG's rules and resolves it with the secret sources
 * into a ResolvedConfig. The one entry point commands and the watcher use: loadConfig().
 */
import * as fs from 'node:fs';
import { ConfigError } from '../errors.js';
import {
  BARMAN_PLUGIN_NAME, CLUSTER_API_VERSION, OBJECT_STORE_API_VERSION,
  type BarmanObjectStoreConfiguration, type ClusterManifest, type EnvVar, type ObjectStoreManifest,
} from './schema.js';
import { ConfigValidationError, validateCluster, validateObjectStore } from './validate.js';
import {
  DirectorySecretSource, findKubeconfigAsync, KubernetesSecretSource, ManifestSecretSource, SecretResolver,
  type SecretManifest, type SecretSource,
} from './secrets.js';
import { resolveStoreConfig, type ResolvedConfig } from './resolved-config.js';

export type KubernetesMode = 'auto' | 'always' | 'never';

export interface LoadConfigOptions {
  /** The manifest file (--config / PGSTOW_CONFIG). */
  configFile: string;
  /** More files holding Secret manifests (--secrets, repeatable). */
  secretsFiles?: readonly string[];
  /** Kubernetes-style mounted Secrets: DIR/<secret>/<key> (--secrets-dir). */
  secretsDir?: string;
  /** auto: use the API when a kubeconfig or in-cluster service account exists. */
  kubernetes?: KubernetesMode;
  /** Explicit kubeconfig file for the API source. */
  kubeconfig?: string;
  /** Use externalClusters[NAME].barmanObjectStore (restore sources) instead of spec.backup (--source). */
  source?: string;
  /** Server name given on the command line (positional or --server-name). */
  serverName?: string;
  env: Readonly<Record<string, string | undefined>>;
  /** Reuse sources across reloads (the watcher keeps one API client). */
  sources?: readonly SecretSource[];
}

export interface ManifestDocument {
  file: string;
  index: number;
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string | undefined;
  body: Record<string, unknown>;
}

/** Every object in the files, in order; `kind: List` is flattened. */
export async function readManifests(files: readonly string[]): Promise<ManifestDocument[]> {
  // Loaded here, not at the top: the WAL commands' single-file bundle (scripts/bundle-cli.mjs) would otherwise
  // load the yaml package (~70 modules) in every archive_command and restore_command, with or without --config.
  const { parseAllDocuments } = await import('yaml');
  const out: ManifestDocument[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await fs.promises.readFile(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const docs = parseAllDocuments(text, { prettyErrors: true });
    if (!Array.isArray(docs)) throw new ConfigError(`${file} is not YAML`);
    docs.forEach((doc, i) => {
      const first = doc.errors[0];
      // The YAML error text may quote the offending line, which could hold a secret: give only the position.
      if (first) throw new ConfigError(`${file} (document ${i + 1}): YAML syntax error at line ${first.linePos?.[0].line ?? '?'}, column ${first.linePos?.[0].col ?? '?'} (${first.code})`);
      const body: unknown = doc.toJS({ maxAliasCount: 100 });
      if (body === null || body === undefined) return;
      const push = (obj: unknown, idx: string): void => {
        if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new ConfigError(`${file} (document ${idx}): expected a Kubernetes object (apiVersion, kind, metadata, spec)`);
        const o = obj as Record<string, unknown>;
        if (o.kind === 'List' && Array.isArray(o.items)) { o.items.forEach((item, j) => push(item, `${idx}, item ${j + 1}`)); return; }
        const meta = (typeof o.metadata === 'object' && o.metadata !== null ? o.metadata : {}) as Record<string, unknown>;
        out.push({
          file, index: i + 1,
          apiVersion: typeof o.apiVersion === 'string' ? o.apiVersion : '',
          kind: typeof o.kind === 'string' ? o.kind : '',
          name: typeof meta.name === 'string' ? meta.name : '',
          namespace: typeof meta.namespace === 'string' ? meta.namespace : undefined,
          body: o,
        });
      };
      push(body, String(i + 1));
    });
  }
  return out;
}

/** core/v1 Secret documents, decoded. */
export function secretManifests(docs: readonly ManifestDocument[]): SecretManifest[] {
  const out: SecretManifest[] = [];
  for (const d of docs) {
    if (d.kind !== 'Secret' || (d.apiVersion !== 'v1' && d.apiVersion !== '')) continue;
    const origin = `${d.file} (document ${d.index}${d.name ? `, ${d.name}` : ''})`;
    if (!d.name) throw new ConfigError(`${origin}: Secret without metadata.name`);
    const values: Record<string, string> = {};
    const data = d.body.data;
    if (data !== undefined && data !== null) {
      if (typeof data !== 'object') throw new ConfigError(`${origin}: data must be a map`);
      for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
        if (typeof v !== 'string' || !/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(v)) throw new ConfigError(`${origin}: data.${k} is not base64 (use stringData for plain text)`);
        values[k] = Buffer.from(v, 'base64').toString('utf8');
      }
    }
    const stringData = d.body.stringData;
    if (stringData !== undefined && stringData !== null) {
      if (typeof stringData !== 'object') throw new ConfigError(`${origin}: stringData must be a map`);
      for (const [k, v] of Object.entries(stringData as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new ConfigError(`${origin}: stringData.${k} must be a string (quote it in YAML)`);
        values[k] = v;
      }
    }
    const m: SecretManifest = { name: d.name, values, origin };
    if (d.namespace) m.namespace = d.namespace;
    const rv = (d.body.metadata as Record<string, unknown> | undefined)?.resourceVersion;
    if (typeof rv === 'string') m.resourceVersion = rv;
    out.push(m);
  }
  return out;
}

/** What the manifest says to use, before secrets are resolved. */
export interface ConfigTarget {
  file: string;
  kind: 'Cluster' | 'ObjectStore';
  /** Name of the Cluster or ObjectStore. */
  name: string;
  namespace: string | undefined;
  /** Field path of the store configuration, e.g. spec.backup.barmanObjectStore. */
  path: string;
  store: BarmanObjectStoreConfiguration;
  serverName: string | undefined;
  /** Why that server name (for config check). */
  serverNameReason: string;
  retentionPolicy: string | undefined;
  /** spec.env (Cluster) or spec.instanceSidecarConfiguration.env (ObjectStore). */
  env: readonly EnvVar[];
  /** ServiceAccount annotations the manifest sets (workload identity guidance). */
  serviceAccountAnnotations: Readonly<Record<string, string>>;
  externalCluster?: string;
}

function cnpgObjects(docs: readonly ManifestDocument[]): { clusters: ManifestDocument[]; objectStores: ManifestDocument[] } {
  const clusters = docs.filter((d) => d.kind === 'Cluster' && d.apiVersion.startsWith('postgresql.cnpg.io/'));
  const objectStores = docs.filter((d) => d.kind === 'ObjectStore' && d.apiVersion.startsWith('barmancloud.cnpg.io/'));
  for (const d of [...clusters, ...objectStores]) {
    const expected = d.kind === 'Cluster' ? CLUSTER_API_VERSION : OBJECT_STORE_API_VERSION;
    if (d.apiVersion !== expected) throw new ConfigError(`${d.file} (document ${d.index}): unsupported apiVersion ${d.apiVersion} for ${d.kind} (expected ${expected})`);
  }
  return { clusters, objectStores };
}

function check(doc: ManifestDocument): void {
  const errors = doc.kind === 'Cluster' ? validateCluster(doc.body) : validateObjectStore(doc.body);
  if (errors.length > 0) throw new ConfigValidationError(`${doc.file} (${doc.kind} ${doc.name || '<unnamed>'})`, errors);
}

/** Picks the Cluster store, an external cluster (source) or an ObjectStore, with CNPG's serverName defaults. */
export function selectTarget(docs: readonly ManifestDocument[], opts: { source?: string; serverName?: string; file: string }): ConfigTarget {
  const { clusters, objectStores } = cnpgObjects(docs);
  if (clusters.length === 0 && objectStores.length === 0) {
    throw new ConfigError(`${opts.file} holds no ${CLUSTER_API_VERSION} Cluster and no ${OBJECT_STORE_API_VERSION} ObjectStore`);
  }
  if (clusters.length > 1) throw new ConfigError(`${opts.file} holds ${clusters.length} Clusters (${clusters.map((c) => c.name).join(', ')}): give pgstow one Cluster per file`);
  const clusterDoc = clusters[0];
  if (clusterDoc) check(clusterDoc);
  const cluster = clusterDoc?.body as ClusterManifest | undefined;
  const saAnnotations = cluster?.spec?.serviceAccountTemplate?.metadata?.annotations ?? {};

  const fromObjectStore = (os: ManifestDocument, serverName: string | undefined, reason: string, extra: Partial<ConfigTarget> = {}): ConfigTarget => {
    check(os);
    const body = os.body as ObjectStoreManifest;
    const name = opts.serverName ?? serverName;
    return {
      file: os.file, kind: 'ObjectStore', name: os.name, namespace: os.namespace ?? clusterDoc?.namespace, path: 'spec.configuration',
      store: body.spec.configuration, serverName: name,
      serverNameReason: opts.serverName ? 'given on the command line' : reason,
      retentionPolicy: body.spec.retentionPolicy, env: body.spec.instanceSidecarConfiguration?.env ?? [],
      serviceAccountAnnotations: saAnnotations, ...extra,
    };
  };
  const objectStoreNamed = (name: string | undefined, path: string): ManifestDocument => {
    const os = objectStores.find((o) => o.name === name);
    if (!os) throw new ConfigError(`${path}: ObjectStore "${name ?? ''}" is not in ${opts.file} (add its manifest to the file)`);
    return os;
  };

  if (opts.source !== undefined) {
    if (!cluster || !clusterDoc) throw new ConfigError(`--source ${opts.source}: ${opts.file} holds no Cluster with spec.externalClusters`);
    const list = cluster.spec?.externalClusters ?? [];
    const i = list.findIndex((e) => e.name === opts.source);
    const ext = list[i];
    if (!ext) throw new ConfigError(`--source ${opts.source}: no such entry in spec.externalClusters of Cluster ${clusterDoc.name} (have: ${list.map((e) => e.name).join(', ') || 'none'})`);
    const path = `spec.externalClusters[${i}]`;
    const plugin = (ext as { plugin?: { name?: string; parameters?: Record<string, string> } }).plugin;
    if (!ext.barmanObjectStore && plugin?.name === BARMAN_PLUGIN_NAME) {
      const os = objectStoreNamed(plugin.parameters?.barmanObjectName, `${path}.plugin.parameters.barmanObjectName`);
      const sn = plugin.parameters?.serverName;
      return fromObjectStore(os, sn ?? ext.name, sn ? `${path}.plugin.parameters.serverName` : `default: the external cluster name (${path}.name)`, { externalCluster: ext.name });
    }
    if (!ext.barmanObjectStore) throw new ConfigError(`${path}: external cluster "${ext.name}" has no barmanObjectStore (nor a ${BARMAN_PLUGIN_NAME} plugin)`);
    const sn = opts.serverName ?? ext.barmanObjectStore.serverName ?? ext.name;
    return {
      file: clusterDoc.file, kind: 'Cluster', name: clusterDoc.name, namespace: clusterDoc.namespace, path: `${path}.barmanObjectStore`,
      store: ext.barmanObjectStore, serverName: sn,
      serverNameReason: opts.serverName ? 'given on the command line' : ext.barmanObjectStore.serverName ? `${path}.barmanObjectStore.serverName` : `default: the external cluster name (${path}.name)`,
      retentionPolicy: undefined, env: cluster.spec?.env ?? [], serviceAccountAnnotations: saAnnotations, externalCluster: ext.name,
    };
  }

  if (cluster && clusterDoc) {
    const store = cluster.spec?.backup?.barmanObjectStore;
    if (store) {
      const sn = opts.serverName ?? store.serverName ?? (clusterDoc.name || undefined);
      return {
        file: clusterDoc.file, kind: 'Cluster', name: clusterDoc.name, namespace: clusterDoc.namespace, path: 'spec.backup.barmanObjectStore',
        store, serverName: sn,
        serverNameReason: opts.serverName ? 'given on the command line' : store.serverName ? 'spec.backup.barmanObjectStore.serverName' : 'default: the Cluster name (metadata.name)',
        retentionPolicy: cluster.spec?.backup?.retentionPolicy, env: cluster.spec?.env ?? [], serviceAccountAnnotations: saAnnotations,
      };
    }
    const i = cluster.spec?.plugins?.findIndex((p) => p.name === BARMAN_PLUGIN_NAME) ?? -1;
    const plugin = cluster.spec?.plugins?.[i];
    if (plugin) {
      const os = objectStoreNamed(plugin.parameters?.barmanObjectName, `spec.plugins[${i}].parameters.barmanObjectName`);
      const sn = plugin.parameters?.serverName;
      return fromObjectStore(os, sn ?? clusterDoc.name, sn ? `spec.plugins[${i}].parameters.serverName` : 'default: the Cluster name (metadata.name)');
    }
    if (objectStores.length === 0) throw new ConfigError(`Cluster ${clusterDoc.name} in ${opts.file} has no spec.backup.barmanObjectStore (and no ${BARMAN_PLUGIN_NAME} plugin); use --source NAME for an external cluster`);
  }
  if (objectStores.length > 1) throw new ConfigError(`${opts.file} holds ${objectStores.length} ObjectStores (${objectStores.map((o) => o.name).join(', ')}) and no Cluster choosing one: give pgstow one per file`);
  return fromObjectStore(objectStores[0] as ManifestDocument, undefined, 'not set: an ObjectStore has no serverName (pass SERVER_NAME or --server-name)');
}

/** The secret sources in their documented order. */
export async function buildSecretSources(opts: LoadConfigOptions, secrets: readonly SecretManifest[], files: readonly string[]): Promise<SecretSource[]> {
  const sources: SecretSource[] = [new ManifestSecretSource(secrets, files)];
  if (opts.secretsDir) sources.push(new DirectorySecretSource(opts.secretsDir));
  const mode = opts.kubernetes ?? 'auto';
  if (mode === 'always' || (mode === 'auto' && (opts.kubeconfig || await findKubeconfigAsync(opts.env)))) {
    const k: { env: typeof opts.env; kubeconfig?: string } = { env: opts.env };
    if (opts.kubeconfig) k.kubeconfig = opts.kubeconfig;
    sources.push(new KubernetesSecretSource(k));
  }
  return sources;
}

/** Loads, validates and resolves a configuration. Throws ConfigValidationError / MissingSecretsError with every problem. */
export async function loadConfig(opts: LoadConfigOptions): Promise<ResolvedConfig> {
  const files = [opts.configFile, ...(opts.secretsFiles ?? [])];
  const docs = await readManifests(files);
  const selectOpts: { source?: string; serverName?: string; file: string } = { file: opts.configFile };
  if (opts.source !== undefined) selectOpts.source = opts.source;
  if (opts.serverName !== undefined) selectOpts.serverName = opts.serverName;
  const target = selectTarget(docs.filter((d) => d.file === opts.configFile), selectOpts);
  // Sources kept across loads answer from what they read during one load (a mounted Secret's snapshot, an API
  // GET): each load starts afresh.
  for (const s of opts.sources ?? []) s.clear?.();
  const sources = opts.sources ?? await buildSecretSources(opts, secretManifests(docs), files);
  const kube = sources.find((s): s is KubernetesSecretSource => s instanceof KubernetesSecretSource);
  // Namespace as CNPG has it: the manifest's; else the kubeconfig context's (what kubectl apply would use); else default.
  let namespace = target.namespace;
  let namespaceReason = namespace ? 'metadata.namespace' : 'no metadata.namespace: the default namespace';
  if (!namespace && kube) {
    const ns = await kube.defaultNamespace().catch(() => undefined);
    if (ns) { namespace = ns; namespaceReason = 'the kubeconfig context'; }
  }
  return resolveStoreConfig(target, { resolver: new SecretResolver(sources), namespace: namespace ?? 'default', namespaceReason, env: opts.env, sources });
}
