/**
 * The three services of the operator side: OperatorLifecycle (sidecar injection into Pods and recovery Jobs),
 * ReconcilerHooks (each Cluster's Role and RoleBinding) and Operator (SetStatusInCluster). Thin: parse the
 * request, read the ObjectStores, call the pure functions, answer. CNPG gives every call 30 s.
 */
import { parseJsonObject } from '../cluster-definition.js';
import { GrpcCode, GrpcStatusError } from '../grpc-status.js';
import type { PluginLogger } from '../json-logger.js';
import type { KubeObject } from '../kube/kube-api.js';
import type { ReconcilerHooksResult } from '../protocol/messages.js';
import { service, type ServedService } from '../protocol/service-types.js';
import { clusterPluginStatus } from './cluster-status.js';
import { viewObjectStore, type ObjectStoreView } from './object-store.js';
import { ensureRbac, type RbacApi } from './rbac-sync.js';
import { lifecyclePatch, storesToFetch } from './sidecar-injection.js';
import { referencedStoreNames, storeReferences } from './store-references.js';

export interface OperatorKube extends RbacApi {
  /** Cached a few seconds: EVALUATE runs for every Pod on every reconcile. */
  getObjectStore(namespace: string, name: string): Promise<KubeObject>;
}

export interface OperatorDeps {
  kube: OperatorKube;
  sidecarImage: string;
  pluginName: string;
  log: PluginLogger;
  now?: () => Date;
}

type Json = Record<string, unknown>;
const namespaceOf = (o: Json): string => String((o.metadata as Json | undefined)?.namespace ?? 'default');

async function readStores(deps: OperatorDeps, namespace: string, names: readonly string[]): Promise<Map<string, ObjectStoreView>> {
  const stores = await Promise.all(names.map((n) => deps.kube.getObjectStore(namespace, n)));
  return new Map(stores.map((s, i) => [names[i] as string, viewObjectStore(s)]));
}

export function lifecycleService(deps: OperatorDeps): ServedService<'OperatorLifecycle'> {
  return service('OperatorLifecycle', 'TYPE_LIFECYCLE_SERVICE', {
    GetCapabilities: () => ({
      lifecycle_capabilities: [
        { group: '', kind: 'Pod', operation_types: [{ type: 'TYPE_CREATE' }, { type: 'TYPE_EVALUATE' }] },
        { group: 'batch', kind: 'Job', operation_types: [{ type: 'TYPE_CREATE' }] },
      ],
    }),
    LifecycleHook: async (req) => {
      const cluster = parseJsonObject(req.cluster_definition, 'cluster_definition');
      const object = parseJsonObject(req.object_definition, 'object_definition');
      if (object.kind !== 'Pod' && object.kind !== 'Job') {
        throw new GrpcStatusError(GrpcCode.INVALID_ARGUMENT, `unsupported kind ${String(object.kind)}: this plugin hooks Pods and Jobs`);
      }
      const names = storesToFetch(cluster, object, deps.pluginName);
      if (!names.length) return { json_patch: Buffer.alloc(0) };
      const stores = await readStores(deps, namespaceOf(cluster), names);
      const json_patch = lifecyclePatch({ cluster, object, stores, sidecarImage: deps.sidecarImage, pluginName: deps.pluginName });
      deps.log.debug('lifecycle hook', { operation: req.operation_type?.type, kind: object.kind, name: (object.metadata as Json | undefined)?.name, patchBytes: json_patch.length });
      return { json_patch };
    },
  });
}

const CONTINUE: ReconcilerHooksResult = { behavior: 'BEHAVIOR_CONTINUE', requeue_after: 0 };
/** An ObjectStore not created yet: look again soon rather than fail the Cluster's reconcile. */
const MISSING_STORE_REQUEUE_SECONDS = 10;

export function reconcilerService(deps: OperatorDeps): ServedService<'ReconcilerHooks'> {
  return service('ReconcilerHooks', 'TYPE_RECONCILER_HOOKS', {
    GetCapabilities: () => ({ reconciler_capabilities: [{ kind: 'KIND_CLUSTER' }, { kind: 'KIND_BACKUP' }] }),
    Pre: async (req) => {
      const resource = parseJsonObject(req.resource_definition, 'resource_definition');
      if (resource.kind !== 'Cluster') return CONTINUE;
      const names = referencedStoreNames(storeReferences(resource, deps.pluginName));
      if (!names.length) return CONTINUE;
      const namespace = namespaceOf(resource);
      const stores: ObjectStoreView[] = [];
      for (const name of names) {
        const store = await deps.kube.getCustom('barmancloud.cnpg.io', 'v1', 'objectstores', namespace, name);
        if (!store) {
          deps.log.info('ObjectStore not found, requeueing', { objectStore: name, namespace, cluster: (resource.metadata as Json | undefined)?.name });
          return { behavior: 'BEHAVIOR_REQUEUE', requeue_after: MISSING_STORE_REQUEUE_SECONDS };
        }
        stores.push(viewObjectStore(store));
      }
      const result = await ensureRbac(deps.kube, resource, stores);
      if (result.role !== 'unchanged' || result.roleBinding !== 'unchanged') deps.log.info('RBAC reconciled', { namespace, cluster: (resource.metadata as Json | undefined)?.name, ...result });
      return CONTINUE;
    },
    Post: () => CONTINUE,
  });
}

export function operatorService(deps: OperatorDeps): ServedService<'Operator'> {
  return service('Operator', 'TYPE_OPERATOR_SERVICE', {
    GetCapabilities: () => ({ capabilities: [{ rpc: { type: 'TYPE_SET_STATUS_IN_CLUSTER' } }] }),
    SetStatusInCluster: async (req) => {
      const cluster = parseJsonObject(req.cluster, 'cluster');
      const own = storeReferences(cluster, deps.pluginName).own;
      if (!own) return { json_status: Buffer.alloc(0) };
      let status: Json;
      try {
        const object = await deps.kube.getObjectStore(namespaceOf(cluster), own.objectStore);
        status = clusterPluginStatus({ name: own.objectStore, serverName: own.serverName, object }, (deps.now ?? (() => new Date()))());
      } catch (err) {
        // Shown in `kubectl cnpg status` rather than failing the Cluster's reconcile.
        status = { objectStore: own.objectStore, serverName: own.serverName, error: (err as Error).message };
      }
      return { json_status: Buffer.from(JSON.stringify(status)) };
    },
  });
}
