/**
 * Loaded into a sidecar with `node --import` by sidecar-modules.test.ts: at exit, writes the built-in modules the
 * process loaded (process.moduleLoadList) to the file PGSTOW_TEST_MODULE_LIST names, and the CommonJS files it
 * required (the bundled AWS SDK among them, when loaded) to that name with `.cjs` appended.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';

const out = process.env.PGSTOW_TEST_MODULE_LIST;
if (out) {
  process.once('exit', () => {
    fs.writeFileSync(out, (process as unknown as { moduleLoadList: string[] }).moduleLoadList.join('\n'));
    fs.writeFileSync(`${out}.cjs`, Object.keys(createRequire(import.meta.url).cache).join('\n'));
  });
}
