/**
 * Entra ID failures a DBA must be able to read: a token the storage service refuses, and a token endpoint
 * that refuses the workload identity's federated token. Separate file (process) from azure-identity.test.ts
 * because MSAL caches managed-identity tokens process-wide.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidCredentialsError } from '../../src/storage/errors.js';
import { ExitCode } from '../../src/errors.js';
import { requireServer, testEnv } from '../harness/test-env.js';
import { makeTempDir } from '../harness/tmp.js';
import { startTokenServer, type TokenServer } from '../harness/servers/azure-token-server.js';
import { openAzure } from './azure-helpers.js';

describe('azure-blob Entra ID failures', () => {
  let tokens: TokenServer;
  before(async () => { tokens = await startTokenServer(testEnv().tls); });
  after(async () => { await tokens?.close(); });

  it('a managed-identity token with the wrong audience: InvalidCredentialsError naming the credential, exit 1', async (t) => {
    const az = requireServer(t, 'azuriteOauth'); if (!az) return;
    tokens.audience = 'https://management.azure.com';
    const { store, prefix } = await openAzure(az, { IDENTITY_ENDPOINT: `${tokens.url}/msi/token`, IDENTITY_HEADER: tokens.identityHeader },
      { azure: { credential: 'managed-identity' }, caFile: testEnv().tls.caFile });
    try {
      const err = await store.put(`${prefix}a`, Buffer.from('x')).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof InvalidCredentialsError, String(err));
      assert.equal(err.exitCode, ExitCode.OPERATION);
      assert.match(err.message, /Azure rejected the credential from managed identity \(--credential managed-identity\) \(403 AuthenticationFailed\) for put on pgstow-test\//);
      assert.ok(tokens.requests.some((r) => r.kind === 'managed-identity'), 'a token was obtained and then refused by the service');
    } finally { await store.close(); tokens.audience = 'https://storage.azure.com'; }
  });

  it('a federated token the authority refuses: InvalidCredentialsError naming DefaultAzureCredential', async (t) => {
    const az = requireServer(t, 'azuriteOauth'); if (!az) return;
    const tokenFile = path.join(makeTempDir('az-wi-bad'), 'token');
    fs.writeFileSync(tokenFile, 'not-the-federated-token');
    const { store, prefix } = await openAzure(az, {
      AZURE_TENANT_ID: tokens.tenantId, AZURE_CLIENT_ID: 'bbbbbbbb-0000-0000-0000-000000000001', AZURE_FEDERATED_TOKEN_FILE: tokenFile, AZURE_AUTHORITY_HOST: tokens.url,
    }, { azure: { credential: 'default' }, caFile: testEnv().tls.caFile });
    try {
      const err = await store.stat(`${prefix}a`).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof InvalidCredentialsError, String(err));
      assert.equal(err.exitCode, ExitCode.OPERATION);
      assert.match(err.message, /could not get an Entra ID token with DefaultAzureCredential \(--credential default\) for stat on pgstow-test\//);
      assert.ok(!err.message.includes('\n'), 'one line');
    } finally { await store.close(); }
  });
});
