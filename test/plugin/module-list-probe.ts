/**
 * Loaded into a sidecar with `node --import` by sidecar-modules.test.ts: at exit, writes the built-in modules the
 * process loaded (process.moduleLoadList) to the file PGSTOW_TEST_MODULE_LIST names.
 */
import * as fs from 'node:fs';

const out = process.env.PGSTOW_TEST_MODULE_LIST;
if (out) {
  process.once('exit', () => {
    fs.writeFileSync(out, (process as unknown as { moduleLoadList: string[] }).moduleLoadList.join('\n'));
  });
}
