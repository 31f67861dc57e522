/** Memory driver entry point (loaded by the registry): memory://name. */
import type { ObjectStore } from '../../object-store.js';
import type { Destination, StoreOptions } from '../../store-options.js';
import { MemoryObjectStore } from './memory-store.js';

export async function createStore(destination: Destination, _options: StoreOptions): Promise<ObjectStore> {
  return new MemoryObjectStore(destination.bucket);
}
