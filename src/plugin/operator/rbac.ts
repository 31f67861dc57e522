/**
 * The Role and RoleBinding the ReconcilerHooks `Pre` keeps for each Cluster (cnpg-i.md §4.5): the Cluster's
 * ServiceAccount (the Pod's, hence the sidecar's) may read the ObjectStores it references, update their status,
 * and read exactly their credential Secrets — nothing else. Pure: built from the Cluster and the stores.
 *
 * One deliberate difference from plugin-barman-cloud: a Cluster whose stores use no Secret (IAM role, workload
 * identity) gets no `secrets` rule at all. An empty resourceNames list means "every Secret of the namespace"
 * to the API server, which is what plugin-barman-cloud grants in that case.
 */
import { VERSION } from '../../version.js';
import { OBJECT_STORE_GROUP, OBJECT_STORE_PLURAL, rbacNameFor } from './names.js';
import type { ObjectStoreView } from './object-store.js';

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Json : {});

export interface PolicyRule { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames: string[] }

interface ClusterIdentity { apiVersion: string; kind: string; name: string; namespace: string; uid: string }

function identity(cluster: Json): ClusterIdentity {
  const m = obj(cluster.metadata);
  return {
    apiVersion: typeof cluster.apiVersion === 'string' ? cluster.apiVersion : 'postgresql.cnpg.io/v1',
    kind: typeof cluster.kind === 'string' ? cluster.kind : 'Cluster',
    name: String(m.name ?? ''), namespace: String(m.namespace ?? ''), uid: String(m.uid ?? ''),
  };
}

export function rbacLabels(clusterName: string): Record<string, string> {
  return {
    'barmancloud.cnpg.io/cluster': clusterName,
    'app.kubernetes.io/name': 'barman-cloud-plugin',
    'app.kubernetes.io/instance': clusterName,
    'app.kubernetes.io/version': VERSION,
    'app.kubernetes.io/component': 'database',
    'app.kubernetes.io/managed-by': 'plugin-barman-cloud',
  };
}

function metadataFor(cluster: Json): Json {
  const c = identity(cluster);
  return {
    name: rbacNameFor(c.name),
    namespace: c.namespace,
    labels: rbacLabels(c.name),
    ownerReferences: [{ apiVersion: c.apiVersion, kind: c.kind, name: c.name, uid: c.uid, controller: true, blockOwnerDeletion: true }],
  };
}

export function roleRules(stores: readonly ObjectStoreView[]): PolicyRule[] {
  const storeNames = [...new Set(stores.map((s) => s.name))].sort();
  const secrets = [...new Set(stores.flatMap((s) => s.credentialSecrets))].sort();
  const rules: PolicyRule[] = [
    { apiGroups: [OBJECT_STORE_GROUP], resources: [OBJECT_STORE_PLURAL], verbs: ['get', 'watch', 'list'], resourceNames: storeNames },
    { apiGroups: [OBJECT_STORE_GROUP], resources: [`${OBJECT_STORE_PLURAL}/status`], verbs: ['update'], resourceNames: storeNames },
  ];
  if (secrets.length) rules.push({ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'watch', 'list'], resourceNames: secrets });
  return rules;
}

export function buildRole(cluster: Json, stores: readonly ObjectStoreView[]): Json {
  return { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: metadataFor(cluster), rules: roleRules(stores) };
}

export function buildRoleBinding(cluster: Json): Json {
  const c = identity(cluster);
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: metadataFor(cluster),
    // CNPG names every instance Pod's ServiceAccount after the Cluster.
    subjects: [{ kind: 'ServiceAccount', apiGroup: '', name: c.name, namespace: c.namespace }],
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: rbacNameFor(c.name) },
  };
}
