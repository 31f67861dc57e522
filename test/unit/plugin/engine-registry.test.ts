/**
 * The plugin's engine registry re-reads the ObjectStore and its Secrets without making a call wait for it under
 * steady calls (a background re-read once the settings are 60 % of refreshMs old), and still makes the call wait,
 * and fail with the cause, once they are refreshMs old and the re-read fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineRegistry } from '../../../src/plugin/instance/engine-registry.js';
import { createJsonLogger, SecretRegistry } from '../../../src/plugin/json-logger.js';
import { ConfigError } from '../../../src/errors.js';
import type { KubeApi } from '../../../src/plugin/kube/kube-api.js';
import type { SecretSource } from '../../../src/config/secrets.js';

const REF = { objectStoreName: 'store', serverName: 'pg', origin: 'test' };

function objectStore(endpoint: string): Record<string, unknown> {
  return {
    apiVersion: 'barmancloud.cnpg.io/v1', kind: 'ObjectStore', metadata: { name: 'store', namespace: 'default' },
    spec: { configuration: { destinationPath: 's3://bucket/x', endpointURL: endpoint,
      s3Credentials: { accessKeyId: { name: 'creds', key: 'ID' }, secretAccessKey: { name: 'creds', key: 'KEY' } } } },
  };
}

/** A Kubernetes API whose ObjectStore reads can be held, counted and made to fail. */
function fakeKube() {
  const state = { reads: 0, hold: undefined as Promise<void> | undefined, endpoint: 'http://127.0.0.1:1', missing: false };
  const secrets: SecretSource = {
    description: 'test secrets',
    async lookup(_ns, name, key) {
      return name === 'creds' ? { found: true, value: `${key}-value`, origin: `creds/${key}` } : { found: false, secretExists: false, looked: 'test' };
    },
  };
  const kube = {
    async getObjectStore(): Promise<Record<string, unknown>> {
      state.reads++;
      await state.hold;
      if (state.missing) throw new ConfigError('ObjectStore default/store not found');
      return objectStore(state.endpoint);
    },
    secrets: () => secrets,
  } as unknown as KubeApi;
  return { kube, state };
}

test('a call never waits for a re-read before refreshMs; at refreshMs it waits and gets the re-read\'s error', async () => {
  const { kube, state } = fakeKube();
  let clock = 0;
  const registry = new EngineRegistry({ kube, env: {}, log: createJsonLogger({ stream: { write: () => true } as never, level: 'error' }), secrets: new SecretRegistry(), refreshMs: 1000, now: () => clock });
  try {
    const first = await registry.acquire('default', REF);
    first.release();
    assert.equal(state.reads, 1);
    clock = 500; // young: no re-read at all
    (await registry.acquire('default', REF)).release();
    assert.equal(state.reads, 1);
    // 70 % of refreshMs: the re-read starts in the background and is held; the call goes on with the engine it has.
    let release!: () => void;
    state.hold = new Promise((r) => { release = r; });
    clock = 700;
    const during = await registry.acquire('default', REF);
    assert.equal(state.reads, 2, 'a background re-read started');
    assert.equal(during.engine, first.engine, 'the current engine serves the call while the re-read runs');
    during.release();
    // Another call meanwhile shares the re-read instead of starting one more.
    (await registry.acquire('default', REF)).release();
    assert.equal(state.reads, 2);
    // The ObjectStore changed: once the background re-read is done, new calls get the new engine, without waiting.
    state.endpoint = 'http://127.0.0.1:2';
    release();
    state.hold = undefined;
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 50));
    const after = await registry.acquire('default', REF);
    assert.notEqual(after.engine, first.engine, 'the re-read\'s engine serves the next call');
    after.release();
    // A background re-read that fails for the configuration changes nothing; at refreshMs the call waits and fails.
    state.missing = true;
    clock = 700 + 700;
    (await registry.acquire('default', REF)).release();
    await new Promise((r) => setTimeout(r, 50));
    clock = 700 + 1000;
    await assert.rejects(registry.acquire('default', REF), /ObjectStore default\/store not found/);
  } finally {
    await registry.close();
  }
});
