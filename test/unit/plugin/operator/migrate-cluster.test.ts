/**
 * `pgstow config migrate`: every in-tree fixture of the CNPG object-stores page becomes an ObjectStore and a
 * plugin stanza that pgstow resolves to the same store, folder, credentials (the same Secret keys, never
 * copied) and options as the original.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../../../src/config/load-config.js';
import type { ResolvedConfig } from '../../../../src/config/resolved-config.js';
import { migrateDocuments } from '../../../../src/plugin/operator/migrate-cluster.js';
import { runCli } from '../../../../src/cli/main.js';
import { makeTempDir, removeDir } from '../../../harness/tmp.js';

type Json = Record<string, any>;
const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../../test/fixtures/cnpg');
const secretsFile = path.join(fixtures, 'secrets.yaml');
let dir: string;
before(() => { dir = makeTempDir('operator-migrate'); });
after(() => removeDir(dir));

const docsOf = (file: string): Json[] => parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJS() as Json).filter(Boolean);
const inTree = fs.readdirSync(fixtures).filter((f) => f.endsWith('.yaml') && f !== 'secrets.yaml' && f !== 'plugin-object-store.yaml')
  .filter((f) => docsOf(path.join(fixtures, f)).some((d) => d.kind === 'Cluster' && d.spec?.backup?.barmanObjectStore));

/** What pgstow will do with a configuration, secret values included (compared, never printed). */
function settings(c: ResolvedConfig): Json {
  return {
    provider: c.provider, destinationPath: c.destinationPath, serverName: c.serverName, endpointURL: c.endpointURL,
    endpointCA: c.endpointCA?.value.reveal(), method: c.credentials.method, azureCredential: c.credentials.azureCredential,
    credentials: Object.fromEntries(Object.entries(c.credentials.env).map(([k, v]) => [k, v.reveal()])),
    wal: c.wal, data: c.data, tags: c.tags, historyTags: c.historyTags, retention: c.retentionPolicy?.barman,
  };
}

const load = (configFile: string, source?: string): Promise<ResolvedConfig> =>
  loadConfig({ configFile, secretsFiles: [secretsFile], kubernetes: 'never', env: { PGSTOW_RUNTIME_DIR: path.join(dir, 'run'), HOME: dir }, ...(source ? { source } : {}) });

test(`every in-tree fixture (${inTree.length}) migrates to the same resolved settings`, async () => {
  assert.ok(inTree.length >= 15);
  for (const f of inTree) {
    const original = path.join(fixtures, f);
    const { documents } = migrateDocuments(docsOf(original));
    const store = documents.find((d) => d.kind === 'ObjectStore') as Json;
    const cluster = documents.find((d) => d.kind === 'Cluster') as Json;
    assert.equal(cluster.spec.backup?.barmanObjectStore, undefined, f);
    assert.deepEqual(cluster.spec.plugins.at(-1), { name: 'barman-cloud.cloudnative-pg.io', isWALArchiver: true, parameters: { barmanObjectName: store.metadata.name } }, f);
    assert.equal(store.spec.configuration.serverName, undefined, `${f}: an ObjectStore may not carry serverName`);
    // Secrets are referenced by name, never resolved into the output.
    assert.ok(!JSON.stringify(documents).includes('never-printed'), f);
    const migrated = path.join(dir, f);
    fs.writeFileSync(migrated, documents.map((d) => JSON.stringify(d)).join('\n---\n'));
    const before = await load(original).then(settings, (e: Error) => e);
    if (before instanceof Error) {
      // Invalid in-tree (the page's IRSA snippet has no credentials block): the ObjectStore is just as invalid.
      const reason = before.message.split('\n')[1]?.replace(/^\s*[\w.]+: /, '') ?? before.message;
      await assert.rejects(load(migrated), (e: Error) => e.message.includes(reason), f);
      continue;
    }
    assert.deepEqual(settings(await load(migrated)), before, f);
  }
});

