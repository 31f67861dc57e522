/**
 * A proxy in the environment reaches the Azure and GCS drivers as the proxy variables (from the command line's
 * environment and from the sidecar's, through the composed store options), and their lean stores keep working
 * behind it: the driver gives them agents that go through the proxy (test/drivers/azure-gcs-proxy.test.ts sends
 * real requests through one).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { settingsFromObjectStore } from '../../../../../src/config/settings-from-manifest.js';
import { storeOptionsFor } from '../../../../../src/app/compose.js';
import { createStore } from '../../../../../src/storage/drivers/azure-blob/index.js';
import { LeanAzureBlobStore } from '../../../../../src/storage/drivers/azure-blob/lean-store.js';
import { parseDestination } from '../../../../../src/storage/destination.js';
import { envStoreOptions } from '../../../../harness/store-options.js';
import type { BarmanObjectStoreConfiguration } from '../../../../../src/config/schema.js';

const KEY = Buffer.alloc(32, 7).toString('base64');
const URL = 'http://127.0.0.1:9/devstoreaccount1/wal';

test('the command line: the proxy variables reach the Azure and GCS options, and Azure keeps its lean store', async () => {
  const env = { AZURE_STORAGE_ACCOUNT: 'devstoreaccount1', AZURE_STORAGE_KEY: KEY };
  const plain = envStoreOptions({ provider: 'azure-blob-storage', destinationUrl: URL, env });
  const proxied = envStoreOptions({ provider: 'azure-blob-storage', destinationUrl: URL, env: { ...env, HTTPS_PROXY: 'http://proxy:3128', no_proxy: 'example.com' } });
  assert.equal(plain.proxy, undefined);
  assert.deepEqual(proxied.proxy, { https: 'http://proxy:3128', noProxy: 'example.com' });
  const gcs = envStoreOptions({ provider: 'google-cloud-storage', destinationUrl: 'gs://b/p', env: { STORAGE_EMULATOR_HOST: 'http://127.0.0.1:9', http_proxy: 'http://p:1' } });
  assert.deepEqual(gcs.proxy, { http: 'http://p:1' });
  const destination = parseDestination(URL, 'azure-blob-storage');
  for (const options of [plain, proxied]) {
    const store = await createStore(destination, options);
    try {
      assert.ok(store instanceof LeanAzureBlobStore, 'the lean store, with or without a proxy');
    } finally {
      await store.close();
    }
  }
});

test('a SOCKS proxy for the Azure endpoint is a configuration error naming the variable, not its value', async () => {
  const env = { AZURE_STORAGE_ACCOUNT: 'devstoreaccount1', AZURE_STORAGE_KEY: KEY, ALL_PROXY: 'socks5://u:socks-pass-1@127.0.0.1:1080' };
  const options = envStoreOptions({ provider: 'azure-blob-storage', destinationUrl: URL, env });
  await assert.rejects(createStore(parseDestination(URL, 'azure-blob-storage'), options), (err: Error) => {
    assert.match(err.message, /HTTP_PROXY.*socks5/);
    assert.ok(!err.message.includes('socks-pass-1'), err.message);
    return true;
  });
});

test('the sidecar: the ObjectStore settings carry the proxy variables of the process environment', () => {
  const configuration = {
    destinationPath: 'https://acct.blob.core.windows.net/wal',
    azureCredentials: { storageAccount: { name: 'c', key: 'account' }, storageKey: { name: 'c', key: 'key' } },
  } as BarmanObjectStoreConfiguration;
  const secret = (sel: { key: string }): string => (sel.key === 'account' ? 'acct' : KEY);
  const input = { configuration, serverName: 'pg', secret: secret as never };
  assert.equal(settingsFromObjectStore({ ...input, env: {} }).proxy, undefined);
  const settings = settingsFromObjectStore({ ...input, env: { https_proxy: 'http://proxy:3128' } });
  assert.deepEqual(settings.proxy, { https: 'http://proxy:3128' });
  assert.deepEqual(storeOptionsFor(settings, 'wal', undefined).proxy, { https: 'http://proxy:3128' });
});
