/**
 * pgstow backups on S3 (moto) against barman-cloud 3.4, the drop-in's reference: the tar layout matches a
 * real barman-cloud-backup of the same server, barman-cloud-backup-list lists the pgstow backup,
 * barman-cloud-restore restores it and PostgreSQL starts with equal data, and barman-cloud-backup-delete
 * removes it cleanly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { runCli } from '../harness/cli.js';
import { createPostgres } from '../harness/postgres.js';
import { storeTarget, TEST_BUCKET } from '../harness/stores.js';
import { chownToPostgres, makeTempDir, removeDir } from '../harness/tmp.js';
import { requireInstalled } from '../harness/test-env.js';
import { PEER_PYTHON } from '../harness/peers.js';
import { BARMAN_34_KEYS, readInfo, startArchivingPostgres, tableChecksums } from './backup-fixtures.js';

function barman(program: string, args: string[], env: Record<string, string>): { code: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(program, args, { env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });
    return { code: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    return { code: e.status ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Reads S3 objects with boto3: keys under a prefix, object bodies, and tar member names (tarfile "r|*"). */
function s3py(op: 'keys' | 'get' | 'members' | 'meta', endpoint: string, env: Record<string, string>, key: string): string {
  const script = `import boto3, sys, json, tarfile
s3 = boto3.client('s3', endpoint_url=sys.argv[1])
op, bucket, key = sys.argv[2], sys.argv[3], sys.argv[4]
if op == 'keys':
    out = []
    for page in s3.get_paginator('list_objects_v2').paginate(Bucket=bucket, Prefix=key):
        out += [o['Key'] for o in page.get('Contents', [])]
    print(json.dumps(out))
elif op == 'get':
    sys.stdout.write(s3.get_object(Bucket=bucket, Key=key)['Body'].read().decode())
elif op == 'meta':
    head = s3.head_object(Bucket=bucket, Key=key)
    tags = {t['Key']: t['Value'] for t in s3.get_object_tagging(Bucket=bucket, Key=key)['TagSet']}
    print(json.dumps({'sse': head.get('ServerSideEncryption'), 'tags': tags}))
else:
    body = s3.get_object(Bucket=bucket, Key=key)['Body']
    with tarfile.open(fileobj=body, mode='r|*') as t:
        print(json.dumps([[m.name, 'dir' if m.isdir() else 'file'] for m in t]))`;
  return execFileSync(PEER_PYTHON, ['-c', script, endpoint, op, TEST_BUCKET, key], { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 64 << 20 });
}

