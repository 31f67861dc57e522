/**
 * `pgstow config check` as a user runs it: what it prints, exit codes, and that no secret value reaches
 * stdout, stderr (with -vv --debug), or the process command line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../../../harness/postgres.js';
import { runCli } from '../../../harness/cli.js';
import { makeTempDir } from '../../../harness/tmp.js';

const FIX = path.join(REPO_ROOT, 'test', 'fixtures', 'cnpg');
const SECRETS = path.join(FIX, 'secrets.yaml');
const runtime = makeTempDir('config-check');
const env = { PGSTOW_RUNTIME_DIR: runtime, HOME: runtime, KUBECONFIG: '' };

const SECRET_VALUES = (): string[] => [
  'AKIAFIXTURE00000001', 'fixture-aws-secret-key-never-printed-0001', 'fixture-aws-session-token-never-printed-0001',
  'LINODEFIXTURE0001', 'fixture-linode-secret-never-printed', 'Zml4dHVyZS1saW5vZGUtc2VjcmV0LW5ldmVyLXByaW50ZWQ=',
  'DOFIXTURE0001', 'fixture-do-secret-never-printed', 'MINIOFIXTURE0001', 'fixture-minio-secret-never-printed',
  'fixture-not-a-real-certificate', 'Zml4dHVyZS1henVyZS1hY2NvdW50LWtleQ==', 'AccountKey=Zml4',
  'Zml4dHVyZS1henVyZS1zdG9yYWdlLWtleS1uZXZlci1wcmludGVk', 'fixtureSasSignatureNeverPrinted', 'fixture-gcs-private-key-never-printed',
];

function assertClean(text: string): void {
  for (const s of SECRET_VALUES()) assert.ok(!text.includes(s), `secret ${s.slice(0, 8)}… leaked in:\n${text}`);
}

test('config check prints driver, credential method and why, with every secret as ***', async () => {
  const r = await runCli('pgstow', ['config', 'check', path.join(FIX, 'aws-s3-session-token.yaml'), '--secrets', SECRETS], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^driver:\s+aws-s3, because spec\.backup\.barmanObjectStore\.s3Credentials is set/m);
  assert.match(r.stdout, /^credentials:\s+s3-access-keys-session-token: /m);
  assert.match(r.stdout, /AWS_SECRET_ACCESS_KEY\s+\*\*\* \(Secret default\/aws-creds key ACCESS_SECRET_KEY from manifest/);
  assert.match(r.stdout, /^server name:\s+pg-backup \(default: the Cluster name \(metadata\.name\)\)/m);
  assertClean(r.stdout + r.stderr);
});

test('config check --format json: every fixture, no secret in the output', async () => {
  for (const f of fs.readdirSync(FIX).filter((x) => x.endsWith('.yaml') && x !== 'secrets.yaml')) {
    const r = await runCli('pgstow', ['config', 'check', '--format', 'json', '--secrets', SECRETS, '-vv', '--debug', path.join(FIX, f)], { env });
    assert.ok(r.code === 0 || r.code === 3, `${f}: exit ${r.code}: ${r.stderr}`);
    if (r.code === 0) assert.ok((JSON.parse(r.stdout) as { provider: string }).provider);
    assertClean(r.stdout + r.stderr);
  }
});

test('workload identity guidance: what the pod needs and whether this environment has it', async () => {
  const r = await runCli('pgstow', ['config', 'check', path.join(FIX, 'gcs-gke-environment.yaml')], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /ServiceAccount annotation iam\.gke\.io\/gcp-service-account: set in the manifest/);
  const token = path.join(runtime, 'wi-token');
  fs.writeFileSync(token, 'jwt');
  const az = await runCli('pgstow', ['config', 'check', path.join(FIX, 'azure-inherit-from-azure-ad.yaml')],
    { env: { ...env, AZURE_CLIENT_ID: '00000000-0000-0000-0000-000000000000', AZURE_TENANT_ID: 't', AZURE_FEDERATED_TOKEN_FILE: token } });
  assert.equal(az.code, 0, az.stderr);
  assert.match(az.stdout, /^workload identity:\s+this environment provides credentials through: Azure AD workload identity/m);
  assert.match(az.stdout, /ServiceAccount annotation azure\.workload\.identity\/client-id: NOT set/);
});

test('invalid manifests: every error at once, with field paths, exit 3', async () => {
  const dir = makeTempDir('config-invalid');
  const f = path.join(dir, 'bad.yaml');
  fs.writeFileSync(f, `apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: pg}
spec:
  backup:
    retentionPolicy: 30days
    barmanObjectStore:
      destinationPath: s3://b
      s3Credentials: {accessKeyId: {name: a, key: k}}
      azureCredentials: {storageKey: {name: a, key: k}}
      wal: {maxParallel: 0}
`);
  const r = await runCli('pgstow', ['config', 'check', f], { env });
  assert.equal(r.code, 3);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('  '));
  assert.deepEqual(lines.map((l) => l.trim().split(':')[0]).sort(), [
    'spec.backup.barmanObjectStore',
    'spec.backup.barmanObjectStore.azureCredentials',
    'spec.backup.barmanObjectStore.s3Credentials',
    'spec.backup.barmanObjectStore.wal.maxParallel',
    'spec.backup.retentionPolicy',
  ].sort());
  assert.match(r.stderr, /too many credentials/);
  assert.match(r.stderr, /storage account must be specified when using storage key or SAS token/);
  assert.match(r.stderr, /both accessKeyId and secretAccessKey must be provided/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace without --debug');
});

test('a YAML syntax error in a secrets file does not quote the secret line', async () => {
  const dir = makeTempDir('config-yaml');
  const f = path.join(dir, 'broken-secret.yaml');
  fs.writeFileSync(f, 'apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  KEY: "very-secret-unterminated-value\n');
  const r = await runCli('pgstow', ['config', 'check', path.join(FIX, 'aws-s3-keys.yaml'), '--secrets', f, '--debug'], { env });
  assert.equal(r.code, 3);
  assert.match(r.stderr, /broken-secret\.yaml \(document 1\): YAML syntax error at line \d+, column \d+/);
  assert.ok(!r.stderr.includes('very-secret-unterminated-value'));
});

test('missing secrets name the Secret, the key and where pgstow looked (exit 3)', async () => {
  const r = await runCli('pgstow', ['config', 'check', path.join(FIX, 'linode.yaml'), '--kubernetes-secrets', 'never'], { env });
  assert.equal(r.code, 3);
  assert.match(r.stderr, /spec\.backup\.barmanObjectStore\.s3Credentials\.accessKeyId: Secret "linode-creds" \(key "ACCESS_KEY_ID"\) not found in namespace default; looked in: Secret manifests in .*linode\.yaml/);
});

test('secrets are never on the command line: process argv and title hold file names only', async () => {
  const { loadConfig } = await import('../../../../src/config/load-config.js');
  const { secretValues } = await import('../../../../src/config/resolved-config.js');
  const c = await loadConfig({ configFile: path.join(FIX, 'azure-sas-token.yaml'), secretsFiles: [SECRETS], kubernetes: 'never', env });
  const values = secretValues(c);
  assert.ok(values.length > 0);
  for (const v of values) {
    assert.ok(!process.title.includes(v));
    assert.ok(!process.argv.join(' ').includes(v));
  }
});

test('barman-cloud-* drop-ins keep Barman\'s positionals even with --config', async () => {
  const r = await runCli('barman-cloud-wal-archive', ['--config', path.join(FIX, 'aws-s3-keys.yaml'), 'pg_wal/000000010000000000000001'], { env });
  assert.equal(r.code, 3);
  assert.match(r.stderr, /required/);
});