test('serverName moves to the plugin parameter; retentionPolicy to the ObjectStore; other backup settings stay', () => {
  const cluster = docsOf(path.join(fixtures, 'aws-s3-keys.yaml')).find((d) => d.kind === 'Cluster') as Json;
  cluster.metadata.namespace = 'prod';
  cluster.spec.backup.barmanObjectStore.serverName = 'old-name';
  cluster.spec.backup.retentionPolicy = '30d';
  cluster.spec.backup.target = 'primary';
  const { documents, notes } = migrateDocuments([cluster], { objectStoreName: 'prod-s3' });
  const [store, out] = documents as [Json, Json];
  assert.deepEqual(store.metadata, { name: 'prod-s3', namespace: 'prod' });
  assert.equal(store.spec.retentionPolicy, '30d');
  assert.deepEqual(out.spec.backup, { target: 'primary' });
  assert.deepEqual(out.spec.plugins[0].parameters, { barmanObjectName: 'prod-s3', serverName: 'old-name' });
  assert.ok(notes.some((n) => n.includes('serverName old-name')));
  assert.ok(notes.some((n) => n.includes('retentionPolicy 30d moved to ObjectStore prod-s3')));
  assert.equal(cluster.spec.backup.barmanObjectStore.serverName, 'old-name', 'the input is not modified');
});

test('external clusters: a plugin stanza with the in-tree default serverName (the external cluster name) written out', async () => {
  const text = `apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: restored}
spec:
  instances: 1
  storage: {size: 1Gi}
  bootstrap: {recovery: {source: origin}}
  backup:
    barmanObjectStore:
      destinationPath: s3://BUCKET_NAME/path/to/folder
      s3Credentials:
        accessKeyId: {name: aws-creds, key: ACCESS_KEY_ID}
        secretAccessKey: {name: aws-creds, key: ACCESS_SECRET_KEY}
  externalClusters:
  - name: origin
    barmanObjectStore:
      destinationPath: s3://BUCKET_NAME/path/to/folder
      s3Credentials:
        accessKeyId: {name: aws-creds, key: ACCESS_KEY_ID}
        secretAccessKey: {name: aws-creds, key: ACCESS_SECRET_KEY}
  - name: elsewhere
    connectionParameters: {host: pg.example}
---
apiVersion: postgresql.cnpg.io/v1
kind: ScheduledBackup
metadata: {name: nightly}
spec: {schedule: '0 0 0 * * *', cluster: {name: restored}}
---
apiVersion: postgresql.cnpg.io/v1
kind: ScheduledBackup
metadata: {name: snapshots}
spec: {schedule: '0 0 0 * * *', cluster: {name: restored}, method: volumeSnapshot}
`;
  const original = path.join(dir, 'external.yaml');
  fs.writeFileSync(original, text);
  const { documents } = migrateDocuments(docsOf(original));
  // Same destination and credentials: one ObjectStore serves both the archive and the recovery source.
  assert.deepEqual(documents.filter((d) => d.kind === 'ObjectStore').map((d) => (d as Json).metadata.name), ['restored-store']);
  const cluster = documents.find((d) => d.kind === 'Cluster') as Json;
  assert.deepEqual(cluster.spec.externalClusters[0], { name: 'origin', plugin: { name: 'barman-cloud.cloudnative-pg.io', parameters: { barmanObjectName: 'restored-store', serverName: 'origin' } } });
  assert.deepEqual(cluster.spec.externalClusters[1], { name: 'elsewhere', connectionParameters: { host: 'pg.example' } });
  const [nightly, snapshots] = documents.filter((d) => d.kind === 'ScheduledBackup') as [Json, Json];
  assert.deepEqual(nightly.spec, { schedule: '0 0 0 * * *', cluster: { name: 'restored' }, method: 'plugin', pluginConfiguration: { name: 'barman-cloud.cloudnative-pg.io' } });
  assert.equal(snapshots.spec.method, 'volumeSnapshot');
  const migrated = path.join(dir, 'external-migrated.yaml');
  fs.writeFileSync(migrated, documents.map((d) => JSON.stringify(d)).join('\n---\n'));
  assert.deepEqual(settings(await load(migrated, 'origin')), settings(await load(original, 'origin')));
});

test('the command prints YAML on stdout and the notes on stderr; refuses a Cluster already on the plugin', async () => {
  const out: string[] = [];
  const err: string[] = [];
  const io = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } };
  const code = await runCli('pgstow', ['config', 'migrate', path.join(fixtures, 'azure-sas-token.yaml')], { ...io, env: {} } as never);
  assert.equal(code, 0, err.join(''));
  const docs = parseAllDocuments(out.join('')).map((d) => d.toJS() as Json);
  assert.deepEqual(docs.map((d) => d.kind), ['ObjectStore', 'Cluster']);
  const refused = await runCli('pgstow', ['config', 'migrate', path.join(fixtures, 'plugin-object-store.yaml')], { ...io, env: {} } as never);
  assert.equal(refused, 3);
  assert.match(err.join(''), /no CloudNativePG Cluster using spec\.backup\.barmanObjectStore/);
});
