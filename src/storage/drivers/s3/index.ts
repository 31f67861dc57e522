/** S3 driver entry point (loaded lazily by the registry). Not built yet: see the storage issues. */
import type { ObjectStore } from '../../object-store.js';
import type { Destination, StoreOptions } from '../../store-options.js';
import { NotImplementedError } from '../../../errors.js';

export async function createStore(_destination: Destination, _options: StoreOptions): Promise<ObjectStore> {
  throw new NotImplementedError('the S3 storage driver');
}
