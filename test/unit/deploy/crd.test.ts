/**
 * The ObjectStore CRD, checked with the Kubernetes API server's own validation code (test/crd-validator): the
 * API server accepts the CRD; it accepts every ObjectStore written as plugin-barman-cloud documents them and
 * rejects what plugin-barman-cloud's CRD rejects, with the same messages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { requireInstalled } from '../../harness/test-env.js';
import { hasTool, repo, validateAgainstCrd, type Json } from './go-tools.js';

const CRD = 'deploy/crd/objectstores.barmancloud.cnpg.io.yaml';
const examples = (): Json[] => parseAllDocuments(fs.readFileSync(path.join(repo, 'test/fixtures/object-stores/valid.yaml'), 'utf8')).map((d) => d.toJS() as Json);
const base = (): Json => structuredClone(examples().find((e) => e.metadata.name === 'aws-store') as Json);

function invalid(name: string, change: (o: Json) => void): { name: string; object: Json } {
  const object = base();
  change(object);
  return { name, object };
}

/** name → an expected fragment of the API server's error. */
const REJECTED: Array<[ReturnType<typeof invalid>, string]> = [
  [invalid('serverName in configuration', (o) => { o.spec.configuration.serverName = 'pg'; }), "spec.configuration.serverName: Forbidden: use the 'serverName' plugin parameter in the Cluster resource"],
  [invalid('--log-level in additionalContainerArgs', (o) => { o.spec.instanceSidecarConfiguration = { additionalContainerArgs: ['--log-level=debug'] }; }),
    'spec.instanceSidecarConfiguration.additionalContainerArgs: Forbidden: do not set --log-level in additionalContainerArgs; use spec.instanceSidecarConfiguration.logLevel'],
  [invalid('retention policy in words', (o) => { o.spec.retentionPolicy = '30 days'; }), 'spec.retentionPolicy in body should match'],
  [invalid('retention policy of zero', (o) => { o.spec.retentionPolicy = '0d'; }), 'spec.retentionPolicy in body should match'],
  [invalid('unknown WAL compression', (o) => { o.spec.configuration.wal = { compression: 'brotli' }; }), 'spec.configuration.wal.compression: Unsupported value: "brotli"'],
  [invalid('xz for base backups', (o) => { o.spec.configuration.data = { compression: 'xz' }; }), 'spec.configuration.data.compression: Unsupported value: "xz"'],
  [invalid('maxParallel 0', (o) => { o.spec.configuration.wal = { maxParallel: 0 }; }), 'spec.configuration.wal.maxParallel in body should be greater than or equal to 1'],
  [invalid('jobs 0', (o) => { o.spec.configuration.data = { jobs: 0 }; }), 'spec.configuration.data.jobs in body should be greater than or equal to 1'],
  [invalid('no destinationPath', (o) => { delete o.spec.configuration.destinationPath; }), 'spec.configuration.destinationPath: Required value'],
  [invalid('empty destinationPath', (o) => { o.spec.configuration.destinationPath = ''; }), 'spec.configuration.destinationPath in body should be at least 1 chars long'],
  [invalid('no configuration', (o) => { delete o.spec.configuration; }), 'spec.configuration: Required value'],
  [invalid('unknown log level', (o) => { o.spec.instanceSidecarConfiguration = { logLevel: 'verbose' }; }), 'spec.instanceSidecarConfiguration.logLevel: Unsupported value: "verbose"'],
  [invalid('secret selector without key', (o) => { o.spec.configuration.endpointCA = { name: 'ca' }; }), 'spec.configuration.endpointCA.key: Required value'],
  [invalid('not a quantity', (o) => { o.spec.instanceSidecarConfiguration = { resources: { limits: { memory: 'lots' } } }; }), 'spec.instanceSidecarConfiguration.resources.limits.memory in body should match'],
  [invalid('unknown field', (o) => { o.spec.configuration.bucket = 'x'; }), 'spec.configuration.bucket: unknown field'],
  [invalid('S3 encryption not in the enum', (o) => { o.spec.configuration.wal = { encryption: 'aes256' }; }), 'spec.configuration.wal.encryption: Unsupported value: "aes256"'],
];

test('the API server accepts the CRD and every ObjectStore of plugin-barman-cloud\'s documentation', (t) => {
  if (!requireInstalled(t, 'crd-validator (scripts/build-go-tools.sh)', hasTool('crd-validator'))) return;
  const objects = examples().map((object) => ({ name: object.metadata.name as string, object }));
  assert.ok(objects.length >= 12);
  const v = validateAgainstCrd(CRD, objects);
  assert.deepEqual(v.crdErrors, []);
  for (const r of v.results) assert.deepEqual(r.errors, [], r.name);
});

test('defaults are applied as upstream\'s CRD applies them (logLevel info, retention interval 1800 s)', (t) => {
  if (!requireInstalled(t, 'crd-validator (scripts/build-go-tools.sh)', hasTool('crd-validator'))) return;
  const o = base();
  o.spec.instanceSidecarConfiguration = { env: [{ name: 'A', valueFrom: { secretKeyRef: { key: 'k' } } }] };
  const r = validateAgainstCrd(CRD, [{ name: 'defaults', object: o }]).results[0];
  assert.deepEqual(r?.errors, []);
  assert.deepEqual(r?.object.spec.instanceSidecarConfiguration, {
    logLevel: 'info', retentionPolicyIntervalSeconds: 1800, env: [{ name: 'A', valueFrom: { secretKeyRef: { key: 'k', name: '' } } }],
  });
  assert.equal(r?.object.spec.configuration.destinationPath, 's3://BUCKET_NAME/path/to/folder');
});

test('the API server rejects what plugin-barman-cloud\'s CRD rejects, with its messages', (t) => {
  if (!requireInstalled(t, 'crd-validator (scripts/build-go-tools.sh)', hasTool('crd-validator'))) return;
  const v = validateAgainstCrd(CRD, REJECTED.map(([c]) => c));
  for (const [i, [c, expected]] of REJECTED.entries()) {
    const errors = v.results[i]?.errors ?? [];
    assert.ok(errors.some((e) => e.includes(expected)), `${c.name}: expected "${expected}", got ${JSON.stringify(errors)}`);
  }
});

test('the Helm chart ships the same CRD', () => {
  assert.equal(fs.readFileSync(path.join(repo, 'deploy/helm/pgstow/crds/objectstores.barmancloud.cnpg.io.yaml'), 'utf8'), fs.readFileSync(path.join(repo, CRD), 'utf8'));
});
