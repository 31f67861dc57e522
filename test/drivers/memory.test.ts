/** The memory driver passes the same conformance suite as every other driver; stores on one name share objects. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeObjectStoreConformance } from '../conformance/object-store.suite.js';
import { MemoryObjectStore, dropMemoryBucket } from '../../src/storage/drivers/memory/memory-store.js';
import { openStore } from '../../src/storage/registry.js';
import { readAll } from '../../src/storage/object-store-helpers.js';

describeObjectStoreConformance('memory', async () => ({
  store: new MemoryObjectStore('conformance'),
  prefix: 'conformance/',
  cleanup: async () => dropMemoryBucket('conformance'),
}), { contentMd5: true });

describe('memory:// through the registry', () => {
  it('memory://name[/prefix] opens the named bucket; two stores on one name see the same objects, another name none', async () => {
    const a = await openStore({ provider: 'memory', destinationUrl: 'memory://shared/p' });
    const b = await openStore({ provider: 'memory', destinationUrl: 'memory://shared' });
    const other = await openStore({ provider: 'memory', destinationUrl: 'memory://other' });
    assert.deepEqual(a.destination, { provider: 'memory', bucket: 'shared', prefix: 'p' });
    await a.store.put('p/x', Buffer.from('seen by both'));
    assert.equal((await readAll(b.store, 'p/x')).toString(), 'seen by both');
    assert.equal(await other.store.exists('p/x'), false);
    dropMemoryBucket('shared');
    assert.equal(await (await openStore({ provider: 'memory', destinationUrl: 'memory://shared' })).store.exists('p/x'), false);
  });
});
