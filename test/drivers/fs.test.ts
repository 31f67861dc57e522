import { describeObjectStoreConformance } from '../conformance/object-store.suite.js';
import { FsObjectStore } from '../../src/storage/drivers/fs/fs-store.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';

const dir = makeTempDir('fs-store');
describeObjectStoreConformance('fs', async () => ({
  store: new FsObjectStore(dir),
  prefix: 'conformance/',
  cleanup: async () => removeDir(dir),
}));
