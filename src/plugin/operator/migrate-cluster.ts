/**
 * `pgstow config migrate`: a Cluster that uses CloudNativePG's in-tree Barman Cloud support
 * (`spec.backup.barmanObjectStore`, `externalClusters[].barmanObjectStore`; removed in CNPG 1.31) becomes the
 * equivalent ObjectStores plus the Cluster's `plugins` / `externalClusters[].plugin` stanzas, following
 * plugin-barman-cloud's migration guide. Secrets are referenced by name exactly as before, never read.
 *
 * Settings that live in a different place with the plugin move there, so archiving continues in the same
 * folder with the same options:
 * - `barmanObjectStore.serverName` is forbidden in an ObjectStore: it becomes the plugin parameter serverName;
 * - an external cluster's in-tree serverName defaults to the external cluster's name, the plugin's to the
 *   Cluster's name: the parameter is written explicitly so the recovery source folder does not change;
 * - `spec.backup.retentionPolicy` becomes the ObjectStore's `spec.retentionPolicy`.
 * Identical store configurations (same destination and credentials) share one ObjectStore. ScheduledBackups
 * and Backups of the Cluster in the same input switch to `method: plugin`. Other documents pass through.
 */
import { PLUGIN_NAME } from './names.js';

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Json : {});

export interface MigrateOptions {
  /** Name of the ObjectStore for the Cluster's own archive (default `<cluster>-store`). */
  objectStoreName?: string;
  pluginName?: string;
}

export interface MigrateResult {
  documents: Json[];
  /** One line per thing the user should know (what moved, what could not be converted). */
  notes: string[];
}

export class MigrateError extends Error {}

interface StoreSlot { name: string; configuration: Json; retentionPolicy?: string }

function configurationKey(configuration: Json): string {
  const { serverName: _s, ...rest } = configuration;
  return JSON.stringify(sortKeys(rest));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.keys(v as Json).sort().map((k) => [k, sortKeys((v as Json)[k])]));
}

class StorePlanner {
  readonly slots: StoreSlot[] = [];
  constructor(private readonly namespace: string | undefined) {}

  /** The ObjectStore for this configuration: an existing one with the same settings, or a new one. */
  place(preferredName: string, configuration: Json, retentionPolicy: string | undefined, notes: string[]): string {
    const key = configurationKey(configuration);
    const same = this.slots.find((s) => configurationKey(s.configuration) === key && s.retentionPolicy === retentionPolicy);
    if (same) return same.name;
    let name = preferredName;
    for (let i = 2; this.slots.some((s) => s.name === name); i++) name = `${preferredName}-${i}`;
    const { serverName: _s, ...rest } = configuration;
    const slot: StoreSlot = { name, configuration: rest };
    if (retentionPolicy) slot.retentionPolicy = retentionPolicy;
    this.slots.push(slot);
    if (name !== preferredName) notes.push(`ObjectStore ${preferredName} already taken by another configuration: named ${name}`);
    return name;
  }

  objects(): Json[] {
    return this.slots.map((s) => {
      const metadata: Json = { name: s.name };
      if (this.namespace) metadata.namespace = this.namespace;
      const spec: Json = { configuration: s.configuration };
      if (s.retentionPolicy) spec.retentionPolicy = s.retentionPolicy;
      return { apiVersion: 'barmancloud.cnpg.io/v1', kind: 'ObjectStore', metadata, spec };
    });
  }
}

function isInTreeCluster(doc: Json): boolean {
  if (doc.kind !== 'Cluster' || !String(doc.apiVersion ?? '').startsWith('postgresql.cnpg.io/')) return false;
  const spec = obj(doc.spec);
  return Object.keys(obj(obj(spec.backup).barmanObjectStore)).length > 0
    || (Array.isArray(spec.externalClusters) && spec.externalClusters.some((e) => Object.keys(obj(obj(e).barmanObjectStore)).length > 0));
}

