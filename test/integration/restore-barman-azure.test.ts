/**
 * A backup and WAL archive written by barman-cloud 3.4 to Azure Blob Storage (Azurite) restore with
 * `pgstow restore --recovery-target-name`, and PostgreSQL recovers to the restore point with equal data.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startPostgres, type PostgresServer } from '../harness/postgres.js';
import { runCli } from '../harness/cli.js';
import { storeTarget } from '../harness/stores.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';
import { skipUnlessInstalled } from '../harness/test-env.js';
import { barman, createTables, hasBarman, insertRows, startRestored, switchAndArchive, tableChecksums } from './restore-fixtures.js';

const servers: PostgresServer[] = [];
const work = makeTempDir('restore-barman-azure');
fs.chmodSync(work, 0o755);
after(async () => {
  for (const s of servers) await s.destroy();
  removeDir(work);
});

test('barman-cloud 3.4 backup on Azurite → pgstow restore with PITR to a restore point', { skip: skipUnlessInstalled('barman-cloud 3.4 (/usr/bin/barman-cloud-*)', hasBarman()) }, async (t) => {
  const target = storeTarget(t, 'azurite', 'barman-az');
  if (!target) return;
  const az = ['--cloud-provider', 'azure-blob-storage'];
  const pg = await startPostgres({ env: target.env, settings: { archive_mode: 'on', archive_command: `/usr/bin/barman-cloud-wal-archive ${az.join(' ')} ${target.url} pg %p` } });
  servers.push(pg);
  await createTables(pg);
  await insertRows(pg, 2000);
  barman('barman-cloud-backup', [...az, '-z', '--immediate-checkpoint', '-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', target.url, 'pg'], target.env);
  await insertRows(pg, 300);
  const expected = await tableChecksums(pg);
  await pg.query(`SELECT pg_create_restore_point('az-rp')`);
  await insertRows(pg, 300);
  await switchAndArchive(pg);

  const dir = path.join(work, 'data');
  const r = await runCli('pgstow', ['restore', ...target.args, '--recovery-target-name', 'az-rp', target.url, 'pg', 'latest', dir], { env: target.env });
  assert.equal(r.code, 0, r.stderr);
  const restored = await startRestored(dir, target.env);
  servers.push(restored);
  assert.deepEqual(await tableChecksums(restored), expected);
});
