import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startPostgres } from '../harness/postgres.js';

test('the harness starts a real PostgreSQL 15 on a free loopback port and stops it', async (t) => {
  const pg = await startPostgres({ version: 15 });
  t.after(() => pg.destroy());
  const rows = await pg.query<{ v: string }>("select current_setting('server_version_num') as v");
  assert.match(String(rows[0]?.v), /^15\d{4}$/);
  const seg = await pg.query<{ s: string }>("select setting as s from pg_settings where name = 'wal_segment_size'");
  assert.ok(Number(seg[0]?.s) > 0);
});
