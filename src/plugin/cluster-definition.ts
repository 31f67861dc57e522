/**
 * Reads the `cluster_definition` CloudNativePG sends (JSON of the whole Cluster, spec and status) into the few
 * facts the plugin uses. Decoding is lenient, as it must be: WAL calls come from the instance manager's cache
 * without apiVersion/kind, forks use another API group, newer operators add fields, and a field of an
 * unexpected type is treated as absent rather than failing an archive_command.
 */
import type { Bytes } from './protocol/messages.js';
import { PluginConfigError } from './plugin-errors.js';

export const DEFAULT_CNPG_GROUP = 'postgresql.cnpg.io';
export const DEFAULT_CNPG_VERSION = 'v1';

export interface PluginEntry {
  name: string;
  /** Default true, as the CRD defaults it. */
  enabled: boolean;
  isWALArchiver: boolean;
  parameters: Readonly<Record<string, string>>;
}

export interface ExternalClusterEntry {
  name: string;
  plugin?: PluginEntry;
  /** connectionParameters present: a replica can stream from it. */
  hasConnectionParameters: boolean;
  hasBarmanObjectStore: boolean;
}

export interface RecoveryTargetSpec {
  backupID?: string;
  targetTLI?: string;
  targetXID?: string;
  targetName?: string;
  targetLSN?: string;
  targetTime?: string;
  targetImmediate?: boolean;
  exclusive?: boolean;
}

export interface ClusterView {
  /** API group and version from apiVersion; the caller's default when the definition has none. */
  group: string;
  version: string;
  name: string;
  namespace: string;
  uid: string;
  annotations: Readonly<Record<string, string>>;
  plugins: readonly PluginEntry[];
  externalClusters: readonly ExternalClusterEntry[];
  recovery?: { source?: string; backupName?: string; recoveryTarget?: RecoveryTargetSpec };
  replica?: { enabled: boolean; source?: string; primary?: string; self?: string };
  /** spec.backup.barmanObjectStore is set (in-tree archiving). */
  hasInTreeBarmanObjectStore: boolean;
  /** spec.walStorage is set: pg_wal lives on its own volume. */
  hasWalStorage: boolean;
  status: { currentPrimary: string; targetPrimary: string; timelineID: number; phase: string };
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Obj : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const strMap = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(obj(v) ?? {})) if (typeof x === 'string') out[k] = x;
  return out;
};

export interface ParseClusterOptions {
  /** Group/version to assume when apiVersion is absent (CUSTOM_CNPG_GROUP / CUSTOM_CNPG_VERSION). */
  defaultGroup?: string;
  defaultVersion?: string;
}

export function parseClusterDefinition(definition: Bytes | string, options: ParseClusterOptions = {}): ClusterView {
  const root = parseJsonObject(definition, 'cluster_definition');
  const metadata = obj(root.metadata) ?? {};
  const name = str(metadata.name);
  if (!name) throw new PluginConfigError('cluster_definition has no metadata.name: is it a Cluster?');
  const [group, version] = splitApiVersion(str(root.apiVersion), options);
  const spec = obj(root.spec) ?? {};
  const status = obj(root.status) ?? {};
  const view: ClusterView = {
    group, version, name,
    namespace: str(metadata.namespace) ?? 'default',
    uid: str(metadata.uid) ?? '',
    annotations: strMap(metadata.annotations),
    plugins: arr(spec.plugins).map(pluginEntry).filter((p): p is PluginEntry => p !== undefined),
    externalClusters: arr(spec.externalClusters).map(externalCluster).filter((e): e is ExternalClusterEntry => e !== undefined),
    hasInTreeBarmanObjectStore: obj(obj(spec.backup)?.barmanObjectStore) !== undefined,
    hasWalStorage: obj(spec.walStorage) !== undefined,
    status: {
      currentPrimary: str(status.currentPrimary) ?? '',
      targetPrimary: str(status.targetPrimary) ?? '',
      timelineID: typeof status.timelineID === 'number' && Number.isInteger(status.timelineID) ? status.timelineID : 0,
      phase: str(status.phase) ?? '',
    },
  };
  const recovery = obj(obj(spec.bootstrap)?.recovery);
  if (recovery) view.recovery = recoverySpec(recovery);
  const replica = obj(spec.replica);
  if (replica) view.replica = replicaSpec(replica);
  return view;
}

