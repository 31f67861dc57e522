/**
 * `import { withFaults } from 'pgstow/testing'`: what a host's tests need to exercise failure paths without a
 * server: the fault-injecting store decorator (pass it to openEngine's wrapStore) and memory:// buckets.
 */
export { withFaults, FaultInjector, FaultyObjectStore, type Fault, type FaultAction, type RecordedCall } from '../storage/decorators/faulty-store.js';
export { dropMemoryBucket } from '../storage/drivers/memory/memory-store.js';
export type { ObjectStore, ObjectInfo, PutBody, PutOptions, PutResult, GetOptions, ListOptions, CommonPrefix, StoreCapabilities } from '../storage/object-store.js';
