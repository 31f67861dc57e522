/**
 * withRotation() over two real fs stores standing for two credential generations: an operation keeps the store
 * it started with (a download stream, a listing) after the switch, the next operation uses the new one, and
 * leases are released when the operation ends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FsObjectStore } from '../../../../src/storage/drivers/fs/fs-store.js';
import { withRotation } from '../../../../src/storage/decorators/rotating-store.js';
import type { ObjectStore } from '../../../../src/storage/object-store.js';
import { makeTempDir, removeDir } from '../../../harness/tmp.js';

async function drain(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

test('each operation keeps the store it started with; later operations use the rotated one', async (t) => {
  const dirs = [makeTempDir('rot-gen1'), makeTempDir('rot-gen2')];
  t.after(() => { for (const d of dirs) removeDir(d); });
  const gens: ObjectStore[] = dirs.map((d) => new FsObjectStore(d));
  const [gen1, gen2] = gens as [ObjectStore, ObjectStore];
  let current = gen1;
  const leases = new Map<ObjectStore, number>();
  let closed = false;
  const store = withRotation(gen1, {
    acquire: () => {
      const s = current;
      leases.set(s, (leases.get(s) ?? 0) + 1);
      return Promise.resolve({ store: s, release: () => { leases.set(s, (leases.get(s) ?? 0) - 1); return Promise.resolve(); } });
    },
    close: () => { closed = true; return Promise.resolve(); },
  });

  await store.put('a', new TextEncoder().encode('one'));
  await gen1.put('b', new TextEncoder().encode('x'.repeat(1 << 20)));
  await gen1.put('c', new TextEncoder().encode('c'));
  const download = await store.get('b');
  const listing = store.list('')[Symbol.asyncIterator]();
  const first = await listing.next();
  assert.equal(leases.get(gen1), 2, 'the download and the listing hold generation 1');

  current = gen2;
  await store.put('a', new TextEncoder().encode('two'));
  assert.equal((await drain(await gen2.get('a'))).toString(), 'two', 'the put after the switch went to generation 2');
  assert.equal((await drain(await gen1.get('a'))).toString(), 'one', 'generation 1 is untouched');

  // Operations started before the switch finish on generation 1.
  assert.equal((await drain(download)).length, 1 << 20);
  const rest = [first.value, ...(await (async () => { const out = []; for (let r = await listing.next(); !r.done; r = await listing.next()) out.push(r.value); return out; })())];
  assert.deepEqual(rest.map((e) => ('key' in e ? e.key : e.prefix)), ['a', 'b', 'c']);
  await new Promise((r) => setImmediate(r));
  assert.equal(leases.get(gen1), 0, 'leases on generation 1 are released when the operations end');
  assert.equal(leases.get(gen2), 0);

  await store.close();
  assert.ok(closed);
});
