import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConninfo, resolveConnection } from '../../../src/postgres/connection-options.js';

test('conninfo strings: quoting and escapes as libpq', () => {
  assert.deepEqual(parseConninfo(`host=/run/pg port=5433 password='a b\\'c' dbname = app`), { host: '/run/pg', port: '5433', password: "a b'c", dbname: 'app' });
  assert.throws(() => parseConninfo('host'), /invalid connection string/);
});

test('-d with "=" is the whole conninfo; otherwise -h/-p/-U/-d then the libpq environment', async () => {
  const env = { PGHOST: 'envhost', PGPORT: '6000', PGUSER: 'envuser', PGPASSWORD: 'sekret', PGSSLMODE: 'disable' };
  const a = await resolveConnection({ dbname: 'host=h1 port=7000 user=u1 dbname=d1' }, env);
  assert.deepEqual([a.host, a.port, a.user, a.database, a.password, a.application_name], ['h1', 7000, 'u1', 'd1', 'sekret', 'barman_cloud_backup']);
  const b = await resolveConnection({ user: 'cli' }, env);
  assert.deepEqual([b.host, b.port, b.user, b.database], ['envhost', 6000, 'cli', 'postgres']);
  const c = await resolveConnection({ dbname: 'postgresql://u2:p%40ss@h2:7001/d2?application_name=mine' }, {});
  assert.deepEqual([c.host, c.port, c.user, c.password, c.database, c.application_name], ['h2', 7001, 'u2', 'p@ss', 'd2', 'mine']);
  assert.ok(!c.describe.includes('p@ss'));
  await assert.rejects(resolveConnection({ port: 'x' }, {}), /invalid PostgreSQL port/);
  await assert.rejects(resolveConnection({}, { PGSSLMODE: 'bogus', PGHOST: 'h' }), /invalid sslmode/);
  assert.deepEqual((await resolveConnection({}, { PGSSLMODE: 'require', PGHOST: 'h' })).ssl, { rejectUnauthorized: false });
});
