/**
 * `pgstow check-store` on Azure through the real CLI: every credential method a user can configure, and the
 * misconfigurations a DBA meets, with the exit code and the reason in words. Secrets never printed.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { runCli, type CliResult } from '../harness/cli.js';
import { requireServer, testEnv } from '../harness/test-env.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';
import { makeTempDir } from '../harness/tmp.js';
import { createContainer } from '../harness/servers/azurite.js';
import { startTokenServer, type TokenServer } from '../harness/servers/azure-token-server.js';
import { containerSas } from '../drivers/azure-helpers.js';

const AZ = ['--cloud-provider', 'azure-blob-storage'];
/** No Azure settings leak in from the environment running the tests. */
const CLEAN: Record<string, undefined> = {
  AZURE_STORAGE_CONNECTION_STRING: undefined, AZURE_STORAGE_KEY: undefined, AZURE_STORAGE_SAS_TOKEN: undefined,
  AZURE_CLIENT_ID: undefined, AZURE_TENANT_ID: undefined, AZURE_CLIENT_SECRET: undefined, AZURE_FEDERATED_TOKEN_FILE: undefined,
  AZURE_AUTHORITY_HOST: undefined, IDENTITY_ENDPOINT: undefined, IDENTITY_HEADER: undefined, MSI_ENDPOINT: undefined, REQUESTS_CA_BUNDLE: undefined,
};

function line(r: CliResult, step: string): string {
  return r.stdout.split('\n').find((l) => l.trimStart().startsWith(`${step} `)) ?? '';
}
function assertClean(r: CliResult, ...secrets: string[]): void {
  for (const s of secrets) assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s), 'secret printed');
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}
async function check(url: string, env: Record<string, string | undefined>, extra: string[] = []): Promise<CliResult> {
  return runCli('pgstow', ['check-store', ...AZ, ...extra, url, 'pg1'], { env: { ...CLEAN, ...env } });
}
function allOk(r: CliResult): void {
  assert.equal(r.code, 0, r.stdout + r.stderr);
  for (const step of ['list', 'put', 'get', 'delete']) assert.match(line(r, step), /\bOK\b/, step);
}

describe('pgstow check-store on Azure', () => {
  let tokens: TokenServer;
  before(async () => { tokens = await startTokenServer(testEnv().tls); });
  after(async () => { await tokens?.close(); });

  it('connection string, account key, SAS token: every step OK, exit 0, secrets never printed', async (t) => {
    const az = requireServer(t, 'azurite'); if (!az) return;
    const url = `${az.accountUrl}/${TEST_BUCKET}/${uniquePrefix('cs')}`;
    const cs = await check(url, { AZURE_STORAGE_CONNECTION_STRING: az.connectionString });
    allOk(cs);
    assert.match(cs.stdout, /credential: AZURE_STORAGE_CONNECTION_STRING/);
    assertClean(cs, az.accountKey);
    const key = await check(url, { AZURE_STORAGE_KEY: az.accountKey });
    allOk(key);
    assertClean(key, az.accountKey);
    const sas = await containerSas(az, TEST_BUCKET);
    const viaSas = await check(url, { AZURE_STORAGE_SAS_TOKEN: sas });
    allOk(viaSas);
    assertClean(viaSas, sas, new URLSearchParams(sas).get('sig') ?? sas);
  });

  it('wrong key: FAILED with the credential source named, exit 1, key never printed', async (t) => {
    const az = requireServer(t, 'azurite'); if (!az) return;
    const wrong = randomBytes(64).toString('base64');
    const r = await check(`${az.accountUrl}/${TEST_BUCKET}/${uniquePrefix('cs')}`, { AZURE_STORAGE_KEY: wrong });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(line(r, 'list'), /FAILED .*AZURE_STORAGE_KEY for account devstoreaccount1/);
    assertClean(r, wrong);
  });

  it('SAS for another container: permission denied on put, exit 1', async (t) => {
    const az = requireServer(t, 'azurite'); if (!az) return;
    await createContainer(az, 'other-container');
    const sas = await containerSas(az, 'other-container');
    const r = await check(`${az.accountUrl}/${TEST_BUCKET}/${uniquePrefix('cs')}`, { AZURE_STORAGE_SAS_TOKEN: sas });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /FAILED\s+permission denied/);
    assertClean(r, new URLSearchParams(sas).get('sig') ?? sas);
  });

  it('missing container: says so, exit 1', async (t) => {
    const az = requireServer(t, 'azurite'); if (!az) return;
    const r = await check(`${az.accountUrl}/no-such-container/x`, { AZURE_STORAGE_CONNECTION_STRING: az.connectionString });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(line(r, 'list'), /FAILED\s+bucket or container missing: container "no-such-container" does not exist/);
  });

  it('HTTPS with a private CA: TLS problem naming the endpoint (exit 2); OK with REQUESTS_CA_BUNDLE or --endpoint-ca', async (t) => {
    const az = requireServer(t, 'azuriteTls'); if (!az) return;
    const url = `${az.accountUrl}/${TEST_BUCKET}/${uniquePrefix('cs-tls')}`;
    const r = await check(url, { AZURE_STORAGE_KEY: az.accountKey });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(line(r, 'list'), new RegExp(`FAILED\\s+TLS problem: TLS failure talking to ${az.accountUrl.replace(/\./g, '\\.')}`));
    allOk(await check(url, { AZURE_STORAGE_KEY: az.accountKey, REQUESTS_CA_BUNDLE: testEnv().tls.caFile }));
    allOk(await check(url, { AZURE_STORAGE_KEY: az.accountKey }, ['--endpoint-ca', testEnv().tls.caFile]));
  });

  it('--credential managed-identity and --credential default (workload identity) through the CLI', async (t) => {
    const az = requireServer(t, 'azuriteOauth'); if (!az) return;
    const url = `${az.accountUrl}/${TEST_BUCKET}/${uniquePrefix('cs-id')}`;
    const ca = { REQUESTS_CA_BUNDLE: testEnv().tls.caFile };
    const mi = await check(url, { ...ca, IDENTITY_ENDPOINT: `${tokens.url}/msi/token`, IDENTITY_HEADER: tokens.identityHeader }, ['--credential', 'managed-identity']);
    allOk(mi);
    assert.match(mi.stdout, /credential: managed identity \(--credential managed-identity\)/);
    const tokenFile = path.join(makeTempDir('cs-wi'), 'token');
    fs.writeFileSync(tokenFile, tokens.federatedToken);
    const wi = await check(url, { ...ca, AZURE_TENANT_ID: tokens.tenantId, AZURE_CLIENT_ID: 'dddddddd-0000-0000-0000-000000000004', AZURE_FEDERATED_TOKEN_FILE: tokenFile, AZURE_AUTHORITY_HOST: tokens.url }, ['--azure-credential', 'default']);
    allOk(wi);
    assert.ok(tokens.requests.some((r) => r.kind === 'client-assertion' && r.params.client_id === 'dddddddd-0000-0000-0000-000000000004'));
    // No usable credential at all on an OAuth-only path: a refused federated token is reported, exit 1.
    fs.writeFileSync(tokenFile, 'stale');
    const bad = await check(url, { ...ca, AZURE_TENANT_ID: tokens.tenantId, AZURE_CLIENT_ID: 'dddddddd-0000-0000-0000-000000000005', AZURE_FEDERATED_TOKEN_FILE: tokenFile, AZURE_AUTHORITY_HOST: tokens.url }, ['--credential', 'default']);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.match(line(bad, 'list'), /FAILED\s+credentials rejected: could not get an Entra ID token with DefaultAzureCredential/);
  });
});
