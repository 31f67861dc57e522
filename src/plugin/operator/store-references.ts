/**
 * Which ObjectStores a Cluster refers to through this plugin — its own archive, its recovery source and its
 * replica source — from the shared resolution of src/plugin/plugin-config.ts (cnpg-i.md §3.3), in the shape
 * the operator-side functions use.
 */
import { parseClusterDefinition } from '../cluster-definition.js';
import { resolvePluginConfig } from '../plugin-config.js';
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

export function storeReferences(cluster: Json, pluginName = PLUGIN_NAME): StoreReferences {
  const config = resolvePluginConfig(parseClusterDefinition(JSON.stringify(cluster)), pluginName);
  const out: StoreReferences = {};
  if (config.own) out.own = { objectStore: config.own.objectStoreName, serverName: config.own.serverName };
  if (config.recovery) out.recovery = { objectStore: config.recovery.objectStoreName, serverName: config.recovery.serverName };
  if (config.replicaSource) out.replicaSource = { objectStore: config.replicaSource.objectStoreName, serverName: config.replicaSource.serverName };
  return out;
}

/** Distinct ObjectStore names, sorted (a stable order keeps patches and Role rules byte-identical). */
export function referencedStoreNames(refs: StoreReferences): string[] {
  return [...new Set([refs.own, refs.recovery, refs.replicaSource].filter((r): r is StoreReference => r !== undefined).map((r) => r.objectStore))].sort();
}