/** JSON bytes of a Kubernetes object → the object; one clear error otherwise. */
export function parseJsonObject(definition: Bytes | string, what: string): Obj {
  const text = typeof definition === 'string' ? definition : Buffer.from(definition.buffer, definition.byteOffset, definition.byteLength).toString('utf8');
  if (text.trim() === '') throw new PluginConfigError(`${what} is empty`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new PluginConfigError(`${what} is not valid JSON (${(err as Error).message})`);
  }
  const o = obj(parsed);
  if (!o) throw new PluginConfigError(`${what} is not a JSON object`);
  return o;
}

function splitApiVersion(apiVersion: string | undefined, options: ParseClusterOptions): [string, string] {
  const fallback: [string, string] = [options.defaultGroup || DEFAULT_CNPG_GROUP, options.defaultVersion || DEFAULT_CNPG_VERSION];
  if (!apiVersion) return fallback;
  const slash = apiVersion.lastIndexOf('/');
  if (slash <= 0) return fallback;
  return [apiVersion.slice(0, slash), apiVersion.slice(slash + 1)];
}

function pluginEntry(v: unknown): PluginEntry | undefined {
  const p = obj(v);
  const name = str(p?.name);
  if (!p || !name) return undefined;
  return { name, enabled: p.enabled !== false, isWALArchiver: p.isWALArchiver === true, parameters: strMap(p.parameters) };
}

function externalCluster(v: unknown): ExternalClusterEntry | undefined {
  const e = obj(v);
  const name = str(e?.name);
  if (!e || !name) return undefined;
  const out: ExternalClusterEntry = {
    name,
    hasConnectionParameters: Object.keys(obj(e.connectionParameters) ?? {}).length > 0,
    hasBarmanObjectStore: obj(e.barmanObjectStore) !== undefined,
  };
  const plugin = pluginEntry(e.plugin);
  if (plugin) out.plugin = plugin;
  return out;
}

function recoverySpec(r: Obj): NonNullable<ClusterView['recovery']> {
  const out: NonNullable<ClusterView['recovery']> = {};
  const source = str(r.source);
  if (source) out.source = source;
  const backupName = str(obj(r.backup)?.name);
  if (backupName) out.backupName = backupName;
  const t = obj(r.recoveryTarget);
  if (t) {
    const target: RecoveryTargetSpec = {};
    for (const k of ['backupID', 'targetTLI', 'targetXID', 'targetName', 'targetLSN', 'targetTime'] as const) {
      const x = t[k];
      if (typeof x === 'string' && x !== '') target[k] = x;
      else if (typeof x === 'number') target[k] = String(x);
    }
    if (typeof t.targetImmediate === 'boolean') target.targetImmediate = t.targetImmediate;
    if (typeof t.exclusive === 'boolean') target.exclusive = t.exclusive;
    out.recoveryTarget = target;
  }
  return out;
}

function replicaSpec(r: Obj): NonNullable<ClusterView['replica']> {
  const out: NonNullable<ClusterView['replica']> = { enabled: r.enabled === true };
  for (const k of ['source', 'primary', 'self'] as const) {
    const x = str(r[k]);
    if (x) out[k] = x;
  }
  return out;
}

/**
 * True for a replica cluster (it follows another cluster): `replica.enabled`, or a distributed topology whose
 * designated primary is another cluster.
 */
export function isReplicaCluster(c: ClusterView): boolean {
  if (!c.replica) return false;
  if (c.replica.primary && c.replica.self) return c.replica.primary !== c.replica.self;
  return c.replica.enabled;
}
