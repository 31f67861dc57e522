/**
 * GCS over HTTPS with a private CA (caFile, i.e. --endpoint-ca / endpointCA), added to the system roots:
 * simple uploads, resumable sessions and chunks, downloads. Its own file (own process): the SDK's keep-alive
 * agent, and so the trusted CAs, are per process. The untrusted case runs through the CLI in
 * test/integration/check-store-gcs.test.ts.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { requireServer, testEnv } from '../harness/test-env.js';
import { startGcsEmulator } from '../harness/servers/gcs.js';
import { ConfigError } from '../../src/errors.js';
import { readAll } from '../../src/storage/object-store-helpers.js';
import { openGcs } from './gcs-helpers.js';

it('trusts the private CA given as caFile for every kind of request; another CA in the same process is refused', async (t) => {
  if (!requireServer(t, 'gcs')) return;
  const tls = testEnv().tls;
  const secure = await startGcsEmulator({ tls: { certFile: tls.certFile, keyFile: tls.keyFile } });
  try {
    assert.match(secure.endpoint, /^https:/);
    const store = await openGcs({ STORAGE_EMULATOR_HOST: secure.endpoint }, { caFile: tls.caFile, gcs: { chunkSize: 1024 * 1024 } });
    const big = Buffer.alloc(3 * 1024 * 1024 + 5, 7);
    await store.put('tls/small', Buffer.from('over tls'));
    await store.put('tls/big', () => Readable.from([big])); // resumable session + 4 chunks
    assert.equal((await readAll(store, 'tls/small')).toString(), 'over tls');
    assert.deepEqual(await readAll(store, 'tls/big'), big);
    await store.delete(['tls/small', 'tls/big']);
    await store.close();
    await assert.rejects(openGcs({ STORAGE_EMULATOR_HOST: secure.endpoint }), ConfigError);
  } finally {
    await secure.stop();
  }
});
