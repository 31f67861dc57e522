/** Loads the CNPG-I operator fixtures (test/fixtures/cnpg-i) as fresh copies. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { viewObjectStore, type ObjectStoreView } from '../../../../src/plugin/operator/object-store.js';

export type Json = Record<string, any>;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../../test/fixtures/cnpg-i');

export function fixture(name: string): Json {
  return JSON.parse(fs.readFileSync(path.join(root, name), 'utf8')) as Json;
}

export function objectStore(name: string, patch: (spec: Json, metadata: Json) => void = () => {}): Json {
  const s = fixture('object-store.json');
  s.metadata.name = name;
  patch(s.spec, s.metadata);
  return s;
}

export function storeMap(...stores: Json[]): Map<string, ObjectStoreView> {
  return new Map(stores.map((s) => [s.metadata.name as string, viewObjectStore(s)]));
}

/** A Cluster restored from an external cluster served by the plugin, archiving to its own store. */
export function recoveryCluster(ownStore: string | undefined, recoveryStore: string): Json {
  const c = fixture('cluster.json');
  c.metadata.name = 'cluster-restore';
  c.spec.bootstrap = { recovery: { source: 'origin' } };
  c.spec.externalClusters = [{ name: 'origin', plugin: { name: 'barman-cloud.cloudnative-pg.io', parameters: { barmanObjectName: recoveryStore, serverName: 'cluster-example' } } }];
  if (ownStore) c.spec.plugins[0].parameters.barmanObjectName = ownStore;
  else delete c.spec.plugins;
  c.status = { currentPrimary: '', targetPrimary: 'cluster-restore-1', phase: 'Setting up primary' };
  return c;
}
