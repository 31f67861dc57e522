import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkBackupName, parseTags } from '../../../src/cli/commands/backup.js';

test('backup names follow Barman: no backup ids, no reserved words, not empty', () => {
  assert.equal(checkBackupName('nightly 1'), 'nightly 1');
  assert.throws(() => checkBackupName(''), /cannot be empty/);
  assert.throws(() => checkBackupName('20261125T101010'), /backup ID/);
  for (const w of ['latest', 'last', 'oldest', 'first', 'last-failed']) assert.throws(() => checkBackupName(w), /reserved word/);
});

test('--tags takes KEY,VALUE pairs (CSV quoting allowed)', () => {
  assert.deepEqual(parseTags(['a,b', '"k,1","v ""x"""']), { a: 'b', 'k,1': 'v "x"' });
  assert.equal(parseTags(undefined), undefined);
  assert.throws(() => parseTags(['novalue']), /invalid tag/);
  assert.throws(() => parseTags(['a,b,c']), /invalid tag/);
});
