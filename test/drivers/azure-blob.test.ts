/** The ObjectStore conformance suite on Azurite with each secret-based credential, and over HTTPS. */
import { describeObjectStoreConformance } from '../conformance/object-store.suite.js';
import { requireServer, testEnv } from '../harness/test-env.js';
import { TEST_BUCKET } from '../harness/stores.js';
import { containerSas, openAzure } from './azure-helpers.js';

describeObjectStoreConformance('azure-blob, connection string', async () => {
  const az = requireServer(undefined, 'azurite');
  if (!az) return undefined;
  return openAzure(az, { AZURE_STORAGE_CONNECTION_STRING: az.connectionString });
}, { contentMd5: true });

describeObjectStoreConformance('azure-blob, account + AZURE_STORAGE_KEY', async () => {
  const az = requireServer(undefined, 'azurite');
  if (!az) return undefined;
  return openAzure(az, { AZURE_STORAGE_KEY: az.accountKey });
}, { skipLarge: true, contentMd5: true });

describeObjectStoreConformance('azure-blob, AZURE_STORAGE_SAS_TOKEN (container SAS)', async () => {
  const az = requireServer(undefined, 'azurite');
  if (!az) return undefined;
  return openAzure(az, { AZURE_STORAGE_SAS_TOKEN: await containerSas(az, TEST_BUCKET) });
}, { skipLarge: true, contentMd5: true });

describeObjectStoreConformance('azure-blob over HTTPS with a private CA (endpointCA)', async () => {
  const az = requireServer(undefined, 'azuriteTls');
  if (!az) return undefined;
  return openAzure(az, { AZURE_STORAGE_KEY: az.accountKey }, { caFile: testEnv().tls.caFile });
}, { contentMd5: true });

// The SDK store alone (what Entra ID credentials get, and the lean store's fallback): its blocks go through the
// same loop as the lean store's (multipart-upload.ts), so the large-object cases run on it too.
describeObjectStoreConformance('azure-blob, the SDK store (as for Entra ID credentials) with the account key', async () => {
  const az = requireServer(undefined, 'azurite');
  if (!az) return undefined;
  const { storeOptionsFromEnv } = await import('../harness/store-options.js');
  const { parseDestination } = await import('../../src/storage/destination.js');
  const { createSdkStore } = await import('../../src/storage/drivers/azure-blob/index.js');
  const opened = await openAzure(az, { AZURE_STORAGE_KEY: az.accountKey });
  await opened.store.close();
  const options = await storeOptionsFromEnv(opened.options);
  return { ...opened, store: await createSdkStore(parseDestination(options.destinationUrl, options.provider), options) };
}, { contentMd5: true });
