/** A missing tool skips loudly on a developer machine and fails the test run in CI. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { skipUnlessInstalled } from '../../harness/test-env.js';

test('skipUnlessInstalled: false when present, a reason outside CI, an error under CI=true', (t) => {
  const saved = { ci: process.env.CI, all: process.env.PGSTOW_REQUIRE_ALL };
  t.after(() => {
    for (const [k, v] of [['CI', saved.ci], ['PGSTOW_REQUIRE_ALL', saved.all]] as const) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  });
  delete process.env.PGSTOW_REQUIRE_ALL;
  process.env.CI = 'true';
  assert.equal(skipUnlessInstalled('some tool', true), false);
  assert.throws(() => skipUnlessInstalled('some tool', false), /some tool is not installed \(CI=true/);
  delete process.env.CI;
  assert.equal(skipUnlessInstalled('some tool', false), 'some tool is not installed');
});
