import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { binCommandLine, runCli } from '../harness/cli.js';
import { chownToPostgres, makeTempDir, removeDir } from '../harness/tmp.js';
import { BARMAN_34_KEYS, listFiles, readInfo, restoreByHand, startArchivingPostgres, tableChecksums, tarMembers } from './backup-fixtures.js';
import { startPostgres } from '../harness/postgres.js';

test('pgstow backup of PostgreSQL 15 with a tablespace to file://: Barman layout, backup.info, manifest, and the data restores', async (t) => {
  const fx = await startArchivingPostgres(15);
  t.after(() => fx.cleanup());
  const storeDir = makeTempDir('backup-store');
  t.after(() => removeDir(storeDir));
  const before = await tableChecksums(fx.pg);

  const r = await runCli('barman-cloud-backup', ['--cloud-provider', 'file', '--immediate-checkpoint', '-n', 'first backup', `file://${storeDir}`, 'pg'], { env: fx.pg.libpqEnv });
  assert.equal(r.code, 0, r.stderr);
  const backups = fs.readdirSync(path.join(storeDir, 'pg', 'base'));
  assert.equal(backups.length, 1);
  const id = backups[0] as string;
  assert.match(id, /^\d{8}T\d{6}$/);
  const dir = path.join(storeDir, 'pg', 'base', id);
  const oid = (await fx.pg.query<{ oid: string }>("SELECT oid::text AS oid FROM pg_tablespace WHERE spcname = 'ts1'"))[0]?.oid as string;
  assert.deepEqual(listFiles(dir), ['backup.info', 'data.tar', `${oid}.tar`, 'pgstow-manifest.json'].sort());

  // backup.info: exactly barman-cloud 3.4's keys (+ backup_name), sorted, status DONE.
  const text = fs.readFileSync(path.join(dir, 'backup.info'), 'utf8');
  const info = readInfo(text);
  assert.deepEqual(Object.keys(info), [...BARMAN_34_KEYS, 'backup_name'].sort());
  assert.equal(info.status, 'DONE');
  assert.equal(info.server_name, 'cloud');
  assert.equal(info.compression, 'None');
  assert.equal(info.backup_name, 'first backup');
  assert.equal(info.tablespaces, `[('ts1', ${oid}, '${fx.tablespaceDir}')]`);
  assert.match(info.version ?? '', /^15\d{4}$/);
  assert.match(info.begin_time ?? '', /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?[+-]\d\d:\d\d$/);
  assert.match(info.backup_label ?? '', /^'START WAL LOCATION: .*LABEL: Barman backup cloud \d{8}T\d{6}\\n/);
  assert.match(info.copy_stats ?? '', /^\{'total_time': [\d.]+, 'number_of_workers': 2, 'analysis_time': 0, /);

  // data.tar member rules (spec §1.3), read with Python's tarfile in streaming mode.
  const members = tarMembers(path.join(dir, 'data.tar'));
  const names = members.map((m) => m.name);
  assert.equal(names[0], '.');
  assert.equal(names.at(-1), 'backup_label');
  assert.ok(names.includes('./PG_VERSION'));
  assert.ok(names.includes('base') && names.includes('global/1262'));
  assert.ok(names.includes('pg_wal') && !names.some((n) => n.startsWith('pg_wal/')), 'pg_wal kept empty');
  assert.ok(names.includes('pg_tblspc') && !names.includes(`pg_tblspc/${oid}`), 'tablespace link not stored');
  for (const excluded of ['./postmaster.pid', './postmaster.opts']) assert.ok(!names.includes(excluded), excluded);
  assert.ok(!names.some((n) => /^(\.\/)?[^/]*\.signal$/.test(n) && n.includes('standby')));
  const control = names.indexOf('global/pg_control');
  assert.equal(control, names.length - 2, 'pg_control right before backup_label (config files live inside PGDATA here)');
  for (const n of names.slice(1)) assert.ok(!n.startsWith('./') || !n.slice(2).includes('/'), `root-only ./ prefix: ${n}`);
  const label = members.at(-1);
  assert.equal(label?.uid, 0);
  assert.equal(label?.mtime, 0);
  assert.equal(label?.mode, 0o644);
  // Every directory comes before its files.
  const seen = new Set<string>(['.']);
  for (const n of names.slice(1)) {
    const parent = n.startsWith('./') ? '.' : n.includes('/') ? n.slice(0, n.lastIndexOf('/')) : '.';
    if (n !== 'global/pg_control' && n !== 'backup_label') assert.ok(seen.has(parent), `${n} after its directory`);
    seen.add(n);
  }
  // Tablespace tar: only the PG_15_* subtree, no root entry.
  const tsNames = tarMembers(path.join(dir, `${oid}.tar`)).map((m) => m.name);
  assert.ok(tsNames.length > 1);
  for (const n of tsNames) assert.match(n, /^PG_15_\d+(\/|$)/);

  // Manifest: sizes and sha256 of what is stored.
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'pgstow-manifest.json'), 'utf8')) as { objects: { name: string; size: number; sha256: string }[] };
  assert.deepEqual(manifest.objects.map((o) => o.name), ['data.tar', `${oid}.tar`]);
  for (const o of manifest.objects) {
    const body = fs.readFileSync(path.join(dir, o.name));
    assert.equal(o.size, body.length);
    assert.equal(o.sha256, createHash('sha256').update(body).digest('hex'));
  }

  // The backup starts as a server with the same data (archive recovery to the end of WAL).
  await fx.pg.query('SELECT pg_switch_wal()');
  const restored = await restoreByHand(15, dir, fx.walDir, [{ oid: Number(oid) }]);
  t.after(() => restored.cleanup());
  assert.deepEqual(await tableChecksums(restored.pg), before);
});

