/**
 * The native-sidecar injection of the OperatorLifecycle hook (cnpg-i.md §4.4), as pure functions: Cluster,
 * Pod or Job, and the referenced ObjectStores in; the mutated object and its RFC 6902 patch out.
 *
 * The patch is the difference between the object CNPG sent and the mutated copy, so it is deterministic (same
 * input → byte-identical patch) and idempotent (a Pod that already carries the sidecar yields no operation):
 * CNPG compares EVALUATEd Pod specs to decide rollouts, and an unstable patch restarts Pods on every reconcile.
 */
import jsonPatch from 'fast-json-patch';
import {
  CERTIFICATE_FILE_NAME, CERTIFICATES_MOUNT_PATH, CERTIFICATES_VOLUME, PLUGIN_NAME, PLUGINS_MOUNT_PATH, PLUGINS_VOLUME,
  SIDECAR_BINARY, SIDECAR_CONTAINER_NAME, SPOOL_DIRECTORY,
} from './names.js';
import type { EnvVar, ObjectStoreView } from './object-store.js';
import { SIDECAR_MALLOC_ENV } from '../instance/memory.js';
import { defaultSidecarResources } from './sidecar-resources.js';
import { referencedStoreNames, storeReferences, type StoreReference, type StoreReferences } from './store-references.js';
import { IDENTITY_VOLUMES, workloadIdentityProjection, type Volume, type VolumeMount } from './workload-identity.js';

type Json = Record<string, unknown>;
interface Container { name: string; env?: EnvVar[]; volumeMounts?: VolumeMount[]; [key: string]: unknown }
interface PodSpec { containers?: Container[]; initContainers?: Container[]; volumes?: Volume[]; [key: string]: unknown }

export interface InjectionInput {
  /** The Cluster of cluster_definition. */
  cluster: Json;
  /** The Pod or Job of object_definition. */
  object: Json;
  /** Every ObjectStore the Cluster references, by name (see storesToFetch). */
  stores: ReadonlyMap<string, ObjectStoreView>;
  /** SIDECAR_IMAGE of the operator-side Deployment. */
  sidecarImage: string;
  pluginName?: string;
}

const RECOVERY_JOB_ROLES = new Set(['full-recovery', 'snapshot-recovery']);
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Json : {});

/** The injection target inside `object`, or why there is none. */
interface Target { spec: PodSpec; mainContainer: string; args: string[]; store: StoreReference }

function jobRole(job: Json): string | undefined {
  const labels = obj(obj(obj(obj(job.spec).template).metadata).labels);
  const key = Object.keys(labels).sort().find((k) => k.endsWith('/jobRole'));
  return key ? String(labels[key]) : undefined;
}

function target(object: Json, refs: StoreReferences, stores: ReadonlyMap<string, ObjectStoreView>): Target | undefined {
  if (object.kind === 'Pod') {
    // Instances archive (own store) or replay from a replica source; a recovery-only Cluster's Pods need nothing.
    if (!refs.own && !refs.replicaSource) return undefined;
    const store = (refs.own ?? refs.recovery ?? refs.replicaSource) as StoreReference;
    const view = stores.get(store.objectStore);
    const args = ['plugin', 'instance', ...(view?.additionalContainerArgs ?? []), `--log-level=${view?.logLevel ?? 'info'}`];
    return { spec: obj(object.spec) as PodSpec, mainContainer: 'postgres', args, store };
  }
  if (object.kind === 'Job') {
    const role = jobRole(object);
    if (!refs.recovery || !role || !RECOVERY_JOB_ROLES.has(role)) return undefined;
    return { spec: obj(obj(obj(object.spec).template).spec) as PodSpec, mainContainer: role, args: ['plugin', 'restore'], store: refs.recovery };
  }
  return undefined;
}

/** The ObjectStores the hook must read for this call; empty when the object gets no sidecar. */
export function storesToFetch(cluster: Json, object: Json, pluginName = PLUGIN_NAME): string[] {
  const refs = storeReferences(cluster, pluginName);
  return target(object, refs, new Map()) ? referencedStoreNames(refs) : [];
}

function mergeEnv(...lists: EnvVar[][]): EnvVar[] {
  const out: EnvVar[] = [];
  const seen = new Set<string>();
  for (const e of lists.flat()) {
    if (seen.has(e.name)) continue; // the first of a name wins: the postgres container's own variables first
    seen.add(e.name);
    out.push(structuredClone(e));
  }
  return out;
}

function upsertVolume(volumes: Volume[], volume: Volume): void {
  const i = volumes.findIndex((v) => v.name === volume.name);
  if (i >= 0) volumes[i] = volume;
  else volumes.push(volume);
}

/** Mounts keyed by path: CNPG mounts one volume twice (scratch-data at /run and /controller). */
function mergeMounts(...lists: VolumeMount[][]): VolumeMount[] {
  const out: VolumeMount[] = [];
  for (const m of lists.flat()) {
    const i = out.findIndex((o) => o.mountPath === m.mountPath);
    if (i >= 0) out[i] = structuredClone(m);
    else out.push(structuredClone(m));
  }
  return out;
}

