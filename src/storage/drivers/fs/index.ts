/** Filesystem driver entry point (loaded by the registry). */
import type { ObjectStore } from '../../object-store.js';
import type { Destination, StoreOptions } from '../../store-options.js';
import { FsObjectStore } from './fs-store.js';

export async function createStore(destination: Destination, _options: StoreOptions): Promise<ObjectStore> {
  return new FsObjectStore(destination.bucket);
}