test('gzip backup split into volumes with -S restores equal data', async (t) => {
  const fx = await startArchivingPostgres(15, { tablespace: false, rows: 20000 });
  t.after(() => fx.cleanup());
  const storeDir = makeTempDir('backup-store-gz');
  t.after(() => removeDir(storeDir));
  const before = await tableChecksums(fx.pg);
  const r = await runCli('pgstow', ['backup', '--cloud-provider', 'file', '-z', '-S', '1MB', '--immediate-checkpoint', `file://${storeDir}/p`, 'srv'], { env: fx.pg.libpqEnv });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /backup \d{8}T\d{6} done: .* stored \(gzip\)/);
  const id = fs.readdirSync(path.join(storeDir, 'p', 'srv', 'base'))[0] as string;
  const dir = path.join(storeDir, 'p', 'srv', 'base', id);
  const tars = listFiles(dir).filter((f) => f.includes('.tar'));
  assert.ok(tars.length >= 3, `several volumes: ${tars.join(' ')}`);
  assert.equal(tars[0], 'data.tar.gz');
  assert.equal(tars[1], 'data_0001.tar.gz');
  // The last volume ends with backup_label; every volume is a complete tar on its own.
  for (const f of tars) assert.ok(tarMembers(path.join(dir, f)).length > 0, f);
  assert.equal(tarMembers(path.join(dir, tars.at(-1) as string)).at(-1)?.name, 'backup_label');
  await fx.pg.query('SELECT pg_switch_wal()');
  const restored = await restoreByHand(15, dir, fx.walDir, []);
  t.after(() => restored.cleanup());
  assert.deepEqual(await tableChecksums(restored.pg), before);
});

test('a backup that cannot connect to PostgreSQL exits 1 naming the server; bad options exit 3', async (t) => {
  const storeDir = makeTempDir('backup-store-bad');
  t.after(() => removeDir(storeDir));
  const r = await runCli('barman-cloud-backup', ['--cloud-provider', 'file', '-h', '127.0.0.1', '-p', '1', `file://${storeDir}`, 'pg']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /cannot connect to PostgreSQL at 127\.0\.0\.1:1/);
  assert.ok(!fs.existsSync(path.join(storeDir, 'pg', 'base')), 'nothing written');
  // An unreachable store is reported first, with exit 2 (barman-cloud 3.4 checks the cloud before PostgreSQL).
  const down = await runCli('barman-cloud-backup', ['--cloud-provider', 'aws-s3', '--endpoint-url', 'http://127.0.0.1:9', 's3://bucket/p', 'pg'],
    { env: { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_DEFAULT_REGION: 'us-east-1', PGHOST: '127.0.0.1', PGPORT: '1' } });
  assert.equal(down.code, 2, down.stderr);
  assert.match(down.stderr, /127\.0\.0\.1:9/);
  const bad = await runCli('barman-cloud-backup', ['--cloud-provider', 'file', '-n', '20240101T000000', `file://${storeDir}`, 'pg']);
  assert.equal(bad.code, 3);
  assert.match(bad.stderr, /not allowed: backup ID/);
  const both = await runCli('barman-cloud-backup', ['--cloud-provider', 'file', '-z', '-j', `file://${storeDir}`, 'pg']);
  assert.equal(both.code, 3);
});

