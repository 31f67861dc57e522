import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { binPath } from '../harness/cli.js';
import { runCli } from '../harness/cli.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';
import { listFiles, readInfo, startArchivingPostgres } from './backup-fixtures.js';

/** Starts a throttled backup and sends `signal` once its first tar object has started. */
async function interruptBackup(env: Record<string, string>, storeDir: string, signal: NodeJS.Signals): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [binPath('barman-cloud-backup'), '--cloud-provider', 'file', '--max-bandwidth', '2MB', '-v', `file://${storeDir}`, 'pg'],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const deadline = Date.now() + 30_000;
  // The fs store writes each object to a temp file first: wait until one exists, i.e. data is flowing.
  while (Date.now() < deadline && !listFiles(storeDir).some((f) => f.includes('.pgstow-tmp-'))) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 300));
  child.kill(signal);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  return { code, stderr };
}

test('a backup killed mid-way (SIGKILL) leaves no backup.info, and the server can take the next backup', async (t) => {
  const fx = await startArchivingPostgres(15, { tablespace: false, rows: 40000 });
  t.after(() => fx.cleanup());
  const storeDir = makeTempDir('backup-kill');
  t.after(() => removeDir(storeDir));
  const { code } = await interruptBackup(fx.pg.libpqEnv, storeDir, 'SIGKILL');
  assert.equal(code, null);
  const files = listFiles(storeDir);
  assert.ok(!files.some((f) => f.endsWith('backup.info')), `no backup.info: ${files.join(' ')}`);
  assert.ok(!files.some((f) => /\/data\.tar$/.test(f)), 'no complete data.tar');
  // What a user checks: neither pgstow's list nor the barman-cloud-backup-list drop-in shows it as a done backup.
  const doneIds = async (program: string, args: string[]): Promise<string[]> => {
    const l = await runCli(program, [...args, '--cloud-provider', 'file', '--format', 'json', `file://${storeDir}`, 'pg']);
    assert.equal(l.code, 0, `${program}: ${l.stderr}`);
    // Barman's JSON (backups_list/backup_id) from the drop-in, pgstow's own (backups/id) from pgstow.
    const out = JSON.parse(l.stdout) as { backups_list?: Array<{ backup_id: string; status: string }>; backups?: Array<{ id: string; status: string }> };
    const list = out.backups_list?.map((b) => ({ id: b.backup_id, status: b.status })) ?? out.backups;
    assert.ok(list, `${program} printed no backup list: ${l.stdout}`);
    return list.filter((b) => b.status === 'DONE').map((b) => b.id);
  };
  assert.deepEqual(await doneIds('pgstow', ['backup', 'list']), []);
  assert.deepEqual(await doneIds('barman-cloud-backup-list', []), []);
  // The killed session ended the server's backup mode; a new backup succeeds.
  const r = await runCli('barman-cloud-backup', ['--cloud-provider', 'file', `file://${storeDir}`, 'pg'], { env: fx.pg.libpqEnv });
  assert.equal(r.code, 0, r.stderr);
  const infos = listFiles(storeDir).filter((f) => f.endsWith('backup.info'));
  assert.equal(infos.length, 1);
  assert.equal(readInfo(fs.readFileSync(path.join(storeDir, infos[0] as string), 'utf8')).status, 'DONE');
  // The lists see the new backup only (so they can list DONE backups here at all).
  const newId = path.basename(path.dirname(infos[0] as string));
  assert.deepEqual(await doneIds('pgstow', ['backup', 'list']), [newId]);
  assert.deepEqual(await doneIds('barman-cloud-backup-list', []), [newId]);
});

test('a backup interrupted by SIGTERM exits 1 and writes backup.info with status FAILED and the cause', async (t) => {
  const fx = await startArchivingPostgres(15, { tablespace: false, rows: 40000 });
  t.after(() => fx.cleanup());
  const storeDir = makeTempDir('backup-term');
  t.after(() => removeDir(storeDir));
  const { code, stderr } = await interruptBackup(fx.pg.libpqEnv, storeDir, 'SIGTERM');
  assert.equal(code, 1, stderr);
  const infos = listFiles(storeDir).filter((f) => f.endsWith('backup.info'));
  assert.equal(infos.length, 1, stderr);
  const info = readInfo(fs.readFileSync(path.join(storeDir, infos[0] as string), 'utf8'));
  assert.equal(info.status, 'FAILED');
  assert.match(info.error ?? '', /^failure uploading data \(.*SIGTERM.*\)$/);
  assert.equal(info.end_xlog, 'None');
  assert.ok(!listFiles(storeDir).some((f) => f.includes('.pgstow-tmp-')), 'partial upload removed');
  assert.match(stderr, /SIGTERM/);
});

test('with WAL archiving broken, pg_backup_stop waits; SIGTERM then fails the backup at once ("stopping backup")', async (t) => {
  const fx = await startArchivingPostgres(15, { tablespace: false, rows: 1000, archiveCommand: 'false' });
  t.after(() => fx.cleanup());
  const storeDir = makeTempDir('backup-noarchive');
  t.after(() => removeDir(storeDir));
  const child = spawn(process.execPath, [binPath('barman-cloud-backup'), '--cloud-provider', 'file', '-v', `file://${storeDir}`, 'pg'],
    { env: { ...process.env, ...fx.pg.libpqEnv }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !/Stopping backup/.test(stderr)) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(child.exitCode, null, 'still waiting for archiving');
  const t0 = Date.now();
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  assert.equal(code, 1, stderr);
  assert.ok(Date.now() - t0 < 10_000, 'no wait for archiving after the interrupt');
  const infos = listFiles(storeDir).filter((f) => f.endsWith('backup.info'));
  const info = readInfo(fs.readFileSync(path.join(storeDir, infos[0] as string), 'utf8'));
  assert.equal(info.status, 'FAILED');
  assert.match(info.error ?? '', /^failure stopping backup \(interrupted by SIGTERM\)$/);
  // The server left backup mode: a backup can start again right away (here: one that waits again, so just start).
  const rows = await fx.pg.query<{ n: string }>("SELECT count(*)::text AS n FROM pg_stat_activity WHERE application_name = 'barman_cloud_backup'");
  assert.equal(rows[0]?.n, '0');
});
