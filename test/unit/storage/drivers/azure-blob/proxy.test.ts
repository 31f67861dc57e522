/**
 * A proxy in the environment keeps Azure on the SDK store: the lean store connects directly, the Azure SDK honours
 * HTTPS_PROXY / HTTP_PROXY / ALL_PROXY. From the command line's environment and from the sidecar's, through the
 * composed store options to the driver's choice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { proxyConfigured } from '../../../../../src/config/settings-from-cli.js';
import { settingsFromObjectStore } from '../../../../../src/config/settings-from-manifest.js';
import { storeOptionsFor } from '../../../../../src/app/compose.js';
import { createStore } from '../../../../../src/storage/drivers/azure-blob/index.js';
import { LeanAzureBlobStore } from '../../../../../src/storage/drivers/azure-blob/lean-store.js';
import { parseDestination } from '../../../../../src/storage/destination.js';
import { envStoreOptions } from '../../../../harness/store-options.js';
import type { BarmanObjectStoreConfiguration } from '../../../../../src/config/schema.js';

const KEY = Buffer.alloc(32, 7).toString('base64');
const URL = 'http://127.0.0.1:9/devstoreaccount1/wal';

test('proxyConfigured: any of the variables the Azure SDK reads, either case, not blank', () => {
  assert.equal(proxyConfigured({}), false);
  assert.equal(proxyConfigured({ HTTPS_PROXY: ' ' }), false);
  assert.equal(proxyConfigured({ NO_PROXY: '*' }), false);
  for (const n of ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY', 'all_proxy']) {
    assert.equal(proxyConfigured({ [n]: 'http://proxy:3128' }), true, n);
  }
});

test('the command line: a proxy variable marks the Azure options, and the driver opens the SDK store', async () => {
  const env = { AZURE_STORAGE_ACCOUNT: 'devstoreaccount1', AZURE_STORAGE_KEY: KEY };
  const plain = envStoreOptions({ provider: 'azure-blob-storage', destinationUrl: URL, env });
  const proxied = envStoreOptions({ provider: 'azure-blob-storage', destinationUrl: URL, env: { ...env, HTTPS_PROXY: 'http://proxy:3128' } });
  assert.equal(plain.proxied, undefined);
  assert.equal(proxied.proxied, true);
  const destination = parseDestination(URL, 'azure-blob-storage');
  const lean = await createStore(destination, plain);
  const sdk = await createStore(destination, proxied);
  try {
    assert.ok(lean instanceof LeanAzureBlobStore, 'no proxy: the lean store');
    assert.ok(!(sdk instanceof LeanAzureBlobStore), 'a proxy: the SDK store, which honours it');
  } finally {
    await lean.close();
    await sdk.close();
  }
});

test('the sidecar: the ObjectStore settings carry the proxy of the process environment', () => {
  const configuration = {
    destinationPath: 'https://acct.blob.core.windows.net/wal',
    azureCredentials: { storageAccount: { name: 'c', key: 'account' }, storageKey: { name: 'c', key: 'key' } },
  } as BarmanObjectStoreConfiguration;
  const secret = (sel: { key: string }): string => (sel.key === 'account' ? 'acct' : KEY);
  const input = { configuration, serverName: 'pg', secret: secret as never };
  assert.equal(settingsFromObjectStore({ ...input, env: {} }).proxied, undefined);
  const settings = settingsFromObjectStore({ ...input, env: { https_proxy: 'http://proxy:3128' } });
  assert.equal(settings.proxied, true);
  assert.equal(storeOptionsFor(settings, 'wal', undefined).proxied, true);
});
