/**
 * Every example manifest of CloudNativePG's object stores page (test/fixtures/cnpg/) loads, validates (or fails
 * with CNPG's own complaint where the page's example breaks CNPG's rules) and resolves to the right driver settings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { REPO_ROOT } from '../../harness/postgres.js';
import { makeTempDir } from '../../harness/tmp.js';
import { loadConfig } from '../../../src/config/load-config.js';
import { secretValues, type ResolvedConfig } from '../../../src/config/resolved-config.js';
import { manifestView } from '../../harness/store-options.js';
import { ConfigValidationError } from '../../../src/config/validate.js';
import { parseDestination } from '../../../src/storage/destination.js';

const DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'cnpg');
const SECRETS = path.join(DIR, 'secrets.yaml');
const runtime = makeTempDir('cnpg-fixtures');
const env = { PGSTOW_RUNTIME_DIR: runtime, HOME: runtime };

async function load(name: string, extra: Record<string, string | undefined> = {}): Promise<ResolvedConfig> {
  return loadConfig({ configFile: path.join(DIR, name), secretsFiles: [SECRETS], kubernetes: 'never', env: { ...env, ...extra } });
}

const FIXTURE_SECRET_VALUES = [
  'AKIAFIXTURE00000001', 'fixture-aws-secret-key-never-printed-0001', 'fixture-aws-session-token-never-printed-0001',
  'fixture-linode-secret-never-printed', 'fixture-do-secret-never-printed', 'fixture-minio-secret-never-printed',
  'Zml4dHVyZS1henVyZS1zdG9yYWdlLWtleS1uZXZlci1wcmludGVk', 'fixtureSasSignatureNeverPrinted', 'fixture-gcs-private-key-never-printed',
];

function assertNoSecrets(text: string): void {
  for (const s of FIXTURE_SECRET_VALUES) assert.ok(!text.includes(s), `secret ${s.slice(0, 6)}… leaked`);
}

test('AWS S3 access keys', async () => {
  const c = await load('aws-s3-keys.yaml');
  assert.equal(c.provider, 'aws-s3');
  assert.equal(c.credentials.method, 's3-access-keys');
  assert.equal(c.serverName, 'pg-backup');
  const o = await manifestView(c, { AWS_ACCESS_KEY_ID: 'from-shell', AWS_PROFILE: 'dev' });
  assert.equal(o.destinationUrl, 's3://BUCKET_NAME/path/to/folder');
  assert.equal(o.env.AWS_ACCESS_KEY_ID, 'AKIAFIXTURE00000001');
  assert.equal(o.env.AWS_SECRET_ACCESS_KEY, 'fixture-aws-secret-key-never-printed-0001');
  assert.equal(o.env.AWS_SESSION_TOKEN, undefined);
  assert.equal(o.env.AWS_PROFILE, undefined, 'keys from the manifest are not mixed with a shell profile');
  assert.equal(o.endpointUrl, undefined);
  assert.deepEqual(parseDestination(o.destinationUrl, o.provider), { provider: 'aws-s3', bucket: 'BUCKET_NAME', prefix: 'path/to/folder' });
  assertNoSecrets(JSON.stringify(c) + inspect(c, { depth: 10 }) + String(c.secrets[0]?.value));
});

test('AWS S3 with session token', async () => {
  const c = await load('aws-s3-session-token.yaml');
  assert.equal(c.credentials.method, 's3-access-keys-session-token');
  assert.equal((await manifestView(c, {})).env.AWS_SESSION_TOKEN, 'fixture-aws-session-token-never-printed-0001');
});

test('AWS IRSA: inheritFromIAMRole with the ServiceAccount annotation; guidance names AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE', async () => {
  const c = await load('aws-irsa.yaml');
  assert.equal(c.credentials.method, 's3-iam-role');
  assert.deepEqual(c.credentials.env, {});
  const wi = c.workloadIdentity;
  assert.ok(wi);
  assert.deepEqual(wi.serviceAccountAnnotation, { name: 'eks.amazonaws.com/role-arn', inManifest: true, value: 'arn:aws:iam::111122223333:role/pg-backup-role' });
  assert.equal(wi.environments.some((e) => e.satisfied), false);
  const token = path.join(runtime, 'token');
  fs.writeFileSync(token, 'jwt');
  const inPod = await load('aws-irsa.yaml', { AWS_ROLE_ARN: 'arn:aws:iam::111122223333:role/pg-backup-role', AWS_WEB_IDENTITY_TOKEN_FILE: token });
  assert.match(inPod.workloadIdentity?.summary ?? '', /IRSA/);
  // The IAM role takes the pod's identity from its environment (IRSA: the role and the projected token).
  assert.equal((await manifestView(inPod, { AWS_ROLE_ARN: 'r', AWS_WEB_IDENTITY_TOKEN_FILE: token })).env.AWS_ROLE_ARN, 'r');
});

test('the page\'s IRSA snippet alone (no s3Credentials) fails as CNPG fails it', async () => {
  await assert.rejects(load('aws-irsa-page-snippet.yaml'), (err: unknown) => {
    assert.ok(err instanceof ConfigValidationError);
    assert.equal(err.exitCode, 3);
    assert.deepEqual(err.errors.map((e) => e.path), ['spec.backup.barmanObjectStore']);
    assert.match(err.message, /missing credentials\. One and only one of azureCredentials, s3Credentials and googleCredentials are required/);
    return true;
  });
});

test('Linode and DigitalOcean Spaces: endpointURL, path-style destination, base64 data', async () => {
  const l = await load('linode.yaml');
  const lo = await manifestView(l, {});
  assert.equal(lo.endpointUrl, 'https://us-east1.linodeobjects.com');
  assert.equal(lo.env.AWS_ACCESS_KEY_ID, 'LINODEFIXTURE0001');
  assert.equal(lo.env.AWS_SECRET_ACCESS_KEY, 'fixture-linode-secret-never-printed');
  assert.deepEqual(parseDestination(lo.destinationUrl, 'aws-s3'), { provider: 'aws-s3', bucket: 'bucket', prefix: '' });
  const d = await load('digitalocean-spaces.yaml');
  const dop = await manifestView(d, {});
  assert.equal(dop.endpointUrl, 'https://sfo3.digitaloceanspaces.com');
  assert.deepEqual(parseDestination(dop.destinationUrl, 'aws-s3'), { provider: 'aws-s3', bucket: 'your-bucket-name', prefix: 'your-backup-folder' });
});

test('private CA: endpointCA reaches the driver, in memory only (never copied to disk)', async () => {
  const c = await load('private-ca.yaml');
  const o = await manifestView(c, {});
  assert.ok(o.ca);
  assert.match(o.ca, /fixture-not-a-real-certificate/);
  assert.deepEqual(filesHolding(runtime, 'fixture-not-a-real-certificate'), [], 'no copy of the CA on disk');
  assert.equal(o.endpointUrl, 'https://minio.example.internal:9000');
});

/** Files below `dir` whose content includes `text`. */
function filesHolding(dir: string, text: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).map((f) => path.join(dir, f))
    .filter((f) => fs.statSync(f).isFile() && fs.readFileSync(f, 'utf8').includes(text));
}

