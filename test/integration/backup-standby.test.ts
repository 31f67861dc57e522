import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { runCli } from '../harness/cli.js';
import { createPostgres, postgresBinDir } from '../harness/postgres.js';
import { chownToPostgres, makeTempDir, postgresUser, removeDir } from '../harness/tmp.js';
import { readInfo, restoreByHand, startArchivingPostgres, tableChecksums, tarMembers } from './backup-fixtures.js';

test('a backup taken from a standby (no WAL switch, no restore point) restores equal data', async (t) => {
  const fx = await startArchivingPostgres(15, { tablespace: false });
  t.after(() => fx.cleanup());
  const base = makeTempDir('standby');
  t.after(() => removeDir(base));
  chownToPostgres(base);
  const standbyData = path.join(base, 'data');
  const user = postgresUser();
  execFileSync(path.join(postgresBinDir(15), 'pg_basebackup'), ['-D', standbyData, '-R', '-X', 'stream', '-h', '127.0.0.1', '-p', String(fx.pg.port), '-U', 'postgres'],
    { stdio: 'pipe', ...(user ? { uid: user.uid, gid: user.gid } : {}) });
  const standby = await createPostgres({ version: 15, dataDir: standbyData, settings: { archive_mode: 'off', hot_standby: 'on' } });
  t.after(() => standby.destroy());
  await standby.start();
  await fx.pg.query('INSERT INTO t_text (body) VALUES ($1)', ['written before the standby backup']);
  const before = await tableChecksums(fx.pg);
  await standby.waitFor('the standby to replay', async () => JSON.stringify(await tableChecksums(standby)) === JSON.stringify(before));

  const storeDir = makeTempDir('backup-standby-store');
  t.after(() => removeDir(storeDir));
  const r = await runCli('barman-cloud-backup', ['--cloud-provider', 'file', '-v', `file://${storeDir}`, 'pg'], { env: standby.libpqEnv, timeoutMs: 180_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /Restore point/);
  const id = fs.readdirSync(path.join(storeDir, 'pg', 'base'))[0] as string;
  const dir = path.join(storeDir, 'pg', 'base', id);
  const info = readInfo(fs.readFileSync(path.join(dir, 'backup.info'), 'utf8'));
  assert.equal(info.status, 'DONE');
  assert.match(info.backup_label ?? '', /BACKUP FROM: standby/);
  const names = tarMembers(path.join(dir, 'data.tar')).map((m) => m.name);
  assert.ok(!names.includes('./standby.signal'), 'standby.signal excluded');
  assert.equal(names.at(-1), 'backup_label');

  // The primary archives the WAL the standby backup needs.
  await fx.pg.query('SELECT pg_switch_wal()');
  await fx.pg.waitFor('WAL archived', async () => fs.readdirSync(fx.walDir).some((f) => f >= (info.end_wal ?? 'Z')));
  const restored = await restoreByHand(15, dir, fx.walDir, []);
  t.after(() => restored.cleanup());
  assert.deepEqual(await tableChecksums(restored.pg), before);
});
