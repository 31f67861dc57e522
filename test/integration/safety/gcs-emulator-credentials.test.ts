/**
 * Defect 8: CloudNativePG always sets GOOGLE_APPLICATION_CREDENTIALS; with STORAGE_EMULATOR_HOST set, Barman's client
 * goes anonymous and never reads the file. pgstow must do the same: neither an empty placeholder file (was exit 3)
 * nor a real-format key whose token endpoint is unreachable (was exit 2) may stop it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli } from '../../harness/cli.js';
import { storeTarget } from '../../harness/stores.js';
import { makeTempDir } from '../../harness/tmp.js';
import { writeServiceAccountKey } from '../../drivers/gcs-helpers.js';

describe('GCS behind STORAGE_EMULATOR_HOST ignores GOOGLE_APPLICATION_CREDENTIALS, as Barman', () => {
  const dir = makeTempDir('gcs-emulator-creds');
  const empty = path.join(dir, 'empty.json');
  fs.writeFileSync(empty, '');
  // A key whose token_uri nobody listens on: any attempt to use it would fail with a network error.
  const key = writeServiceAccountKey(dir, 'cnpg-sa', 'http://127.0.0.1:9/token');
  const missing = path.join(dir, 'not-there.json');

  for (const [label, file] of [['an empty placeholder file', empty], ['a real-format key', key], ['a missing file', missing]] as const) {
    it(`with ${label}: check-store, check-wal-archive and backup-list succeed anonymously`, async (t) => {
      const target = storeTarget(t, 'gcs', 'gcs-emu-creds');
      if (!target) return;
      const env = { ...target.env, GOOGLE_APPLICATION_CREDENTIALS: file };
      const check = await runCli('pgstow', ['check-store', ...target.args, target.url, 'pg1'], { env });
      assert.equal(check.code, 0, check.stdout + check.stderr);
      assert.match(check.stdout, /GOOGLE_APPLICATION_CREDENTIALS ignored/);
      const cwa = await runCli('barman-cloud-check-wal-archive', [...target.args, target.url, 'pg1'], { env });
      assert.equal(cwa.code, 0, cwa.stderr);
      const list = await runCli('barman-cloud-backup-list', [...target.args, target.url, 'pg1'], { env });
      assert.equal(list.code, 0, list.stderr);
      assert.ok(!check.stdout.includes('PRIVATE KEY') && !check.stderr.includes('PRIVATE KEY'));
    });
  }
});
