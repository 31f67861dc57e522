/**
 * The CNPG page's example manifests that the test servers can serve, run end to end: each fixture is used as
 * written except that its destinationPath (and endpointURL, where it has one) point at the test server and its
 * Secrets hold the server's credentials (mounted as Kubernetes mounts them). `pgstow wal-archive --config` archives
 * a WAL, then the WAL is listed through the same manifest. A user would only change those same lines.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../harness/postgres.js';
import { runCli } from '../harness/cli.js';
import { requireServer, testEnv } from '../harness/test-env.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';
import { makeTempDir } from '../harness/tmp.js';
import { syntheticSegment } from '../harness/wal-segments.js';
import { startGcsEmulator } from '../harness/servers/gcs.js';
import { startTokenServer } from '../harness/servers/azure-token-server.js';
import { containerSas } from '../drivers/azure-helpers.js';
import { loadConfig } from '../../src/config/load-config.js';
import { storeOptionsFromConfig } from '../harness/store-options.js';
import { openStore } from '../../src/storage/registry.js';
import { isCommonPrefix } from '../../src/storage/object-store.js';

const FIX = path.join(REPO_ROOT, 'test', 'fixtures', 'cnpg');
const WAL = '000000010000000000000001';

interface Case {
  fixture: string;
  destination: string;
  endpoint?: string;
  /** secret name → key → value */
  secrets: Record<string, Record<string, string>>;
  env?: Record<string, string>;
  args?: string[];
}

/** Copies a fixture, pointing destinationPath/endpointURL at the test server. */
function materialize(c: Case, dir: string): string {
  let text = fs.readFileSync(path.join(FIX, c.fixture), 'utf8');
  text = text.replace(/^(\s+destinationPath:).*$/m, `$1 "${c.destination}"`);
  if (c.endpoint) text = text.replace(/^(\s+endpointURL:).*$/m, `$1 "${c.endpoint}"`);
  const file = path.join(dir, c.fixture);
  fs.writeFileSync(file, text);
  return file;
}

function mount(dir: string, secrets: Case['secrets']): string {
  const root = path.join(dir, 'secrets');
  for (const [name, keys] of Object.entries(secrets)) {
    fs.mkdirSync(path.join(root, name), { recursive: true });
    for (const [k, v] of Object.entries(keys)) fs.writeFileSync(path.join(root, name, k), v);
  }
  return root;
}

async function archiveAndList(t: TestContext, c: Case): Promise<void> {
  const dir = makeTempDir(`e2e-${c.fixture}`);
  const config = materialize(c, dir);
  const secretsDir = mount(dir, c.secrets);
  const walDir = path.join(dir, 'pg_wal');
  fs.mkdirSync(walDir);
  const content = syntheticSegment(WAL, { seed: 3 });
  fs.writeFileSync(path.join(walDir, WAL), content);
  const env = { PGSTOW_RUNTIME_DIR: path.join(dir, 'run'), HOME: dir, KUBECONFIG: '', ...c.env };
  const r = await runCli('pgstow', ['wal-archive', '--config', config, '--secrets-dir', secretsDir, ...(c.args ?? []), path.join(walDir, WAL)], { env });
  assert.equal(r.code, 0, `${c.fixture}: ${r.stderr}`);
  for (const keys of Object.values(c.secrets)) for (const v of Object.values(keys)) if (v.length >= 8) assert.ok(!r.stderr.includes(v), 'secret in the log');

  const resolved = await loadConfig({ configFile: config, secretsDir, kubernetes: 'never', env });
  const options = await storeOptionsFromConfig(resolved, env);
  for (let i = 0; i + 1 < (c.args ?? []).length; i++) if (c.args?.[i] === '--endpoint-url') options.endpointUrl = c.args[i + 1] as string;
  const { store, destination } = await openStore(options);
  try {
    const base = [destination.prefix, resolved.serverName, 'wals', WAL.slice(0, 16)].filter(Boolean).join('/') + '/';
    const keys: string[] = [];
    for await (const e of store.list(base)) if (!isCommonPrefix(e)) keys.push(e.key.slice(base.length));
    assert.equal(keys.length, 1, `${c.fixture}: listed ${keys.join(', ')}`);
    assert.match(keys[0] ?? '', new RegExp(`^${WAL}(\\.gz)?$`));
    if (c.fixture === 'minio-gateway.yaml') assert.equal(keys[0], `${WAL}.gz`, 'wal.compression: gzip from the manifest');
  } finally {
    await store.close();
  }
}