function migrateOwnBackup(cluster: Json, planner: StorePlanner, options: MigrateOptions, notes: string[]): void {
  const name = String(obj(cluster.metadata).name ?? '');
  const spec = obj(cluster.spec);
  const backup = obj(spec.backup);
  const configuration = obj(backup.barmanObjectStore);
  if (!Object.keys(configuration).length) return;
  const pluginName = options.pluginName ?? PLUGIN_NAME;
  const plugins = Array.isArray(spec.plugins) ? spec.plugins.map(obj) : [];
  if (plugins.some((p) => p.name === pluginName)) throw new MigrateError(`Cluster ${name} already lists the ${pluginName} plugin in spec.plugins: migrate by hand or remove it first`);
  const retention = typeof backup.retentionPolicy === 'string' ? backup.retentionPolicy : undefined;
  const store = planner.place(options.objectStoreName ?? `${name}-store`, configuration, retention, notes);
  const parameters: Json = { barmanObjectName: store };
  const serverName = typeof configuration.serverName === 'string' && configuration.serverName ? configuration.serverName : undefined;
  if (serverName && serverName !== name) {
    parameters.serverName = serverName;
    notes.push(`Cluster ${name}: serverName ${serverName} moved to the plugin parameter serverName (an ObjectStore may not carry it)`);
  }
  delete backup.barmanObjectStore;
  if (retention) {
    delete backup.retentionPolicy;
    notes.push(`Cluster ${name}: retentionPolicy ${retention} moved to ObjectStore ${store}`);
  }
  if (Object.keys(backup).length) spec.backup = backup;
  else delete spec.backup;
  spec.plugins = [...plugins, { name: pluginName, isWALArchiver: true, parameters }];
}

function migrateExternalClusters(cluster: Json, planner: StorePlanner, options: MigrateOptions, notes: string[]): void {
  const name = String(obj(cluster.metadata).name ?? '');
  const spec = obj(cluster.spec);
  if (!Array.isArray(spec.externalClusters)) return;
  spec.externalClusters = spec.externalClusters.map((raw) => {
    const external = { ...obj(raw) };
    const configuration = obj(external.barmanObjectStore);
    if (!Object.keys(configuration).length) return external;
    const externalName = String(external.name ?? '');
    const store = planner.place(`${name}-${externalName}`, configuration, undefined, notes);
    // In-tree default: the external cluster's name; the plugin's default would be this Cluster's name.
    const serverName = typeof configuration.serverName === 'string' && configuration.serverName ? configuration.serverName : externalName;
    delete external.barmanObjectStore;
    external.plugin = { name: options.pluginName ?? PLUGIN_NAME, parameters: { barmanObjectName: store, serverName } };
    return external;
  });
}

function migrateBackupObject(doc: Json, clusters: Set<string>, options: MigrateOptions, notes: string[]): Json {
  if ((doc.kind !== 'ScheduledBackup' && doc.kind !== 'Backup') || !String(doc.apiVersion ?? '').startsWith('postgresql.cnpg.io/')) return doc;
  const spec = obj(doc.spec);
  const method = spec.method ?? 'barmanObjectStore';
  if (method !== 'barmanObjectStore' || !clusters.has(String(obj(spec.cluster).name ?? ''))) return doc;
  const out = structuredClone(doc);
  const outSpec = obj(out.spec);
  outSpec.method = 'plugin';
  outSpec.pluginConfiguration = { name: options.pluginName ?? PLUGIN_NAME };
  out.spec = outSpec;
  notes.push(`${String(doc.kind)} ${String(obj(doc.metadata).name ?? '')}: method plugin`);
  return out;
}

export function migrateDocuments(documents: readonly Json[], options: MigrateOptions = {}): MigrateResult {
  const notes: string[] = [];
  const clusters = documents.filter(isInTreeCluster);
  if (!clusters.length) throw new MigrateError('no CloudNativePG Cluster using spec.backup.barmanObjectStore or externalClusters[].barmanObjectStore in the input');
  if (clusters.length > 1 && options.objectStoreName) throw new MigrateError('--object-store-name names one ObjectStore: give one Cluster at a time');
  const migrated = new Map<Json, { cluster: Json; stores: Json[] }>();
  for (const original of clusters) {
    const cluster = structuredClone(original);
    const metadata = obj(cluster.metadata);
    const namespace = typeof metadata.namespace === 'string' ? metadata.namespace : undefined;
    const planner = new StorePlanner(namespace);
    migrateOwnBackup(cluster, planner, options, notes);
    migrateExternalClusters(cluster, planner, options, notes);
    if (obj(obj(obj(cluster.spec).bootstrap).recovery).backup) {
      notes.push(`Cluster ${String(metadata.name)}: bootstrap.recovery.backup names a Backup object; the plugin recovers through an external cluster (bootstrap.recovery.source): not converted`);
    }
    migrated.set(original, { cluster, stores: planner.objects() });
  }
  const names = new Set(clusters.map((c) => String(obj(c.metadata).name ?? '')));
  const out: Json[] = [];
  for (const doc of documents) {
    const m = migrated.get(doc);
    if (m) out.push(...m.stores, m.cluster);
    else out.push(migrateBackupObject(doc, names, options, notes));
  }
  return { documents: out, notes };
}
