/**
 * Every GCS authentication method, proven end to end against an emulator that refuses requests without the
 * right bearer token:
 *  - a service-account JSON key (GOOGLE_APPLICATION_CREDENTIALS): the SDK signs a JWT with the key, the
 *    key's token_uri endpoint verifies the signature and issues the token, the emulator sees that token;
 *  - Application Default Credentials through the metadata server (GKE workload identity, gkeEnvironment):
 *    GCE_METADATA_HOST points at a loopback metadata server that issues the token;
 *  - wrong keys, wrong tokens, read-only tokens, missing or empty key files give the typed errors.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeObjectStoreConformance } from '../conformance/object-store.suite.js';
import { requireServer } from '../harness/test-env.js';
import { startGcsEmulator, type GcsEmulator } from '../harness/servers/gcs.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';
import { ConfigError, ExitCode } from '../../src/errors.js';
import { AccessDeniedError, InvalidCredentialsError } from '../../src/storage/errors.js';
import { readAll } from '../../src/storage/object-store-helpers.js';
import { openGcs, writeServiceAccountKey } from './gcs-helpers.js';

const TOKEN = 'pgstow-test-access-token';
const READONLY_TOKEN = 'pgstow-readonly-token';

let emulator: GcsEmulator | undefined;
let dir = '';
let keyFile = '';

async function setup(): Promise<GcsEmulator | undefined> {
  // The global gcs family must be available (fails in CI, skips loudly elsewhere); this file runs its own instance.
  if (!requireServer(undefined, 'gcs')) return undefined;
  if (emulator) return emulator;
  dir = makeTempDir('gcs-auth');
  // The key's token_uri is filled once the port is known; the emulator re-reads the key on each token request.
  keyFile = path.join(dir, 'sa.json');
  emulator = await startGcsEmulator({ requireToken: TOKEN, readonlyToken: READONLY_TOKEN, saKeyFile: keyFile });
  fs.renameSync(writeServiceAccountKey(dir, 'pgstow-sa', `${emulator.endpoint}/oauth2/token`), keyFile);
  return emulator;
}

after(async () => {
  await emulator?.stop();
  if (dir) removeDir(dir);
});

describeObjectStoreConformance('gcs with a service-account key (token exchange at the key\'s token_uri)', async () => {
  const em = await setup();
  if (!em) return undefined;
  const store = await openGcs({ GOOGLE_APPLICATION_CREDENTIALS: keyFile }, { endpointUrl: em.endpoint });
  assert.equal(store.capabilities.conditionalCreate, true, 'ifGenerationMatch=0 is enforced by GCS and by this emulator');
  return { store, prefix: 'conformance/' };
});

describe('gcs authentication', () => {
  before(async () => { await setup(); });

  it('GKE workload identity: ADC through the metadata server (GCE_METADATA_HOST), no key file', async (t) => {
    if (!emulator) { t.skip('gcs not available'); return; }
    const store = await openGcs({ GCE_METADATA_HOST: emulator.metadataHost }, { endpointUrl: emulator.endpoint });
    await store.put('wi/obj', Buffer.from('through the metadata server'));
    assert.equal((await readAll(store, 'wi/obj')).toString(), 'through the metadata server');
    await store.delete(['wi/obj']);
    await store.close();
  });

  it('a metadata server issuing a token the store refuses → InvalidCredentialsError (exit 1)', async (t) => {
    if (!emulator) { t.skip('gcs not available'); return; }
    const other = await startGcsEmulator({ requireToken: TOKEN, metadataToken: 'some-other-token' });
    try {
      const store = await openGcs({ GCE_METADATA_HOST: other.metadataHost }, { endpointUrl: emulator.endpoint });
      const err = await store.put('wi/refused', Buffer.from('x')).catch((e: unknown) => e);
      assert.ok(err instanceof InvalidCredentialsError, String(err));
      assert.equal(err.exitCode, ExitCode.OPERATION);
      assert.match(err.message, /Application Default Credentials/);
      assert.ok(!err.message.includes('some-other-token'), 'the token is never printed');
    } finally {
      await other.stop();
    }
  });

  it('a key the token endpoint rejects (wrong private key) → InvalidCredentialsError naming the key file', async (t) => {
    if (!emulator) { t.skip('gcs not available'); return; }
    // Same client_email, different private key: the JWT signature does not verify.
    const wrong = writeServiceAccountKey(dir, 'pgstow-sa', `${emulator.endpoint}/oauth2/token`);
    const forged = path.join(dir, 'forged.json');
    fs.renameSync(wrong, forged);
    const store = await openGcs({ GOOGLE_APPLICATION_CREDENTIALS: forged }, { endpointUrl: emulator.endpoint });
    const err = await store.put('sa/refused', Buffer.from('x')).catch((e: unknown) => e);
    assert.ok(err instanceof InvalidCredentialsError, String(err));
    assert.equal(err.exitCode, ExitCode.OPERATION);
    assert.match(err.message, /forged\.json/);
    assert.ok(!err.message.includes('PRIVATE KEY'), 'key material is never printed');
  });

  it('no credentials against a store that requires them → InvalidCredentialsError (exit 1)', async (t) => {
    if (!emulator) { t.skip('gcs not available'); return; }
    const store = await openGcs({ STORAGE_EMULATOR_HOST: emulator.endpoint });
    const err = await store.put('anon/refused', Buffer.from('x')).catch((e: unknown) => e);
    assert.ok(err instanceof InvalidCredentialsError, String(err));
    assert.match(err.message, /STORAGE_EMULATOR_HOST/);
  });

  it('a token without write permission → AccessDeniedError naming the operation and key', async (t) => {
    if (!emulator) { t.skip('gcs not available'); return; }
    const ro = await startGcsEmulator({ requireToken: TOKEN, metadataToken: READONLY_TOKEN });
    try {
      const store = await openGcs({ GCE_METADATA_HOST: ro.metadataHost }, { endpointUrl: emulator.endpoint, prefix: 'ro' });
      const err = await store.put('ro/000000010000000000000001', Buffer.from('x')).catch((e: unknown) => e);
      assert.ok(err instanceof AccessDeniedError, String(err));
      assert.equal(err.exitCode, ExitCode.OPERATION);
      assert.match(err.message, /put on gs:\/\/pgstow-test\/ro\/000000010000000000000001/);
      assert.equal(await store.exists('ro/000000010000000000000001'), false, 'reads are allowed');
    } finally {
      await ro.stop();
    }
  });

  it('a missing or empty key file is a ConfigError (exit 3) naming the file, before any request', async () => {
    const missing = path.join(dir || makeTempDir('gcs-auth-missing'), 'nope.json');
    const e1 = await openGcs({ GOOGLE_APPLICATION_CREDENTIALS: missing }).catch((e: unknown) => e);
    assert.ok(e1 instanceof ConfigError, String(e1));
    assert.equal(e1.exitCode, ExitCode.USAGE);
    assert.match(e1.message, /GOOGLE_APPLICATION_CREDENTIALS: .*nope\.json does not exist/);

    const empty = path.join(path.dirname(missing), 'empty.json');
    fs.writeFileSync(empty, '');
    const e2 = await openGcs({ GOOGLE_APPLICATION_CREDENTIALS: empty }).catch((e: unknown) => e);
    assert.ok(e2 instanceof ConfigError, String(e2));
    assert.match(e2.message, /empty\.json is empty.*gkeEnvironment/);

    const garbage = path.join(path.dirname(missing), 'garbage.json');
    fs.writeFileSync(garbage, '-----BEGIN PRIVATE KEY----- not json');
    const e3 = await openGcs({ GOOGLE_APPLICATION_CREDENTIALS: garbage }).catch((e: unknown) => e);
    assert.ok(e3 instanceof ConfigError, String(e3));
    assert.match(e3.message, /garbage\.json is not valid JSON/);
    assert.ok(!e3.message.includes('PRIVATE KEY'));
  });
});
