/**
 * GCS over HTTPS with a private CA (caFile, i.e. --endpoint-ca / endpointCA), added to the system roots:
 * simple uploads, resumable sessions and chunks, downloads. Its own file (own process): the SDK's keep-alive
 * agent is one per process, so the driver shares one trust array among its stores (the CAs of the stores open
 * now): a second store with another CA (a rotation, a second ObjectStore) works beside the first, and a CA no
 * open store has is not trusted. The untrusted case through the CLI is in test/integration/check-store-gcs.test.ts.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { rootCertificates } from 'node:tls';
import { makeTempDir, removeDir } from '../harness/tmp.js';
import { requireServer, testEnv } from '../harness/test-env.js';
import { startGcsEmulator } from '../harness/servers/gcs.js';
import { readAll } from '../../src/storage/object-store-helpers.js';
import { openGcs } from './gcs-helpers.js';

it('trusts the private CA given as caFile for every kind of request; a second CA works beside it; a CA no open store has is not trusted', async (t) => {
  if (!requireServer(t, 'gcs')) return;
  const tls = testEnv().tls;
  const secure = await startGcsEmulator({ tls: { certFile: tls.certFile, keyFile: tls.keyFile } });
  const dir = makeTempDir('gcs-tls');
  const env = { STORAGE_EMULATOR_HOST: secure.endpoint };
  try {
    assert.match(secure.endpoint, /^https:/);
    const store = await openGcs(env, { caFile: tls.caFile, gcs: { chunkSize: 1024 * 1024 } });
    const big = Buffer.alloc(3 * 1024 * 1024 + 5, 7);
    await store.put('tls/small', Buffer.from('over tls'));
    await store.put('tls/big', () => Readable.from([big])); // resumable session + 4 chunks
    assert.equal((await readAll(store, 'tls/small')).toString(), 'over tls');
    assert.deepEqual(await readAll(store, 'tls/big'), big);
    await store.delete(['tls/small', 'tls/big']);
    // A rotated bundle (another CA first, then the emulator's) in a second store, while the first is open.
    const rotated = path.join(dir, 'rotated.pem');
    fs.writeFileSync(rotated, `${rootCertificates[0]}\n${fs.readFileSync(tls.caFile, 'utf8')}`);
    const second = await openGcs(env, { caFile: rotated, gcs: { chunkSize: 1024 * 1024 } });
    await second.put('tls/second', () => Readable.from([big]));
    assert.deepEqual(await readAll(second, 'tls/second'), big);
    await second.delete(['tls/second']);
    await store.close();
    await second.close();
    // Both closed: a store whose CA did not sign the emulator's certificate cannot talk to it.
    const other = path.join(dir, 'other.pem');
    fs.writeFileSync(other, rootCertificates[0] as string);
    const untrusted = await openGcs(env, { caFile: other });
    await assert.rejects(untrusted.put('tls/x', Buffer.from('x')), (err: Error) => /certificate|TLS/i.test(err.message));
    await untrusted.close();
  } finally {
    await secure.stop();
    removeDir(dir);
  }
});