test('CloudNativePG flow on file://: pgstow wal-archive + barman-cloud-backup --name, then backup-show by name, and PITR with pgstow wal-restore', async (t) => {
  const storeDir = makeTempDir('backup-cnpg');
  t.after(() => removeDir(storeDir));
  chownToPostgres(storeDir);
  const url = `file://${storeDir}`;
  const fx = await startArchivingPostgres(15, { tablespace: false, archiveCommand: `${binCommandLine('barman-cloud-wal-archive')} --cloud-provider file ${url} pg %p` });
  t.after(() => fx.cleanup());
  // Archive one segment first, so pg/wals/ is created by the postgres user (the backup runs as root here).
  const first = (await fx.pg.query<{ w: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS w'))[0]?.w as string;
  await fx.pg.waitFor('the first WAL archived', async () => String((await fx.pg.query<{ n: string | null }>('SELECT last_archived_wal AS n FROM pg_stat_archiver'))[0]?.n ?? '') >= first);
  const name = 'backup-20261125120000';
  const r = await runCli('barman-cloud-backup', ['--user', 'postgres', '--name', name, '--immediate-checkpoint', '--jobs', '2', '--cloud-provider', 'file', url, 'pg'], { env: fx.pg.libpqEnv });
  assert.equal(r.code, 0, r.stderr);
  const show = await runCli('barman-cloud-backup-show', ['--format', 'json', '--cloud-provider', 'file', url, 'pg', name]);
  assert.equal(show.code, 0, show.stderr);
  const shown = (JSON.parse(show.stdout) as { cloud: Record<string, unknown> }).cloud;
  assert.equal(shown.backup_name, name);
  assert.equal(shown.status, 'DONE');
  assert.match(String(shown.begin_wal), /^[0-9A-F]{24}$/);
  assert.match(String(shown.end_xlog), /^[0-9A-F]+\/[0-9A-F]+$/);
  const list = await runCli('barman-cloud-backup-list', ['--cloud-provider', 'file', url, 'pg']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`${shown.backup_id as string}.*${name}`));

  // Writes after the backup are replayed from the archive through pgstow wal-restore.
  await fx.pg.query("INSERT INTO t_text (body) VALUES ('after the backup')");
  const expected = await tableChecksums(fx.pg);
  const switched = (await fx.pg.query<{ w: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS w'))[0]?.w as string;
  await fx.pg.waitFor('the last WAL archived', async () => String((await fx.pg.query<{ n: string | null }>('SELECT last_archived_wal AS n FROM pg_stat_archiver'))[0]?.n ?? '') >= switched);
  const dir = path.join(storeDir, 'pg', 'base', shown.backup_id as string);
  const restored = await restoreByHand(15, dir, fx.walDir, [], `${binCommandLine('barman-cloud-wal-restore')} --cloud-provider file ${url} pg %f %p`);
  t.after(() => restored.cleanup());
  assert.deepEqual(await tableChecksums(restored.pg), expected);
});

test('configuration files outside PGDATA are appended under their base name after pg_control (Debian layout)', async (t) => {
  const confDir = makeTempDir('conf-outside');
  t.after(() => removeDir(confDir));
  const hba = path.join(confDir, 'pg_hba.conf');
  fs.writeFileSync(hba, 'local all all trust\nhost all all 127.0.0.1/32 trust\n# outside PGDATA\n');
  const ident = path.join(confDir, 'pg_ident.conf');
  fs.writeFileSync(ident, '# ident outside PGDATA\n');
  chownToPostgres(confDir);
  const pg = await startPostgres({ version: 15, settings: { hba_file: hba, ident_file: ident, archive_mode: 'on', archive_command: 'true' } });
  t.after(() => pg.destroy());
  const storeDir = makeTempDir('backup-conf');
  t.after(() => removeDir(storeDir));
  const r = await runCli('barman-cloud-backup', ['--cloud-provider', 'file', `file://${storeDir}`, 'pg'], { env: pg.libpqEnv });
  assert.equal(r.code, 0, r.stderr);
  const id = fs.readdirSync(path.join(storeDir, 'pg', 'base'))[0] as string;
  const dir = path.join(storeDir, 'pg', 'base', id);
  const names = tarMembers(path.join(dir, 'data.tar')).map((m) => m.name);
  assert.deepEqual(names.slice(-4), ['global/pg_control', 'pg_hba.conf', 'pg_ident.conf', 'backup_label']);
  const info = readInfo(fs.readFileSync(path.join(dir, 'backup.info'), 'utf8'));
  assert.equal(info.hba_file, hba);
  assert.equal(info.ident_file, ident);
});