test('pgstow backup on S3 matches barman-cloud 3.4 and is listed, restored and deleted by barman-cloud 3.4', async (t) => {
  const target = storeTarget(t, 'moto', 'backup-barman');
  if (!target) return;
  if (!requireInstalled(t, 'barman-cloud 3.4 (/usr/bin/barman-cloud-backup)', fs.existsSync('/usr/bin/barman-cloud-backup'))) return;
  const endpoint = target.args[target.args.indexOf('--endpoint-url') + 1] as string;
  const fx = await startArchivingPostgres(15);
  t.after(() => fx.cleanup());
  const env = { ...target.env, ...fx.pg.libpqEnv };
  const oid = (await fx.pg.query<{ oid: string }>("SELECT oid::text AS oid FROM pg_tablespace WHERE spcname = 'ts1'"))[0]?.oid as string;
  const before = await tableChecksums(fx.pg);
  const prefix = target.url.slice(`s3://${TEST_BUCKET}/`.length);

  const ours = await runCli('barman-cloud-backup', ['--tags', 'team,dba', 'env,test', ...target.args, '-e', 'AES256', '-z', '--immediate-checkpoint', target.url, 'pgstow'], { env });
  assert.equal(ours.code, 0, ours.stderr);
  const theirs = barman('barman-cloud-backup', [...target.args, '-z', '--immediate-checkpoint', '-h', '127.0.0.1', '-p', String(fx.pg.port), '-U', 'postgres', target.url, 'barman'], env);
  assert.equal(theirs.code, 0, theirs.stderr);

  const keysOf = (server: string): string[] => JSON.parse(s3py('keys', endpoint, target.env, `${prefix}/${server}/base/`)) as string[];
  const ourKeys = keysOf('pgstow');
  const theirKeys = keysOf('barman');
  const idOf = (keys: string[]): string => (keys[0] as string).split('/base/')[1]?.split('/')[0] as string;
  const ourId = idOf(ourKeys);
  const theirId = idOf(theirKeys);
  const rel = (keys: string[]): string[] => keys.map((k) => k.slice(k.indexOf('/base/') + 6 + 16)).sort();
  assert.deepEqual(rel(ourKeys), [...rel(theirKeys), 'pgstow-manifest.json'].sort(), 'same objects plus the manifest');

  // --tags and -e reach every object pgstow wrote.
  for (const key of ourKeys) {
    const meta = JSON.parse(s3py('meta', endpoint, target.env, key)) as { sse: string | null; tags: Record<string, string> };
    assert.deepEqual(meta, { sse: 'AES256', tags: { team: 'dba', env: 'test' } }, key);
  }

  // backup.info: the same key set as barman-cloud 3.4's own.
  const ourInfo = readInfo(s3py('get', endpoint, target.env, `${prefix}/pgstow/base/${ourId}/backup.info`));
  const theirInfo = readInfo(s3py('get', endpoint, target.env, `${prefix}/barman/base/${theirId}/backup.info`));
  assert.deepEqual(Object.keys(ourInfo), Object.keys(theirInfo));
  assert.deepEqual(Object.keys(ourInfo), BARMAN_34_KEYS);
  for (const k of ['compression', 'server_name', 'status', 'tablespaces', 'version', 'systemid', 'pgdata', 'timeline', 'xlog_segment_size', 'mode', 'size', 'config_file', 'hba_file', 'ident_file', 'included_files', 'error']) {
    assert.equal(ourInfo[k], theirInfo[k], k);
  }

  // Tar members: same rules, same directory walk order, same tablespace subtree.
  const members = (server: string, id: string, name: string): [string, string][] => JSON.parse(s3py('members', endpoint, target.env, `${prefix}/${server}/base/${id}/${name}`)) as [string, string][];
  const ourData = members('pgstow', ourId, 'data.tar.gz');
  const theirData = members('barman', theirId, 'data.tar.gz');
  assert.equal(ourData[0]?.[0], '.');
  assert.equal(theirData[0]?.[0], '.');
  assert.deepEqual(ourData.slice(-2).map((m) => m[0]), ['global/pg_control', 'backup_label']);
  assert.deepEqual(theirData.slice(-2).map((m) => m[0]), ['global/pg_control', 'backup_label']);
  const dirs = (ms: [string, string][]): string[] => ms.filter((m) => m[1] === 'dir').map((m) => m[0]);
  assert.deepEqual(dirs(ourData), dirs(theirData), 'directories in the same order');
  const files = (ms: [string, string][]): Set<string> => new Set(ms.filter((m) => m[1] === 'file').map((m) => m[0]));
  const ourFiles = files(ourData);
  const theirFiles = files(theirData);
  const onlyOurs = [...ourFiles].filter((f) => !theirFiles.has(f));
  const onlyTheirs = [...theirFiles].filter((f) => !ourFiles.has(f));
  // Between the two backups the server may create or remove a few files (stats, logical snapshots).
  assert.ok(onlyOurs.length + onlyTheirs.length <= 6, `file sets differ: +${onlyOurs.join(',')} -${onlyTheirs.join(',')}`);
  for (const f of ['./PG_VERSION', './postgresql.conf', './pg_hba.conf', 'global/1262']) assert.ok(ourFiles.has(f), f);
  assert.deepEqual(members('pgstow', ourId, `${oid}.tar.gz`).map((m) => m[0]).sort(), members('barman', theirId, `${oid}.tar.gz`).map((m) => m[0]).sort());

  // barman-cloud-backup-list 3.4 lists the pgstow backup as DONE.
  const list = barman('barman-cloud-backup-list', [...target.args, '--format', 'json', target.url, 'pgstow'], target.env);
  assert.equal(list.code, 0, list.stderr);
  const listed = (JSON.parse(list.stdout) as { backups_list: { backup_id: string; status: string }[] }).backups_list;
  assert.deepEqual(listed.map((b) => [b.backup_id, b.status]), [[ourId, 'DONE']]);

  // barman-cloud-restore 3.4 restores it (tablespace relocated) and PostgreSQL starts with equal data.
  await fx.pg.query('SELECT pg_switch_wal()');
  const base = makeTempDir('barman-restored');
  t.after(() => removeDir(base));
  const dataDir = path.join(base, 'data');
  const tsDir = path.join(base, 'ts1');
  const restore = barman('barman-cloud-restore', [...target.args, '--tablespace', `ts1:${tsDir}`, target.url, 'pgstow', ourId, dataDir], target.env);
  assert.equal(restore.code, 0, restore.stderr);
  fs.writeFileSync(path.join(dataDir, 'recovery.signal'), '');
  fs.mkdirSync(path.join(dataDir, 'pg_wal', 'archive_status'), { recursive: true });
  fs.appendFileSync(path.join(dataDir, 'postgresql.conf'), `\nrestore_command = 'cp ${fx.walDir}/%f %p'\narchive_mode = off\nrecovery_target_action = 'promote'\n`);
  chownToPostgres(base);
  const restored = await createPostgres({ version: 15, dataDir });
  t.after(() => restored.destroy());
  await restored.start();
  await restored.waitFor('recovery to finish', async () => (await restored.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r === false);
  assert.deepEqual(await tableChecksums(restored), before);
  assert.equal(fs.readlinkSync(path.join(dataDir, 'pg_tblspc', oid)), tsDir);

  // barman-cloud-backup-delete 3.4 deletes it: only pgstow's manifest is left (ignored by every lister).
  const del = barman('barman-cloud-backup-delete', [...target.args, '-b', ourId, target.url, 'pgstow'], target.env);
  assert.equal(del.code, 0, del.stderr);
  assert.deepEqual(rel(keysOf('pgstow')), ['pgstow-manifest.json']);
  const after = barman('barman-cloud-backup-list', [...target.args, '--format', 'json', target.url, 'pgstow'], target.env);
  assert.equal(after.code, 0, after.stderr);
  assert.deepEqual((JSON.parse(after.stdout) as { backups_list: unknown[] }).backups_list, []);
});

test('pgstow backup on Azure (Azurite) is listed and restored by barman-cloud 3.4 with equal data', async (t) => {
  const target = storeTarget(t, 'azurite', 'backup-barman-az');
  if (!target) return;
  if (!requireInstalled(t, 'barman-cloud 3.4 (/usr/bin/barman-cloud-restore)', fs.existsSync('/usr/bin/barman-cloud-restore'))) return;
  const fx = await startArchivingPostgres(15);
  t.after(() => fx.cleanup());
  const before = await tableChecksums(fx.pg);
  const ours = await runCli('barman-cloud-backup', [...target.args, '-j', '-S', '2MB', '--immediate-checkpoint', target.url, 'pgstow'], { env: { ...target.env, ...fx.pg.libpqEnv } });
  assert.equal(ours.code, 0, ours.stderr);
  const list = barman('barman-cloud-backup-list', [...target.args, '--format', 'json', target.url, 'pgstow'], target.env);
  assert.equal(list.code, 0, list.stderr);
  const listed = (JSON.parse(list.stdout) as { backups_list: { backup_id: string; status: string }[] }).backups_list;
  assert.equal(listed.length, 1);
  assert.equal(listed[0]?.status, 'DONE');
  await fx.pg.query('SELECT pg_switch_wal()');
  const base = makeTempDir('barman-restored-az');
  t.after(() => removeDir(base));
  const dataDir = path.join(base, 'data');
  const restore = barman('barman-cloud-restore', [...target.args, '--tablespace', `ts1:${path.join(base, 'ts1')}`, target.url, 'pgstow', listed[0]?.backup_id as string, dataDir], target.env);
  assert.equal(restore.code, 0, restore.stderr);
  fs.writeFileSync(path.join(dataDir, 'recovery.signal'), '');
  fs.mkdirSync(path.join(dataDir, 'pg_wal', 'archive_status'), { recursive: true });
  fs.appendFileSync(path.join(dataDir, 'postgresql.conf'), `\nrestore_command = 'cp ${fx.walDir}/%f %p'\narchive_mode = off\nrecovery_target_action = 'promote'\n`);
  chownToPostgres(base);
  const restored = await createPostgres({ version: 15, dataDir });
  t.after(() => restored.destroy());
  await restored.start();
  await restored.waitFor('recovery to finish', async () => (await restored.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r === false);
  assert.deepEqual(await tableChecksums(restored), before);
});