test('Azure: the page\'s example (connection string plus the other keys) fails with CNPG\'s complaint', async () => {
  await assert.rejects(load('azure-page-example.yaml'), /azureCredentials: when connection string is specified, the other parameters must be empty/);
});

test('Azure: connection string, key, SAS, inheritFromAzureAD, useDefaultAzureCredentials, emulator URL', async () => {
  const cs = await manifestView(await load('azure-connection-string.yaml'), { AZURE_STORAGE_KEY: 'from-shell' });
  assert.equal(cs.provider, 'azure-blob-storage');
  assert.match(cs.env.AZURE_STORAGE_CONNECTION_STRING ?? '', /^DefaultEndpointsProtocol=https;AccountName=fixtureaccount;/);
  assert.equal(cs.env.AZURE_STORAGE_KEY, undefined, 'no shell key mixed with a connection string');

  const key = await manifestView(await load('azure-storage-key.yaml'), {});
  assert.equal(key.env.AZURE_STORAGE_ACCOUNT, 'fixtureaccount');
  assert.equal(key.env.AZURE_STORAGE_KEY, 'Zml4dHVyZS1henVyZS1zdG9yYWdlLWtleS1uZXZlci1wcmludGVk');

  const sas = await manifestView(await load('azure-sas-token.yaml'), {});
  assert.match(sas.env.AZURE_STORAGE_SAS_TOKEN ?? '', /sig=fixtureSasSignatureNeverPrinted/);

  const ad = await load('azure-inherit-from-azure-ad.yaml');
  assert.equal(ad.credentials.method, 'azure-ad-managed-identity');
  assert.equal((await manifestView(ad, {})).azure.credential, 'managed-identity');
  assert.equal(ad.workloadIdentity?.serviceAccountAnnotation?.name, 'azure.workload.identity/client-id');

  const def = await load('azure-default-credentials.yaml');
  assert.equal((await manifestView(def, {})).azure.credential, 'default');
  const withSp = await load('azure-default-credentials.yaml', { AZURE_CLIENT_ID: 'id', AZURE_TENANT_ID: 't', AZURE_CLIENT_SECRET: 's' });
  assert.match(withSp.workloadIdentity?.summary ?? '', /service principal/);

  const emu = await load('azure-emulator.yaml');
  const eo = await manifestView(emu, {});
  assert.deepEqual(parseDestination(eo.destinationUrl, eo.provider), {
    provider: 'azure-blob-storage', bucket: 'container', prefix: 'path', azureAccount: 'fixtureaccount',
    azureAccountUrl: 'http://azurite.example:10000/fixtureaccount', azureEmulated: true,
  });
});

