/** The per-Cluster Role and RoleBinding (cnpg-i.md §4.5): rules limited to the referenced stores and their Secrets. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRole, buildRoleBinding, roleRules } from '../../../../src/plugin/operator/rbac.js';
import { viewObjectStore } from '../../../../src/plugin/operator/object-store.js';
import { fixture, objectStore, type Json } from './fixtures.js';

test('Role: the referenced ObjectStores (get/watch/list, status update) and exactly their credential Secrets', () => {
  const a = objectStore('store-a');
  const b = objectStore('store-b', (spec) => {
    spec.configuration.s3Credentials = {
      accessKeyId: { name: 'keys-b', key: 'id' }, secretAccessKey: { name: 'keys-b', key: 'secret' },
      region: { name: 'region-b', key: 'r' }, sessionToken: { name: 'token-b', key: 't' },
    };
  });
  const role = buildRole(fixture('cluster.json'), [b, a].map(viewObjectStore)) as Json;
  assert.deepEqual(role.rules, [
    { apiGroups: ['barmancloud.cnpg.io'], resources: ['objectstores'], verbs: ['get', 'watch', 'list'], resourceNames: ['store-a', 'store-b'] },
    { apiGroups: ['barmancloud.cnpg.io'], resources: ['objectstores/status'], verbs: ['update'], resourceNames: ['store-a', 'store-b'] },
    // The endpoint CA Secret (minio-server-tls) is not here: it reaches the sidecar as a projected volume.
    { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'watch', 'list'], resourceNames: ['keys-b', 'minio', 'region-b', 'token-b'] },
  ]);
  assert.equal(role.metadata.name, 'cluster-example-barman-cloud');
  assert.equal(role.metadata.namespace, 'default');
  assert.deepEqual(role.metadata.ownerReferences, [{
    apiVersion: 'postgresql.cnpg.io/v1', kind: 'Cluster', name: 'cluster-example', uid: '3b0e5a6c-2f4e-4d8b-9a57-6f1c2d3e4f50', controller: true, blockOwnerDeletion: true,
  }]);
  assert.equal(role.metadata.labels['barmancloud.cnpg.io/cluster'], 'cluster-example');
});

test('Role: no secrets rule at all when no store reads a Secret (an empty resourceNames would grant every Secret)', () => {
  const iam = objectStore('iam', (spec) => { spec.configuration.s3Credentials = { inheritFromIAMRole: true }; delete spec.configuration.endpointCA; });
  const azure = objectStore('azure', (spec) => {
    delete spec.configuration.s3Credentials;
    spec.configuration.azureCredentials = { inheritFromAzureAD: true, storageAccount: { name: 'acct', key: 'name' } };
  });
  const rules = roleRules([iam, azure].map(viewObjectStore));
  assert.deepEqual(rules.map((r) => r.resources[0]), ['objectstores', 'objectstores/status']);
  for (const r of rules) assert.ok(r.resourceNames.length > 0);
});

test('Role: Azure keys and Google credentials Secrets are granted', () => {
  const azure = objectStore('azure', (spec) => {
    delete spec.configuration.s3Credentials;
    spec.configuration.azureCredentials = { storageAccount: { name: 'az-acct', key: 'n' }, storageSasToken: { name: 'az-sas', key: 't' } };
  });
  const gcs = objectStore('gcs', (spec) => { delete spec.configuration.s3Credentials; spec.configuration.googleCredentials = { applicationCredentials: { name: 'gcs-json', key: 'k' } }; });
  assert.deepEqual(roleRules([azure, gcs].map(viewObjectStore))[2]?.resourceNames, ['az-acct', 'az-sas', 'gcs-json']);
});

test('RoleBinding: the Cluster\'s ServiceAccount to the Role', () => {
  const rb = buildRoleBinding(fixture('cluster.json')) as Json;
  assert.deepEqual(rb.subjects, [{ kind: 'ServiceAccount', apiGroup: '', name: 'cluster-example', namespace: 'default' }]);
  assert.deepEqual(rb.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'cluster-example-barman-cloud' });
});
