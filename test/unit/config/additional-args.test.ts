import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filterAdditionalArgs } from '../../../src/config/additional-args.js';

test('CNPG rule: manifest args add flags but never override the command line', () => {
  assert.deepEqual(filterAdditionalArgs(['--read-timeout=60', '--min-chunk-size=5MB'], ['--gzip', 's3://b', 'srv']), ['--read-timeout=60', '--min-chunk-size=5MB']);
  assert.deepEqual(filterAdditionalArgs(['--read-timeout=60'], ['--read-timeout=5', 's3://b']), []);
  assert.deepEqual(filterAdditionalArgs(['--read-timeout=60'], ['--read-timeout', '5']), []);
  assert.deepEqual(filterAdditionalArgs(['--gzip', '--gzip', '=x'], []), ['--gzip']);
});
