import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { isCommonPrefix } from '../../src/storage/object-store.js';
import { describeObjectStoreConformance } from '../conformance/object-store.suite.js';
import { FsObjectStore } from '../../src/storage/drivers/fs/fs-store.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';

const dir = makeTempDir('fs-store');
describeObjectStoreConformance('fs', async () => ({
  store: new FsObjectStore(dir),
  prefix: 'conformance/',
  cleanup: async () => removeDir(dir),
}));

// The fs listing walks one directory at a time; a directory must sort as "name/" among its siblings, or keys
// such as "a-b" (0x2d) and "a0" (0x30) would come out on the wrong side of "a/x" (0x2f).
describe('fs listing order across directories', () => {
  const root = makeTempDir('fs-order');
  after(() => removeDir(root));

  it('yields keys in byte order when a directory name is a prefix of a sibling file', async () => {
    const store = new FsObjectStore(root);
    const keys = ['o/a0', 'o/a/x', 'o/a-b', 'o/a.c', 'o/a/y/z', 'o/b'];
    for (const k of keys) await store.put(k, Buffer.from(k));
    const seen: string[] = [];
    for await (const e of store.list('o/')) if (!isCommonPrefix(e)) seen.push(e.key);
    assert.deepEqual(seen, ['o/a-b', 'o/a.c', 'o/a/x', 'o/a/y/z', 'o/a0', 'o/b']);

    const delimited: string[] = [];
    for await (const e of store.list('o/', { delimiter: '/' })) delimited.push(isCommonPrefix(e) ? `P:${e.prefix}` : `K:${e.key}`);
    assert.deepEqual(delimited, ['K:o/a-b', 'K:o/a.c', 'P:o/a/', 'K:o/a0', 'K:o/b']);

    const resumed: string[] = [];
    for await (const e of store.list('o/', { startAfter: 'o/a/x' })) if (!isCommonPrefix(e)) resumed.push(e.key);
    assert.deepEqual(resumed, ['o/a/y/z', 'o/a0', 'o/b']);
    const skipped: string[] = [];
    for await (const e of store.list('o/', { startAfter: 'o/a/zz' })) if (!isCommonPrefix(e)) skipped.push(e.key);
    assert.deepEqual(skipped, ['o/a0', 'o/b']);
  });
});
