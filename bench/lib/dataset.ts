/**
 * A database with honest compression ratios: random bytes (incompressible), text (compressible), numbers and
 * timestamps — not only pgbench's filler, whose blank-padded rows compress ~20×.
 */
import type { PostgresServer } from '../../test/harness/postgres.js';

export interface DatasetInfo {
  databaseBytes: number;
  rows: Record<string, number>;
}

export async function createDataset(pg: PostgresServer, targetBytes: number): Promise<DatasetInfo> {
  const randomRows = Math.max(1000, Math.round((0.35 * targetBytes) / 300));
  const textRows = Math.max(1000, Math.round((0.45 * targetBytes) / 190));
  const numRows = Math.max(1000, Math.round((0.2 * targetBytes) / 70));
  const c = await pg.client();
  try {
    await c.query('create database bench');
  } finally {
    await c.end();
  }
  const db = await pg.client('bench');
  try {
    await db.query('set synchronous_commit = off');
    // 256 random bytes per row: 8 UUIDs (gen_random_uuid is core since PG 13) concatenated.
    await db.query(`create table t_random as
      select i, decode((select string_agg(replace(gen_random_uuid()::text, '-', ''), '') from generate_series(1, 16) g where g > i * 0), 'hex') as b
      from generate_series(1, ${randomRows}) i`);
    await db.query(`create table t_text as
      select i, md5(i::text) || ' ' || (array['order','invoice','customer','shipment','refund','payment','ticket','review'])[1 + i % 8]
        || ' ' || (array['pending','shipped','delivered','cancelled','returned'])[1 + (i / 7) % 5]
        || ' note: ' || repeat((array['lorem ipsum dolor sit amet ','consectetur adipiscing elit ','sed do eiusmod tempor ','ut labore et dolore magna '])[1 + i % 4], 1 + i % 4)
        || 'ref ' || (random() * 1e9)::bigint as note
      from generate_series(1, ${textRows}) i`);
    await db.query(`create table t_num as
      select i, random() * 1e6 as amount, (random() * 1000)::int as qty, (random() * 1e4)::numeric(12,2) as price,
        now() - random() * interval '365 days' as created_at
      from generate_series(1, ${numRows}) i`);
    await db.query('create index on t_text (i)');
    await db.query('create index on t_num (created_at)');
    await db.query('checkpoint');
    const size = await db.query<{ s: string }>("select pg_database_size('bench')::text as s");
    return { databaseBytes: Number(size.rows[0]?.s ?? 0), rows: { t_random: randomRows, t_text: textRows, t_num: numRows } };
  } finally {
    await db.end();
  }
}
