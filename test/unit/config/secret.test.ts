import { test } from 'node:test';
import assert from 'node:assert/strict';
import { format, inspect } from 'node:util';
import { Secret } from '../../../src/secret.js';

test('a Secret prints as *** everywhere; only reveal() gives the value', () => {
  const s = new Secret('hunter2-very-secret', 'Secret ns/creds key K from test');
  const shown = [String(s), `${s}`, JSON.stringify({ s }), inspect(s), inspect({ nested: { s } }, { depth: 5 }), format('%s %o %O %j', s, s, s, s), s.toString(), `${s as unknown as string}`];
  for (const text of shown) assert.ok(!text.includes('hunter2'), text);
  assert.equal(JSON.stringify({ s }), '{"s":"***"}');
  assert.equal(s.reveal(), 'hunter2-very-secret');
  assert.equal(s.origin, 'Secret ns/creds key K from test');
  assert.deepEqual(Object.keys(s), ['origin'], 'the value is not an enumerable property');
});