function apiGroupVersion(cluster: Json): { group: string; version: string } {
  const apiVersion = typeof cluster.apiVersion === 'string' ? cluster.apiVersion : 'postgresql.cnpg.io/v1';
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

function certificateProjection(names: string[], stores: ReadonlyMap<string, ObjectStoreView>): Volume | undefined {
  const sources = names.flatMap((name) => {
    const ca = stores.get(name)?.endpointCA;
    return ca ? [{ secret: { name: ca.name, items: [{ key: ca.key, path: `${name}/${CERTIFICATE_FILE_NAME}` }] } }] : [];
  });
  return sources.length ? { name: CERTIFICATES_VOLUME, projected: { sources } } : undefined;
}

/** Read when the process starts, so the pod's environment must carry them (src/plugin/instance/memory.ts says why). */
const MEMORY_ENV: EnvVar[] = Object.entries(SIDECAR_MALLOC_ENV).map(([name, value]) => ({ name, value }));

function sidecarContainer(input: InjectionInput, t: Target, main: Container, refs: StoreReferences, extra: { env: EnvVar[]; mounts: VolumeMount[] }): Container {
  const { cluster, stores } = input;
  const metadata = obj(cluster.metadata);
  const { group, version } = apiGroupVersion(cluster);
  const fixed: EnvVar[] = [
    { name: 'NAMESPACE', value: String(metadata.namespace ?? '') },
    { name: 'CLUSTER_NAME', value: String(metadata.name ?? '') },
    { name: 'SPOOL_DIRECTORY', value: SPOOL_DIRECTORY },
    { name: 'CUSTOM_CNPG_GROUP', value: group },
    { name: 'CUSTOM_CNPG_VERSION', value: version },
  ];
  const storeEnv = [refs.own, refs.recovery, refs.replicaSource].flatMap((r) => (r ? stores.get(r.objectStore)?.env ?? [] : []));
  const view = stores.get(t.store.objectStore);
  const container: Container = {
    name: SIDECAR_CONTAINER_NAME,
    image: input.sidecarImage,
    args: t.args,
    // The sidecar's allocator and V8 settings last: an ObjectStore's instanceSidecarConfiguration.env may override them.
    env: mergeEnv(main.env ?? [], fixed, storeEnv, extra.env, MEMORY_ENV),
    resources: structuredClone(view?.resources ?? defaultSidecarResources()),
    volumeMounts: mergeMounts(extra.mounts, main.volumeMounts ?? []),
    startupProbe: { exec: { command: [SIDECAR_BINARY, 'plugin', 'healthcheck', 'unix'] }, timeoutSeconds: 5, periodSeconds: 1, failureThreshold: 30 },
    restartPolicy: 'Always',
    securityContext: {
      capabilities: { drop: ['ALL'] }, privileged: false, runAsNonRoot: true, readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false, seccompProfile: { type: 'RuntimeDefault' },
    },
  };
  const pullPolicy = obj(cluster.spec).imagePullPolicy;
  if (typeof pullPolicy === 'string' && pullPolicy) container.imagePullPolicy = pullPolicy;
  return container;
}

/** The object with the sidecar injected (a copy), or undefined when this object gets no sidecar. */
export function injectSidecar(input: InjectionInput): Json | undefined {
  const refs = storeReferences(input.cluster, input.pluginName ?? PLUGIN_NAME);
  const object = structuredClone(input.object);
  const t = target(object, refs, input.stores);
  if (!t) return undefined;
  const names = referencedStoreNames(refs);
  for (const name of names) {
    if (!input.stores.has(name)) throw new Error(`ObjectStore "${name}" referenced by Cluster "${String(obj(input.cluster.metadata).name)}" was not provided`);
  }
  const spec = t.spec;
  const main = (spec.containers ?? []).find((c) => c.name === t.mainContainer);
  if (!main) throw new Error(`${String(object.kind)} "${String(obj(object.metadata).name)}" has no "${t.mainContainer}" container to attach the sidecar to`);
  spec.volumes ??= [];
  if (!spec.volumes.some((v) => v.name === PLUGINS_VOLUME)) {
    spec.volumes.push({ name: PLUGINS_VOLUME, emptyDir: {} });
    main.volumeMounts = mergeMounts(main.volumeMounts ?? [], [{ name: PLUGINS_VOLUME, mountPath: PLUGINS_MOUNT_PATH }]);
  }
  const views = names.map((n) => input.stores.get(n) as ObjectStoreView);
  const annotations = obj(obj(obj(obj(input.cluster.spec).serviceAccountTemplate).metadata).annotations) as Record<string, string>;
  const identity = workloadIdentityProjection(annotations, views);
  const certificates = certificateProjection(names, input.stores);
  const stale = new Set([CERTIFICATES_VOLUME, ...IDENTITY_VOLUMES]);
  spec.volumes = spec.volumes.filter((v) => !stale.has(v.name));
  const extraMounts: VolumeMount[] = [];
  if (certificates) {
    upsertVolume(spec.volumes, certificates);
    extraMounts.push({ name: CERTIFICATES_VOLUME, mountPath: CERTIFICATES_MOUNT_PATH });
  }
  for (const v of identity.volumes) upsertVolume(spec.volumes, v);
  extraMounts.push(...identity.mounts);
  const sidecar = sidecarContainer(input, t, main, refs, { env: identity.env, mounts: extraMounts });
  spec.initContainers ??= [];
  const i = spec.initContainers.findIndex((c) => c.name === SIDECAR_CONTAINER_NAME);
  if (i >= 0) spec.initContainers[i] = sidecar;
  else spec.initContainers.push(sidecar);
  return object;
}

/** The json_patch of the lifecycle response: empty when nothing changes (CNPG then leaves the object alone). */
export function lifecyclePatch(input: InjectionInput): Buffer {
  const mutated = injectSidecar(input);
  if (!mutated) return Buffer.alloc(0);
  const ops = jsonPatch.compare(input.object, mutated);
  return ops.length ? Buffer.from(JSON.stringify(ops)) : Buffer.alloc(0);
}
