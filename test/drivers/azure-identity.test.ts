/**
 * Entra ID credentials end to end: @azure/identity gets a token from a loopback token server (managed
 * identity endpoint, or an OIDC authority for workload identity), and Azurite with OAuth over HTTPS accepts
 * the requests only because of that token. All settings reach the SDK through StoreOptions.env, not the
 * test process's environment.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { readAll } from '../../src/storage/object-store-helpers.js';
import { isCommonPrefix } from '../../src/storage/object-store.js';
import { requireServer, testEnv } from '../harness/test-env.js';
import { makeTempDir } from '../harness/tmp.js';
import { makeJwt, startTokenServer, type TokenServer } from '../harness/servers/azure-token-server.js';
import { openAzure, type OpenedAzure } from './azure-helpers.js';

/** Status of a raw GET with an optional bearer token, trusting the harness CA. */
function rawGet(url: string, token?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca: fs.readFileSync(testEnv().tls.caFile), headers: { 'x-ms-version': '2021-08-06', ...(token ? { authorization: `Bearer ${token}` } : {}) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

async function roundTrip(opened: OpenedAzure): Promise<void> {
  const { store, prefix } = opened;
  const body = randomBytes(3000);
  await store.put(`${prefix}wals/000000010000000000000001`, body);
  assert.deepEqual(await readAll(store, `${prefix}wals/000000010000000000000001`), body);
  const listed: string[] = [];
  for await (const e of store.list(`${prefix}wals/`)) if (!isCommonPrefix(e)) listed.push(e.key);
  assert.deepEqual(listed, [`${prefix}wals/000000010000000000000001`]);
  await store.delete([`${prefix}wals/000000010000000000000001`]);
  assert.equal(await store.exists(`${prefix}wals/000000010000000000000001`), false);
}

describe('azure-blob with Entra ID credentials (Azurite OAuth over HTTPS)', () => {
  let tokens: TokenServer;
  let caFile: string;
  before(async () => {
    caFile = testEnv().tls.caFile;
    tokens = await startTokenServer(testEnv().tls);
  });
  after(async () => { await tokens?.close(); });

  it('requests without a token or with a token Azurite refuses fail (the token is what authorises)', async (t) => {
    const az = requireServer(t, 'azuriteOauth'); if (!az) return;
    const url = `${az.accountUrl}/pgstow-test?restype=container&comp=list`;
    assert.notEqual(await rawGet(url), 200);
    assert.equal(await rawGet(url, makeJwt(tokens.tenantId, 'https://example.com', 'x')), 403);
    assert.equal(await rawGet(url, makeJwt(tokens.tenantId, 'https://storage.azure.com', 'x')), 200);
  });

  it('--credential managed-identity (system-assigned) gets its token from IDENTITY_ENDPOINT', async (t) => {
    const az = requireServer(t, 'azuriteOauth'); if (!az) return;
    const before = tokens.requests.length;
    const opened = await openAzure(az, { IDENTITY_ENDPOINT: `${tokens.url}/msi/token`, IDENTITY_HEADER: tokens.identityHeader },
      { azure: { credential: 'managed-identity' }, caFile });
    try { await roundTrip(opened); } finally { await opened.store.close(); }
    const mi = tokens.requests.slice(before).filter((r) => r.kind === 'managed-identity');
    assert.ok(mi.length >= 1, 'the managed identity endpoint was called');
    assert.equal(mi[0]?.params.resource, 'https://storage.azure.com');
    assert.equal(mi[0]?.params.client_id, undefined, 'system-assigned: no client_id');
    assert.equal(mi[0]?.headers['x-identity-header'], tokens.identityHeader);
    assert.ok(mi[0]?.token, 'a token was issued');
    assert.equal(await rawGet(`${az.accountUrl}/pgstow-test?restype=container&comp=list`, mi[0]?.token), 200, 'that token authorises requests');
  });

  it('--credential managed-identity with AZURE_CLIENT_ID asks for the user-assigned identity', async (t) => {
    const az = requireServer(t, 'azuriteOauth'); if (!az) return;
    const before = tokens.requests.length;
    const clientId = '11111111-2222-3333-4444-555555555555';
    const opened = await openAzure(az, { IDENTITY_ENDPOINT: `${tokens.url}/msi/token`, IDENTITY_HEADER: tokens.identityHeader, AZURE_CLIENT_ID: clientId },
      { azure: { credential: 'managed-identity' }, caFile });
    try { await roundTrip(opened); } finally { await opened.store.close(); }
    const mi = tokens.requests.slice(before).filter((r) => r.kind === 'managed-identity');
    assert.ok(mi.length >= 1);
    assert.equal(mi[0]?.params.client_id, clientId);
  });

  it('--credential azure-cli uses the token `az account get-access-token` prints', async (t) => {
    const az = requireServer(t, 'azuriteOauth'); if (!az) return;
    // A stand-in `az` on PATH: the credential runs the real command line and parses its JSON.
    const dir = makeTempDir('az-cli');
    const argsFile = path.join(dir, 'args');
    const token = makeJwt(tokens.tenantId, 'https://storage.azure.com', 'cli-user');
    const expires = Math.floor(Date.now() / 1000) + 3600;
    fs.writeFileSync(path.join(dir, 'az'), `#!/bin/sh\necho "$@" > '${argsFile}'\necho '{"accessToken":"${token}","expires_on":"${expires}","expiresOn":"2099-01-01 00:00:00.000000","tokenType":"Bearer"}'\n`, { mode: 0o755 });
    const savedPath = process.env.PATH;
    process.env.PATH = `${dir}:${savedPath ?? ''}`;
    try {
      const opened = await openAzure(az, { AZURE_TENANT_ID: tokens.tenantId }, { azure: { credential: 'azure-cli' }, caFile });
      try { await roundTrip(opened); } finally { await opened.store.close(); }
    } finally { process.env.PATH = savedPath; }
    const args = fs.readFileSync(argsFile, 'utf8');
    assert.match(args, /account get-access-token/);
    assert.match(args, /--resource https:\/\/storage\.azure\.com/);
    assert.match(args, new RegExp(`--tenant ${tokens.tenantId}`));
  });

  for (const explicit of [true, false]) {
    it(`${explicit ? '--credential default' : 'no secrets in the environment'}: DefaultAzureCredential uses workload identity (AZURE_FEDERATED_TOKEN_FILE)`, async (t) => {
      const az = requireServer(t, 'azuriteOauth'); if (!az) return;
      const dir = makeTempDir('az-wi');
      const tokenFile = path.join(dir, 'azure-identity-token');
      fs.writeFileSync(tokenFile, tokens.federatedToken);
      const clientId = explicit ? 'aaaaaaaa-0000-0000-0000-000000000001' : 'aaaaaaaa-0000-0000-0000-000000000002';
      const before = tokens.requests.length;
      const opened = await openAzure(az, {
        AZURE_TENANT_ID: tokens.tenantId, AZURE_CLIENT_ID: clientId, AZURE_FEDERATED_TOKEN_FILE: tokenFile, AZURE_AUTHORITY_HOST: tokens.url,
      }, { ...(explicit ? { azure: { credential: 'default' } } : {}), caFile });
      try { await roundTrip(opened); } finally { await opened.store.close(); }
      const exchanged = tokens.requests.slice(before).filter((r) => r.kind === 'client-assertion');
      assert.ok(exchanged.length >= 1, 'the federated token was exchanged at the authority');
      assert.equal(exchanged[0]?.params.client_assertion, tokens.federatedToken);
      assert.equal(exchanged[0]?.params.client_id, clientId);
      assert.equal(exchanged[0]?.params.scope, 'https://storage.azure.com/.default');
      assert.equal(exchanged[0]?.path, `/${tokens.tenantId}/oauth2/v2.0/token`);
    });
  }

  it('DefaultAzureCredential with a service principal (AZURE_CLIENT_SECRET) in the environment', async (t) => {
    const az = requireServer(t, 'azuriteOauth'); if (!az) return;
    const clientId = 'cccccccc-0000-0000-0000-000000000003';
    const before = tokens.requests.length;
    const opened = await openAzure(az, {
      AZURE_TENANT_ID: tokens.tenantId, AZURE_CLIENT_ID: clientId, AZURE_CLIENT_SECRET: tokens.clientSecret, AZURE_AUTHORITY_HOST: tokens.url,
    }, { caFile });
    try { await roundTrip(opened); } finally { await opened.store.close(); }
    const sp = tokens.requests.slice(before).filter((r) => r.kind === 'client-secret');
    assert.ok(sp.length >= 1, 'the client secret was presented at the authority');
    assert.equal(sp[0]?.params.client_id, clientId);
  });
});
