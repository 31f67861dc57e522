/**
 * Workload identity carried into the sidecar: what webhooks add to the postgres container at admission is
 * reproduced from the Cluster's ServiceAccount template and the ObjectStore, so the sidecar has it too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { injectSidecar } from '../../../../src/plugin/operator/sidecar-injection.js';
import { fixture, objectStore, storeMap, type Json } from './fixtures.js';

function sidecarWith(clusterPatch: (c: Json) => void, storePatch: (spec: Json, metadata: Json) => void, podPatch: (p: Json) => void = () => {}): { pod: Json; sidecar: Json } {
  const cluster = fixture('cluster.json');
  clusterPatch(cluster);
  const object = fixture('pod.json');
  podPatch(object);
  const pod = injectSidecar({ cluster, object, stores: storeMap(objectStore('minio-store', storePatch)), sidecarImage: 'img' }) as Json;
  return { pod, sidecar: pod.spec.initContainers.find((c: Json) => c.name === 'plugin-barman-cloud') };
}

const saAnnotations = (annotations: Record<string, string>) => (c: Json): void => { c.spec.serviceAccountTemplate = { metadata: { annotations } }; };
const iamRole = (spec: Json): void => { spec.configuration.s3Credentials = { inheritFromIAMRole: true }; };
const envOf = (s: Json): Record<string, string> => Object.fromEntries(s.env.map((e: Json) => [e.name, e.value]));

test('EKS IRSA: role ARN, projected web-identity token and regional STS for an inheritFromIAMRole store', () => {
  const { pod, sidecar } = sidecarWith(saAnnotations({ 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/pg-backup' }), iamRole);
  const env = envOf(sidecar);
  assert.equal(env.AWS_ROLE_ARN, 'arn:aws:iam::111122223333:role/pg-backup');
  assert.equal(env.AWS_WEB_IDENTITY_TOKEN_FILE, '/var/run/secrets/pgstow/eks.amazonaws.com/serviceaccount/token');
  assert.equal(env.AWS_STS_REGIONAL_ENDPOINTS, 'regional');
  assert.deepEqual(pod.spec.volumes.find((v: Json) => v.name === 'pgstow-aws-iam-token'), {
    name: 'pgstow-aws-iam-token', projected: { sources: [{ serviceAccountToken: { audience: 'sts.amazonaws.com', expirationSeconds: 86400, path: 'token' } }] },
  });
  assert.ok(sidecar.volumeMounts.some((m: Json) => m.name === 'pgstow-aws-iam-token' && m.mountPath === '/var/run/secrets/pgstow/eks.amazonaws.com/serviceaccount' && m.readOnly === true));
  // Not into the postgres container: only the sidecar talks to S3.
  assert.ok(!pod.spec.containers[0].volumeMounts.some((m: Json) => m.name === 'pgstow-aws-iam-token'));
});

test('EKS IRSA: nothing without the role annotation, or with static keys', () => {
  assert.equal(envOf(sidecarWith(() => {}, iamRole).sidecar).AWS_ROLE_ARN, undefined);
  assert.equal(envOf(sidecarWith(saAnnotations({ 'eks.amazonaws.com/role-arn': 'arn:x' }), () => {}).sidecar).AWS_ROLE_ARN, undefined);
});

test('a variable already on the postgres container (a webhook or spec.env) wins over the projection', () => {
  const { sidecar } = sidecarWith(saAnnotations({ 'eks.amazonaws.com/role-arn': 'arn:from-annotation' }), iamRole, (p) => {
    p.spec.containers[0].env.push({ name: 'AWS_ROLE_ARN', value: 'arn:from-spec-env' });
  });
  assert.equal(sidecar.env.filter((e: Json) => e.name === 'AWS_ROLE_ARN').length, 1);
  assert.equal(envOf(sidecar).AWS_ROLE_ARN, 'arn:from-spec-env');
});

test('EKS Pod Identity: opted in on the ObjectStore (the association is not visible in Kubernetes)', () => {
  const { pod, sidecar } = sidecarWith(() => {}, (spec, metadata) => { iamRole(spec); metadata.annotations = { 'pgstow.io/workload-identity': 'eks-pod-identity' }; });
  const env = envOf(sidecar);
  assert.equal(env.AWS_CONTAINER_CREDENTIALS_FULL_URI, 'http://169.254.170.23/v1/credentials');
  assert.equal(env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, '/var/run/secrets/pgstow/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token');
  assert.equal(pod.spec.volumes.find((v: Json) => v.name === 'pgstow-eks-pod-identity-token').projected.sources[0].serviceAccountToken.audience, 'pods.eks.amazonaws.com');
});

test('Azure Workload Identity: client and tenant from the ServiceAccount annotations, federated token projected', () => {
  const { pod, sidecar } = sidecarWith(
    saAnnotations({ 'azure.workload.identity/client-id': '00000000-1111-2222-3333-444444444444', 'azure.workload.identity/tenant-id': 'tenant-1' }),
    (spec) => { delete spec.configuration.s3Credentials; spec.configuration.destinationPath = 'https://acct.blob.core.windows.net/c/p'; spec.configuration.azureCredentials = { useDefaultAzureCredentials: true }; },
  );
  const env = envOf(sidecar);
  assert.equal(env.AZURE_CLIENT_ID, '00000000-1111-2222-3333-444444444444');
  assert.equal(env.AZURE_TENANT_ID, 'tenant-1');
  assert.equal(env.AZURE_FEDERATED_TOKEN_FILE, '/var/run/secrets/pgstow/azure/tokens/azure-identity-token');
  assert.equal(env.AZURE_AUTHORITY_HOST, 'https://login.microsoftonline.com/');
  assert.deepEqual(pod.spec.volumes.find((v: Json) => v.name === 'pgstow-azure-identity-token').projected.sources[0].serviceAccountToken,
    { audience: 'api://AzureADTokenExchange', expirationSeconds: 3600, path: 'azure-identity-token' });
});

test('GKE Workload Identity needs nothing in the pod; "none" on the ObjectStore turns projections off', () => {
  const gke = sidecarWith(saAnnotations({ 'iam.gke.io/gcp-service-account': 'pg@proj.iam.gserviceaccount.com' }),
    (spec) => { delete spec.configuration.s3Credentials; spec.configuration.destinationPath = 'gs://b/p'; spec.configuration.googleCredentials = { gkeEnvironment: true }; });
  assert.ok(!gke.pod.spec.volumes.some((v: Json) => String(v.name).startsWith('pgstow-')));
  const off = sidecarWith(saAnnotations({ 'eks.amazonaws.com/role-arn': 'arn:x' }), (spec, metadata) => { iamRole(spec); metadata.annotations = { 'pgstow.io/workload-identity': 'none' }; });
  assert.equal(envOf(off.sidecar).AWS_ROLE_ARN, undefined);
  assert.ok(!off.pod.spec.volumes.some((v: Json) => v.name === 'pgstow-aws-iam-token'));
});