test('GCS: applicationCredentials reaches the driver as the key itself (never a file); gkeEnvironment needs the annotation', async () => {
  const c = await load('gcs-application-credentials.yaml');
  assert.equal(c.credentials.method, 'gcs-application-credentials');
  const o = await manifestView(c, {});
  const json = o.env.GOOGLE_APPLICATION_CREDENTIALS_JSON ?? '{}';
  assert.equal((JSON.parse(json) as { client_email: string }).client_email, 'fixture@fixture-project.iam.gserviceaccount.com');
  assert.deepEqual(filesHolding(runtime, 'fixture-gcs-private-key-never-printed'), [], 'no copy of the key on disk');
  assert.ok(secretValues(c).some((v) => v.includes('fixture-gcs-private-key-never-printed')));

  const gke = await load('gcs-gke-environment.yaml');
  assert.equal(gke.credentials.method, 'gke-workload-identity');
  const gkeView = await manifestView(gke, {});
  assert.equal(gkeView.env.GOOGLE_APPLICATION_CREDENTIALS, undefined);
  assert.equal(gkeView.env.GOOGLE_APPLICATION_CREDENTIALS_JSON, undefined);
  assert.deepEqual(gke.workloadIdentity?.serviceAccountAnnotation, { name: 'iam.gke.io/gcp-service-account', inManifest: true, value: 'pg-backup@PROJECT_ID.iam.gserviceaccount.com' });
});

test('MinIO gateway: the Cluster among a Deployment and a Service', async () => {
  const c = await load('minio-gateway.yaml');
  assert.equal(c.serverName, 'cluster-example');
  assert.equal(c.endpointURL, 'http://minio-gateway-service:9000');
  assert.equal(c.wal.compression, 'gzip');
  assert.equal((await manifestView(c, {})).env.AWS_ACCESS_KEY_ID, 'MINIOFIXTURE0001');
});

test('plugin ObjectStore referenced by a Cluster: serverName defaults to the Cluster, sidecar env applied, wal/data exposed', async () => {
  const c = await load('plugin-object-store.yaml');
  assert.equal(c.source.kind, 'ObjectStore');
  assert.equal(c.serverName, 'cluster-example');
  assert.deepEqual(c.retentionPolicy, { text: '30d', count: 30, unit: 'DAYS', barman: 'RECOVERY WINDOW OF 30 DAYS', days: 30 });
  assert.deepEqual({ ...c.wal }, { maxParallel: 4, compression: 'gzip', archiveAdditionalCommandArgs: [], restoreAdditionalCommandArgs: [] });
  assert.equal(c.data.jobs, 4);
  assert.equal((await manifestView(c, {})).env.AWS_REQUEST_CHECKSUM_CALCULATION, 'when_required');
});

test('every fixture is covered and secrets never show in JSON or inspect output', async () => {
  const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'secrets.yaml');
  assert.equal(files.length, 18);
  for (const f of files) {
    try {
      const c = await load(f);
      assertNoSecrets(JSON.stringify(c) + inspect(c, { depth: 20 }) + `${String(c.credentials.env.AWS_SECRET_ACCESS_KEY)}`);
    } catch (err) {
      assert.ok(err instanceof ConfigValidationError, `${f}: ${String(err)}`);
      assertNoSecrets((err as Error).message);
    }
  }
});
