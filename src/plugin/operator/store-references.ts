/**
 * Which ObjectStores a Cluster refers to through this plugin: its own archive (spec.plugins), its recovery
 * source (bootstrap.recovery.source → externalClusters[].plugin) and its replica source (replica.source →
 * externalClusters[].plugin), each with the serverName it uses (default: the Cluster's name), as
 * plugin-barman-cloud reads them (cnpg-i.md §3.3).
 */
import { PLUGIN_NAME } from './names.js';

export interface StoreReference {
  objectStore: string;
  serverName: string;
}

export interface StoreReferences {
  own?: StoreReference;
  recovery?: StoreReference;
  replicaSource?: StoreReference;
}

type Json = Record<string, unknown>;

const obj = (v: unknown): Json | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Json : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function reference(parameters: unknown, clusterName: string): StoreReference | undefined {
  const p = obj(parameters);
  const objectStore = str(p?.barmanObjectName);
  if (!objectStore) return undefined;
  return { objectStore, serverName: str(p?.serverName) ?? clusterName };
}

function externalPluginParameters(spec: Json, source: string | undefined, pluginName: string): unknown {
  if (!source) return undefined;
  const external = list(spec.externalClusters).map(obj).find((e) => e?.name === source);
  const plugin = obj(external?.plugin);
  if (!plugin || plugin.name !== pluginName || plugin.enabled === false) return undefined;
  return plugin.parameters;
}

export function storeReferences(cluster: Json, pluginName = PLUGIN_NAME): StoreReferences {
  const name = str(obj(cluster.metadata)?.name) ?? '';
  const spec = obj(cluster.spec) ?? {};
  const out: StoreReferences = {};
  const entry = list(spec.plugins).map(obj).find((p) => p?.name === pluginName && p.enabled !== false);
  const own = reference(entry?.parameters, name);
  if (own) out.own = own;
  const recoverySource = str(obj(obj(spec.bootstrap)?.recovery)?.source);
  const recovery = reference(externalPluginParameters(spec, recoverySource, pluginName), name);
  if (recovery) out.recovery = recovery;
  const replicaSource = reference(externalPluginParameters(spec, str(obj(spec.replica)?.source), pluginName), name);
  if (replicaSource) out.replicaSource = replicaSource;
  return out;
}

/** Distinct ObjectStore names, sorted (a stable order keeps patches and Role rules byte-identical). */
export function referencedStoreNames(refs: StoreReferences): string[] {
  return [...new Set([refs.own, refs.recovery, refs.replicaSource].filter((r): r is StoreReference => r !== undefined).map((r) => r.objectStore))].sort();
}