describe('CNPG page fixtures, end to end', () => {
  const s3keys = (id: string, secret: string, names = { name: 'aws-creds', id: 'ACCESS_KEY_ID', secret: 'ACCESS_SECRET_KEY' }): Case['secrets'] =>
    ({ [names.name]: { [names.id]: id, [names.secret]: secret } });

  for (const fixture of ['aws-s3-keys.yaml', 'linode.yaml', 'digitalocean-spaces.yaml', 'minio-gateway.yaml']) {
    it(`${fixture} on moto`, async (t) => {
      const moto = requireServer(t, 'moto');
      if (!moto) return;
      const names = fixture === 'linode.yaml' ? { name: 'linode-creds', id: 'ACCESS_KEY_ID', secret: 'ACCESS_SECRET_KEY' }
        : fixture === 'digitalocean-spaces.yaml' ? { name: 'digitalocean-creds', id: 'ACCESS_KEY_ID', secret: 'ACCESS_SECRET_KEY' }
          : fixture === 'minio-gateway.yaml' ? { name: 'minio-creds', id: 'MINIO_ACCESS_KEY', secret: 'MINIO_SECRET_KEY' } : undefined;
      const hasEndpoint = fixture !== 'aws-s3-keys.yaml';
      await archiveAndList(t, {
        fixture, destination: `s3://${TEST_BUCKET}/${uniquePrefix(fixture)}/`,
        ...(hasEndpoint ? { endpoint: moto.endpoint } : { args: ['--endpoint-url', moto.endpoint] }),
        secrets: s3keys(moto.accessKeyId, moto.secretAccessKey, names),
        env: { AWS_DEFAULT_REGION: moto.region },
      });
    });
  }

  it('plugin-object-store.yaml (ObjectStore + Cluster) on moto', async (t) => {
    const moto = requireServer(t, 'moto');
    if (!moto) return;
    await archiveAndList(t, {
      fixture: 'plugin-object-store.yaml', destination: `s3://${TEST_BUCKET}/${uniquePrefix('plugin')}/`, endpoint: moto.endpoint,
      secrets: s3keys(moto.accessKeyId, moto.secretAccessKey, { name: 'minio-creds', id: 'MINIO_ACCESS_KEY', secret: 'MINIO_SECRET_KEY' }),
    });
  });

  it('aws-irsa.yaml on moto: inheritFromIAMRole with the IRSA environment (web identity through moto STS)', async (t) => {
    const moto = requireServer(t, 'moto');
    if (!moto?.extra?.roleArn) return;
    const dir = makeTempDir('irsa-token');
    const token = path.join(dir, 'token');
    fs.writeFileSync(token, 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDpwZ3N0b3cifQ.c2ln');
    await archiveAndList(t, {
      fixture: 'aws-irsa.yaml', destination: `s3://${TEST_BUCKET}/${uniquePrefix('irsa')}/`, args: ['--endpoint-url', moto.endpoint], secrets: {},
      env: { AWS_ROLE_ARN: moto.extra.roleArn, AWS_WEB_IDENTITY_TOKEN_FILE: token, AWS_ENDPOINT_URL_STS: moto.extra.stsEndpoint ?? moto.endpoint, AWS_REGION: moto.region },
    });
  });

  it('private-ca.yaml on s3rver over HTTPS: endpointCA from the Secret is trusted', async (t) => {
    const s3 = requireServer(t, 's3rverTls');
    if (!s3) return;
    await archiveAndList(t, {
      fixture: 'private-ca.yaml', destination: `s3://${TEST_BUCKET}/${uniquePrefix('private-ca')}/`, endpoint: s3.endpoint,
      secrets: {
        'minio-creds': { MINIO_ACCESS_KEY: s3.accessKeyId, MINIO_SECRET_KEY: s3.secretAccessKey },
        'minio-ca': { 'ca.crt': fs.readFileSync(testEnv().tls.caFile, 'utf8') },
      },
      env: { AWS_DEFAULT_REGION: s3.region },
    });
  });

  for (const fixture of ['azure-connection-string.yaml', 'azure-emulator.yaml', 'azure-storage-key.yaml']) {
    it(`${fixture} on Azurite`, async (t) => {
      const az = requireServer(t, 'azurite');
      if (!az) return;
      await archiveAndList(t, {
        fixture, destination: `${az.accountUrl}/${TEST_BUCKET}/${uniquePrefix(fixture)}`,
        secrets: { 'azure-creds': { AZURE_CONNECTION_STRING: az.connectionString, AZURE_STORAGE_ACCOUNT: az.account, AZURE_STORAGE_KEY: az.accountKey } },
      });
    });
  }

  it('azure-sas-token.yaml on Azurite', async (t) => {
    const az = requireServer(t, 'azurite');
    if (!az) return;
    await archiveAndList(t, {
      fixture: 'azure-sas-token.yaml', destination: `${az.accountUrl}/${TEST_BUCKET}/${uniquePrefix('sas')}`,
      secrets: { 'azure-creds': { AZURE_STORAGE_ACCOUNT: az.account, AZURE_STORAGE_SAS_TOKEN: await containerSas(az, TEST_BUCKET) } },
    });
  });

  it('azure-inherit-from-azure-ad.yaml and azure-default-credentials.yaml on Azurite with OAuth (managed / workload identity)', async (t) => {
    const az = requireServer(t, 'azuriteOauth');
    if (!az) return;
    const tokens = await startTokenServer(testEnv().tls);
    try {
      const ca = { REQUESTS_CA_BUNDLE: testEnv().tls.caFile };
      await archiveAndList(t, {
        fixture: 'azure-inherit-from-azure-ad.yaml', destination: `${az.accountUrl}/${TEST_BUCKET}/${uniquePrefix('mi')}`, secrets: {},
        env: { ...ca, IDENTITY_ENDPOINT: `${tokens.url}/msi/token`, IDENTITY_HEADER: tokens.identityHeader },
      });
      const tokenFile = path.join(makeTempDir('wi-token'), 'token');
      fs.writeFileSync(tokenFile, tokens.federatedToken);
      await archiveAndList(t, {
        fixture: 'azure-default-credentials.yaml', destination: `${az.accountUrl}/${TEST_BUCKET}/${uniquePrefix('wi')}`, secrets: {},
        env: { ...ca, AZURE_TENANT_ID: tokens.tenantId, AZURE_CLIENT_ID: 'dddddddd-0000-0000-0000-000000000004', AZURE_FEDERATED_TOKEN_FILE: tokenFile, AZURE_AUTHORITY_HOST: tokens.url },
      });
      assert.ok(tokens.requests.some((r) => r.kind === 'client-assertion'), 'workload identity token exchange happened');
    } finally {
      await tokens.close();
    }
  });

  it('gcs-application-credentials.yaml and gcs-gke-environment.yaml on a GCS emulator that requires tokens', async (t) => {
    if (!requireServer(t, 'gcs')) return;
    const dir = makeTempDir('gcs-e2e');
    const token = 'pgstow-e2e-token';
    const keyFile = path.join(dir, 'sa.json');
    const em = await startGcsEmulator({ requireToken: token, saKeyFile: keyFile });
    try {
      // A real key (the emulator's token endpoint verifies the JWT signed with it), as kubectl would store it.
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const key = JSON.stringify({
        type: 'service_account', project_id: 'pgstow-test', private_key_id: 'e2e',
        private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        client_email: 'pg-backup@pgstow-test.iam.gserviceaccount.com', client_id: '1', token_uri: `${em.endpoint}/oauth2/token`,
      });
      fs.writeFileSync(keyFile, key);
      await archiveAndList(t, {
        fixture: 'gcs-application-credentials.yaml', destination: `gs://${TEST_BUCKET}/${uniquePrefix('gcs-key')}`,
        args: ['--endpoint-url', em.endpoint], secrets: { 'backup-creds': { gcsCredentials: key } },
      });
      // gkeEnvironment: Application Default Credentials from the metadata server (GKE Workload Identity).
      await archiveAndList(t, {
        fixture: 'gcs-gke-environment.yaml', destination: `gs://${TEST_BUCKET}/${uniquePrefix('gke')}`,
        args: ['--endpoint-url', em.endpoint], secrets: {}, env: { GCE_METADATA_HOST: em.metadataHost },
      });
    } finally {
      await em.stop();
    }
  });
});
