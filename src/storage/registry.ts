/**
 * Provider → driver factory. The only module that names every driver; each is imported dynamically so an
 * archive_command for S3 never loads the Azure or Google SDK (start-up time is on PostgreSQL's hot path).
 * Every drivers/<name>/index.ts exports `createStore(destination, options): Promise<ObjectStore>`.
 */
import type { ObjectStore } from './object-store.js';
import type { CloudProvider, Destination, StoreOptions } from './store-options.js';
import { inferProvider, parseDestination } from './destination.js';

export interface OpenedStore {
  store: ObjectStore;
  destination: Destination;
}

type DriverModule = {
  createStore(destination: Destination, options: StoreOptions): Promise<ObjectStore>;
  /** True when the driver reads options.live per request (credentials and CA rotate without reopening). */
  liveSettings?: boolean;
};

const DRIVERS: Record<CloudProvider, () => Promise<DriverModule>> = {
  'file': () => import('./drivers/fs/index.js'),
  'aws-s3': () => import('./drivers/s3/index.js'),
  'azure-blob-storage': () => import('./drivers/azure-blob/index.js'),
  'google-cloud-storage': () => import('./drivers/gcs/index.js'),
  'memory': () => import('./drivers/memory/index.js'),
};

export async function openStore(options: StoreOptions): Promise<OpenedStore> {
  const destination = parseDestination(options.destinationUrl, options.provider);
  const driver = await DRIVERS[options.provider]();
  const store = await driver.createStore(destination, options);
  return { store, destination };
}

/** Whether the provider's driver applies StoreOptions.live per request (else rotation reopens the store). */
export async function supportsLiveSettings(provider: CloudProvider): Promise<boolean> {
  return (await DRIVERS[provider]()).liveSettings === true;
}

export { inferProvider, parseDestination };
