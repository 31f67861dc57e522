/**
 * Creates or updates a Cluster's Role and RoleBinding (rbac.ts) through the API server, touching them only
 * when they differ from what they should be: rules, our labels, the controlling owner; a RoleBinding whose
 * roleRef differs is recreated (roleRef is immutable).
 */
import type { KubeObject } from '../kube/kube-api.js';
import { buildRole, buildRoleBinding } from './rbac.js';
import type { ObjectStoreView } from './object-store.js';

const GROUP = 'rbac.authorization.k8s.io';
const VERSION = 'v1';

/** The part of KubeApi this needs (a fake in no test: the tests use the loopback API server). */
export interface RbacApi {
  getCustom(group: string, version: string, plural: string, namespace: string, name: string): Promise<KubeObject | undefined>;
  create(group: string, version: string, plural: string, namespace: string, body: KubeObject): Promise<KubeObject>;
  replace(group: string, version: string, plural: string, namespace: string, body: KubeObject): Promise<KubeObject>;
  delete(group: string, version: string, plural: string, namespace: string, name: string): Promise<boolean>;
}

export type SyncResult = 'created' | 'updated' | 'unchanged';

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Json : {});
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

function meta(o: Json): Json {
  return obj(o.metadata);
}

/** The current object with the desired parts applied, or undefined when nothing needs changing. */
function merged(current: Json, desired: Json, fields: readonly string[]): Json | undefined {
  const labels = { ...obj(meta(current).labels), ...obj(meta(desired).labels) };
  const changed = !same(labels, obj(meta(current).labels)) || !same(meta(current).ownerReferences, meta(desired).ownerReferences)
    || fields.some((f) => !same(current[f], desired[f]));
  if (!changed) return undefined;
  const next: Json = { ...current, metadata: { ...meta(current), labels, ownerReferences: meta(desired).ownerReferences } };
  for (const f of fields) next[f] = desired[f];
  return next;
}

async function sync(api: RbacApi, plural: string, desired: Json, fields: readonly string[], recreateIf?: (current: Json) => boolean): Promise<SyncResult> {
  const namespace = String(meta(desired).namespace);
  const name = String(meta(desired).name);
  let current = await api.getCustom(GROUP, VERSION, plural, namespace, name);
  if (current && recreateIf?.(current)) {
    await api.delete(GROUP, VERSION, plural, namespace, name);
    current = undefined;
  }
  if (!current) {
    try {
      await api.create(GROUP, VERSION, plural, namespace, desired as KubeObject);
      return 'created';
    } catch (err) {
      // Created meanwhile by another reconcile: update that one instead.
      current = await api.getCustom(GROUP, VERSION, plural, namespace, name);
      if (!current) throw err;
    }
  }
  const next = merged(current, desired, fields);
  if (!next) return 'unchanged';
  await api.replace(GROUP, VERSION, plural, namespace, next as KubeObject);
  return 'updated';
}

export async function ensureRbac(api: RbacApi, cluster: Json, stores: readonly ObjectStoreView[]): Promise<{ role: SyncResult; roleBinding: SyncResult }> {
  const role = await sync(api, 'roles', buildRole(cluster, stores), ['rules']);
  const binding = buildRoleBinding(cluster);
  const roleBinding = await sync(api, 'rolebindings', binding, ['subjects'], (current) => !same(current.roleRef, binding.roleRef));
  return { role, roleBinding };
}
