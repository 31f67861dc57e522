/** Which object a manifest file resolves to: external clusters (--source), plugins, List documents, env. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTempDir } from '../../harness/tmp.js';
import { loadConfig } from '../../../src/config/load-config.js';
import { ConfigError } from '../../../src/errors.js';

const dir = makeTempDir('load-config');
const env = { PGSTOW_RUNTIME_DIR: path.join(dir, 'run'), HOME: dir };
function file(name: string, text: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
}

const SECRETS = `---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {ID: AKIAX, SECRET: sx, TOKEN: tok}
`;

const CLUSTER = `apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: restored, namespace: db}
spec:
  env:
    - {name: AWS_MAX_ATTEMPTS, value: "7"}
    - name: EXTRA_TOKEN
      valueFrom: {secretKeyRef: {name: creds, key: TOKEN}}
  bootstrap:
    recovery:
      source: origin
      recoveryTarget: {targetTime: "2026-01-02 03:04:05+00"}
  backup:
    retentionPolicy: 4w
    barmanObjectStore:
      destinationPath: s3://new-bucket/restored
      s3Credentials: {accessKeyId: {name: creds, key: ID}, secretAccessKey: {name: creds, key: SECRET}}
      tags: {env: prod}
      historyTags: {kind: history}
      data: {immediateCheckpoint: true, jobs: 3, additionalCommandArgs: ["--min-chunk-size=5MB"]}
  externalClusters:
    - name: origin
      barmanObjectStore:
        destinationPath: s3://old-bucket/backups
        endpointURL: http://minio:9000
        s3Credentials: {accessKeyId: {name: creds, key: ID}, secretAccessKey: {name: creds, key: SECRET}}
    - name: named
      barmanObjectStore:
        destinationPath: gs://b/p
        serverName: pg-old
        googleCredentials: {gkeEnvironment: true}
    - name: via-plugin
      plugin:
        name: barman-cloud.cloudnative-pg.io
        parameters: {barmanObjectName: store, serverName: pg-plugin}
    - name: streaming
      connectionParameters: {host: pg-rw}
---
apiVersion: barmancloud.cnpg.io/v1
kind: ObjectStore
metadata: {name: store, namespace: db}
spec:
  configuration:
    destinationPath: s3://plugin-bucket/
    s3Credentials: {inheritFromIAMRole: true}
${SECRETS}`;

test('spec.backup: settings, env (value and secretKeyRef), retention, namespace', async () => {
  const c = await loadConfig({ configFile: file('c.yaml', CLUSTER), kubernetes: 'never', env });
  assert.equal(c.source.path, 'spec.backup.barmanObjectStore');
  assert.equal(c.source.namespace, 'db');
  assert.equal(c.serverName, 'restored');
  assert.deepEqual(c.retentionPolicy, { text: '4w', count: 4, unit: 'WEEKS', barman: 'RECOVERY WINDOW OF 4 WEEKS', days: 28 });
  assert.deepEqual({ ...c.tags }, { env: 'prod' });
  assert.deepEqual({ ...c.historyTags }, { kind: 'history' });
  assert.equal(c.data.jobs, 3);
  assert.equal(c.data.immediateCheckpoint, true);
  // spec.env is resolved (values and secretKeyRefs); pgstow reads the variables it documents from it.
  assert.equal(c.extraEnv.AWS_MAX_ATTEMPTS, '7');
  const token = c.extraEnv.EXTRA_TOKEN;
  assert.equal(typeof token === 'string' ? token : token?.reveal(), 'tok');
});

test('--source picks an external cluster; serverName defaults to its name, or its serverName, or the plugin parameter', async () => {
  const f = file('s.yaml', CLUSTER);
  const origin = await loadConfig({ configFile: f, source: 'origin', kubernetes: 'never', env });
  assert.equal(origin.destinationPath, 's3://old-bucket/backups');
  assert.equal(origin.serverName, 'origin');
  assert.match(origin.serverNameReason, /external cluster name/);
  assert.equal(origin.endpointURL, 'http://minio:9000');
  assert.equal(origin.source.externalCluster, 'origin');
  assert.equal(origin.retentionPolicy, undefined, 'a recovery source has no retention policy');
  assert.equal((await loadConfig({ configFile: f, source: 'named', kubernetes: 'never', env })).serverName, 'pg-old');
  const plugin = await loadConfig({ configFile: f, source: 'via-plugin', kubernetes: 'never', env });
  assert.equal(plugin.source.kind, 'ObjectStore');
  assert.equal(plugin.serverName, 'pg-plugin');
  assert.equal(plugin.credentials.method, 's3-iam-role');
  await assert.rejects(loadConfig({ configFile: f, source: 'streaming', kubernetes: 'never', env }), /external cluster "streaming" has no barmanObjectStore/);
  await assert.rejects(loadConfig({ configFile: f, source: 'nope', kubernetes: 'never', env }), /no such entry in spec\.externalClusters of Cluster restored \(have: origin, named, via-plugin, streaming\)/);
});

test('kind: List (kubectl get -o yaml) is read; several Clusters, wrong apiVersion and no CNPG object are errors', async () => {
  const list = file('list.yaml', `apiVersion: v1
kind: List
items:
  - apiVersion: postgresql.cnpg.io/v1
    kind: Cluster
    metadata: {name: from-list}
    spec:
      backup:
        barmanObjectStore:
          destinationPath: gs://b
          googleCredentials: {gkeEnvironment: true}
`);
  assert.equal((await loadConfig({ configFile: list, kubernetes: 'never', env })).serverName, 'from-list');
  const two = file('two.yaml', `${fs.readFileSync(list, 'utf8').replace('apiVersion: v1\nkind: List\nitems:\n  - ', '').replace(/^ {4}/gm, '')}---\n${fs.readFileSync(list, 'utf8').replace('apiVersion: v1\nkind: List\nitems:\n  - ', '').replace(/^ {4}/gm, '').replace('from-list', 'other')}`);
  await assert.rejects(loadConfig({ configFile: two, kubernetes: 'never', env }), /holds 2 Clusters \(from-list, other\)/);
  await assert.rejects(loadConfig({ configFile: file('v.yaml', 'apiVersion: postgresql.cnpg.io/v2\nkind: Cluster\nmetadata: {name: x}\n'), kubernetes: 'never', env }), /unsupported apiVersion postgresql\.cnpg\.io\/v2/);
  const none = await loadConfig({ configFile: file('n.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n'), kubernetes: 'never', env }).then(() => undefined, (e: unknown) => e);
  assert.ok(none instanceof ConfigError);
  assert.equal(none.exitCode, 3);
  await assert.rejects(loadConfig({ configFile: path.join(dir, 'missing.yaml'), kubernetes: 'never', env }), /cannot read .*missing\.yaml: ENOENT/);
});
