/** Opens Azure stores on Azurite the way commands do (registry → driver), on a fresh prefix. */
import { openStoreFromEnv, type EnvStoreDescription } from '../harness/store-options.js';
import type { ObjectStore } from '../../src/storage/object-store.js';

import type { AzuriteInfo } from '../harness/test-env.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';

export interface OpenedAzure { store: ObjectStore; prefix: string; options: EnvStoreDescription }

export async function openAzure(info: AzuriteInfo, env: Record<string, string | undefined>, extra: Partial<EnvStoreDescription> & { container?: string } = {}): Promise<OpenedAzure> {
  const prefix = uniquePrefix('az');
  const { container = TEST_BUCKET, ...rest } = extra;
  const options: EnvStoreDescription = { provider: 'azure-blob-storage', destinationUrl: `${info.accountUrl}/${container}/${prefix}`, env, ...rest };
  const { store, destination } = await openStoreFromEnv(options);
  return { store, prefix: `${destination.prefix}/`, options };
}

/** A container SAS (racwdl) signed with the account key. */
export async function containerSas(info: AzuriteInfo, container: string): Promise<string> {
  const { ContainerSASPermissions, StorageSharedKeyCredential, generateBlobSASQueryParameters } = await import('@azure/storage-blob');
  return generateBlobSASQueryParameters({
    containerName: container, permissions: ContainerSASPermissions.parse('racwdl'),
    startsOn: new Date(Date.now() - 5 * 60_000), expiresOn: new Date(Date.now() + 3600_000),
  }, new StorageSharedKeyCredential(info.account, info.accountKey)).toString();
}
