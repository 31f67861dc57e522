/**
 * DefaultAzureCredential falling through to managed identity (no service principal, no workload identity),
 * end to end on Azurite OAuth. Own file (process): MSAL caches managed-identity tokens process-wide.
 */
import { it, after } from 'node:test';
import assert from 'node:assert/strict';
import { readAll } from '../../src/storage/object-store-helpers.js';
import { requireServer, testEnv } from '../harness/test-env.js';
import { startTokenServer, type TokenServer } from '../harness/servers/azure-token-server.js';
import { openAzure } from './azure-helpers.js';

let tokens: TokenServer | undefined;
after(async () => { await tokens?.close(); });

it('--credential default on a host with a managed identity endpoint uses it', async (t) => {
  const az = requireServer(t, 'azuriteOauth'); if (!az) return;
  tokens = await startTokenServer(testEnv().tls);
  const { store, prefix } = await openAzure(az, { IDENTITY_ENDPOINT: `${tokens.url}/msi/token`, IDENTITY_HEADER: tokens.identityHeader },
    { azure: { credential: 'default' }, caFile: testEnv().tls.caFile });
  try {
    await store.put(`${prefix}base/backup.info`, Buffer.from('status=DONE\n'));
    assert.equal((await readAll(store, `${prefix}base/backup.info`)).toString(), 'status=DONE\n');
    await store.delete([`${prefix}base/backup.info`]);
  } finally { await store.close(); }
  const mi = tokens.requests.filter((r) => r.kind === 'managed-identity');
  assert.ok(mi.length >= 1 && mi[0]?.token, 'the token came from the managed identity endpoint');
  assert.equal(mi[0]?.params.resource, 'https://storage.azure.com');
});
