/** `pgstow demo` (what `npm run demo` runs) completes on this machine: backup, WAL archive and PITR check. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { runCli } from '../harness/cli.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';

test('the quick-start demo restores to the restore point and cleans up', async (t) => {
  const dir = makeTempDir('demo');
  fs.chmodSync(dir, 0o755);
  t.after(() => removeDir(dir));
  const r = await runCli('pgstow', ['demo', '--dir', dir, '--rows', '3000'], { timeoutMs: 300_000 });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /data check passed: 3500 rows/);
  assert.match(r.stdout, /recovery_target_name = 'before-accident'/);
  assert.match(r.stdout, /demo finished/);
  assert.deepEqual(fs.readdirSync(dir), [], 'the demo removes its directory without --keep');
});
