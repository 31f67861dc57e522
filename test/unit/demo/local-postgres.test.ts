/** The OS user the demo runs PostgreSQL as: a missing one (as root) fails with the exact command to create it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { postgresOsUser } from '../../../src/demo/local-postgres.js';
import { OperationError } from '../../../src/errors.js';

test('as root without the OS user: an error with the useradd command; as another user: run as ourselves', () => {
  if (process.getuid?.() !== 0) {
    // Not root: PostgreSQL runs as the current user, no OS user is looked up (so a missing one is fine).
    assert.equal(postgresOsUser('pgstow-no-such-user'), undefined);
    return;
  }
  assert.throws(() => postgresOsUser('pgstow-no-such-user'), (e: unknown) => {
    assert.ok(e instanceof OperationError);
    assert.equal(e.code, 'ERR_NO_POSTGRES_USER');
    assert.match(e.message, /no "pgstow-no-such-user" OS user/);
    assert.match(e.message, /\n {2}useradd -r -m -s \/bin\/bash pgstow-no-such-user$/);
    return true;
  });
  const user = postgresOsUser();
  assert.ok(user && user.uid > 0, 'the postgres user this machine has is found');
});
