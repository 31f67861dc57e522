/**
 * Cloud workload identity for the sidecar, reproduced from the Cluster and its ObjectStores instead of relying
 * on what mutating webhooks add to the postgres container at admission — after the plugin computed its patch,
 * so plugin-barman-cloud's sidecar never sees it (plugin-barman-cloud #377, #649, #772):
 *
 * - EKS IRSA: an S3 store with `inheritFromIAMRole` and the Cluster's ServiceAccount template annotated
 *   `eks.amazonaws.com/role-arn` → a projected token (audience sts.amazonaws.com), AWS_ROLE_ARN,
 *   AWS_WEB_IDENTITY_TOKEN_FILE, AWS_STS_REGIONAL_ENDPOINTS.
 * - EKS Pod Identity: invisible in Kubernetes objects (the association lives in AWS), so opted into with the
 *   ObjectStore annotation `pgstow.io/workload-identity: eks-pod-identity` → a projected token (audience
 *   pods.eks.amazonaws.com), AWS_CONTAINER_CREDENTIALS_FULL_URI, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE.
 * - Azure Workload Identity: an Azure store with `inheritFromAzureAD` or `useDefaultAzureCredentials` and the
 *   template annotated `azure.workload.identity/client-id` → a projected token (audience
 *   api://AzureADTokenExchange), AZURE_CLIENT_ID, AZURE_TENANT_ID (from `azure.workload.identity/tenant-id`),
 *   AZURE_FEDERATED_TOKEN_FILE, AZURE_AUTHORITY_HOST.
 * - GKE Workload Identity needs nothing in the pod: the GKE metadata server answers every container.
 *
 * Volumes and mount paths carry a pgstow- prefix so they never collide with the webhooks' own (a duplicate
 * volume name would make the Pod invalid); variables only fill gaps (the env merge keeps the first of a name).
 * `pgstow.io/workload-identity: none` on an ObjectStore turns all of this off for the Clusters using it.
 */
import type { EnvVar, ObjectStoreView } from './object-store.js';

export const WORKLOAD_IDENTITY_ANNOTATION = 'pgstow.io/workload-identity';
const MOUNT_ROOT = '/var/run/secrets/pgstow';

export interface Volume { name: string; [key: string]: unknown }
export interface VolumeMount { name: string; mountPath: string; readOnly?: boolean; [key: string]: unknown }

export interface IdentityProjection {
  env: EnvVar[];
  volumes: Volume[];
  mounts: VolumeMount[];
}

function tokenVolume(name: string, audience: string, expirationSeconds: number, path: string): Volume {
  return { name, projected: { sources: [{ serviceAccountToken: { audience, expirationSeconds, path } }] } };
}

function seconds(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return Number.isInteger(n) && n >= 600 ? n : fallback;
}

function add(p: IdentityProjection, volume: Volume, mountPath: string, env: EnvVar[]): void {
  p.volumes.push(volume);
  p.mounts.push({ name: volume.name, mountPath, readOnly: true });
  p.env.push(...env);
}

export function workloadIdentityProjection(serviceAccountAnnotations: Readonly<Record<string, string>>, stores: readonly ObjectStoreView[]): IdentityProjection {
  const p: IdentityProjection = { env: [], volumes: [], mounts: [] };
  const active = stores.filter((s) => s.annotations[WORKLOAD_IDENTITY_ANNOTATION] !== 'none');
  const a = serviceAccountAnnotations;
  const roleArn = a['eks.amazonaws.com/role-arn'];
  if (roleArn && active.some((s) => s.s3InheritFromIAMRole)) {
    const dir = `${MOUNT_ROOT}/eks.amazonaws.com/serviceaccount`;
    add(p, tokenVolume('pgstow-aws-iam-token', a['eks.amazonaws.com/audience'] ?? 'sts.amazonaws.com', seconds(a['eks.amazonaws.com/token-expiration'], 86400), 'token'), dir, [
      { name: 'AWS_ROLE_ARN', value: roleArn },
      { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: `${dir}/token` },
      { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' },
    ]);
  }
  if (active.some((s) => s.s3InheritFromIAMRole && s.annotations[WORKLOAD_IDENTITY_ANNOTATION] === 'eks-pod-identity')) {
    const dir = `${MOUNT_ROOT}/pods.eks.amazonaws.com/serviceaccount`;
    add(p, tokenVolume('pgstow-eks-pod-identity-token', 'pods.eks.amazonaws.com', 86400, 'eks-pod-identity-token'), dir, [
      { name: 'AWS_CONTAINER_CREDENTIALS_FULL_URI', value: 'http://169.254.170.23/v1/credentials' },
      { name: 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE', value: `${dir}/eks-pod-identity-token` },
    ]);
  }
  const clientId = a['azure.workload.identity/client-id'];
  if (clientId && active.some((s) => s.azureWorkloadIdentity)) {
    const dir = `${MOUNT_ROOT}/azure/tokens`;
    const env: EnvVar[] = [{ name: 'AZURE_CLIENT_ID', value: clientId }];
    const tenant = a['azure.workload.identity/tenant-id'];
    if (tenant) env.push({ name: 'AZURE_TENANT_ID', value: tenant });
    env.push({ name: 'AZURE_FEDERATED_TOKEN_FILE', value: `${dir}/azure-identity-token` }, { name: 'AZURE_AUTHORITY_HOST', value: 'https://login.microsoftonline.com/' });
    add(p, tokenVolume('pgstow-azure-identity-token', 'api://AzureADTokenExchange', seconds(a['azure.workload.identity/service-account-token-expiration'], 3600), 'azure-identity-token'), dir, env);
  }
  return p;
}

/** Every volume name this module may add, so a later patch can remove what no longer applies. */
export const IDENTITY_VOLUMES = ['pgstow-aws-iam-token', 'pgstow-eks-pod-identity-token', 'pgstow-azure-identity-token'];
