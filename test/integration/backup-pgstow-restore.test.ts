/**
 * pgstow backup → pgstow restore, the round trip users run: the restore verifies every object against the
 * backup's manifest, relocates the tablespace, and recovers to the backup's restore point barman_<id>
 * through pgstow's own WAL archive; a corrupted tar object is refused, naming the object.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { binCommandLine, runCli } from '../harness/cli.js';
import { createPostgres } from '../harness/postgres.js';
import { chownToPostgres, makeTempDir, removeDir } from '../harness/tmp.js';
import { startArchivingPostgres, tableChecksums } from './backup-fixtures.js';

test('pgstow restore of a pgstow backup to its restore point barman_<id>, tablespace relocated; a corrupted volume is refused', async (t) => {
  const storeDir = makeTempDir('roundtrip-store');
  t.after(() => removeDir(storeDir));
  chownToPostgres(storeDir);
  const url = `file://${storeDir}`;
  const fx = await startArchivingPostgres(15, { archiveCommand: `${binCommandLine('pgstow')} wal-archive --cloud-provider file ${url} pg %p` });
  t.after(() => fx.cleanup());
  const first = (await fx.pg.query<{ w: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS w'))[0]?.w as string;
  await fx.pg.waitFor('the first WAL archived', async () => String((await fx.pg.query<{ n: string | null }>('SELECT last_archived_wal AS n FROM pg_stat_archiver'))[0]?.n ?? '') >= first);

  const r = await runCli('pgstow', ['backup', '--cloud-provider', 'file', '-z', '-S', '1MB', '--immediate-checkpoint', url, 'pg'], { env: fx.pg.libpqEnv });
  assert.equal(r.code, 0, r.stderr);
  const id = /backup (\d{8}T\d{6}) done/.exec(r.stderr)?.[1] as string;
  const atBackup = await tableChecksums(fx.pg);
  // Changes after the backup's restore point must not appear in the restored server.
  await fx.pg.query("INSERT INTO t_text (body) VALUES ('after the restore point')");
  await fx.pg.query('DELETE FROM t_ts WHERE id % 2 = 0');
  const switched = (await fx.pg.query<{ w: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS w'))[0]?.w as string;
  await fx.pg.waitFor('WAL archived', async () => String((await fx.pg.query<{ n: string | null }>('SELECT last_archived_wal AS n FROM pg_stat_archiver'))[0]?.n ?? '') >= switched);

  const base = makeTempDir('roundtrip-restore');
  t.after(() => removeDir(base));
  const dataDir = path.join(base, 'data');
  const tsDir = path.join(base, 'ts1-new');
  const rr = await runCli('pgstow', ['restore', '--cloud-provider', 'file', '--tablespace', `ts1:${tsDir}`, '--recovery-target-name', `barman_${id}`, url, 'pg', id, dataDir]);
  assert.equal(rr.code, 0, rr.stderr);
  chownToPostgres(base);
  const restored = await createPostgres({ version: 15, dataDir });
  t.after(() => restored.destroy());
  await restored.start();
  await restored.waitFor('recovery to finish', async () => (await restored.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r === false, 120_000);
  assert.deepEqual(await tableChecksums(restored), atBackup);

  // Flip one byte of a middle volume: restore refuses it and names the object.
  const backupDir = path.join(storeDir, 'pg', 'base', id);
  const victim = path.join(backupDir, 'data_0001.tar.gz');
  const bytes = fs.readFileSync(victim);
  bytes[Math.floor(bytes.length / 2)] = (bytes[Math.floor(bytes.length / 2)] as number) ^ 0xff;
  fs.writeFileSync(victim, bytes);
  const bad = await runCli('pgstow', ['restore', '--cloud-provider', 'file', '--tablespace', `ts1:${path.join(base, 'ts-bad')}`, url, 'pg', id, path.join(base, 'bad')]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /data_0001\.tar\.gz/);
});
