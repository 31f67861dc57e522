/**
 * The recovery Job and a replica cluster, against backups and WAL the plugin itself wrote: `pgstow plugin
 * restore` answers RestoreJobHooks.Restore by laying down PGDATA (pg_wal moved to the WAL volume), after the
 * empty-archive check on the new cluster's own store; PostgreSQL then recovers with its restore_command going
 * through the same sidecar (no current primary: the recovery source) and promotes with equal data. The
 * designated primary of a replica cluster restores from the replica source.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { status as GrpcCode, type ServiceError } from '@grpc/grpc-js';
import { createPostgres, type PostgresServer } from '../harness/postgres.js';
import { chownToPostgres } from '../harness/tmp.js';
import { tableChecksums } from '../integration/backup-fixtures.js';
import { backupObject, clusterJson, PLUGIN } from './cnpg-fixtures.js';
import { cnpgCall, run, startSidecar, WAL_CLIENT, type Sidecar } from './cnpg-harness.js';
import { CLUSTER, pluginEnv, type PluginEnv } from './plugin-env.js';
import { CNPG_RESTORE_COMMAND } from '../../src/plugin/restore/restore-job-service.js';

describe('recovery Job and replica source', () => {
  let env: PluginEnv | undefined;
  let origin: PostgresServer;
  let sidecar: Sidecar;
  let job: Sidecar;
  let want: Record<string, string>;
  let beginWal: string;

  before(async () => {
    env = await pluginEnv({ skip: () => undefined } as never, 'restore-job');
    if (!env) return;
    // immediateCheckpoint: without it pg_backup_start waits for a spread checkpoint (minutes).
    env.putObjectStore('origin-store', { wal: { maxParallel: 2 }, data: { immediateCheckpoint: true } });
    env.putObjectStore('restored-store', { destinationPath: `${env.destination}-restored` });
    const originCluster = env.clusterFile('origin', { plugin: { barmanObjectName: 'origin-store' } });
    const socket = path.join(env.pluginPath, PLUGIN);
    origin = await createPostgres({ label: 'plugin-origin', settings: { archive_mode: 'on', archive_command: `${process.execPath} ${WAL_CLIENT} archive ${socket} ${originCluster} %p` } });
    sidecar = await startSidecar({ mode: 'instance', pluginPath: env.pluginPath, env: env.sidecarEnv({ PGDATA: origin.dataDir, PGHOST: origin.socketDir, PGPORT: String(origin.port), PGSTOW_MAINTENANCE_DELAY_SECONDS: '3600' }) });
    await origin.start();
    const bench = (args: string[]): Promise<string> => run('pgbench', ['-h', '127.0.0.1', '-p', String(origin.port), '-U', 'postgres', ...args, 'postgres']);
    await bench(['-i', '-s', '2', '-q']);
    const r = await cnpgCall(sidecar.socket, 'Backup', 'Backup', { cluster_definition: clusterJson({ plugin: { barmanObjectName: 'origin-store' } }), backup_definition: Buffer.from(JSON.stringify(backupObject())), parameters: {} });
    beginWal = r.begin_wal;
    await bench(['-c', '2', '-T', '3', '-n']);
    want = await tableChecksums(origin);
    const w = (await origin.query<{ w: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS w'))[0]?.w as string;
    await origin.query('SELECT pg_switch_wal()');
    await origin.waitFor('archiving', async () => ((await origin.query<{ l: string | null }>('SELECT last_archived_wal AS l FROM pg_stat_archiver'))[0]?.l ?? '') >= w, 120_000);
    job = await startSidecar({ mode: 'restore', pluginPath: path.join(env.dir, 'job-plugins'), env: env.sidecarEnv({
      PGDATA: path.join(env.dir, 'job', 'data', 'pgdata'), POD_NAME: 'restored-1-full-recovery', CLUSTER_NAME: 'restored', SPOOL_DIRECTORY: path.join(env.dir, 'job-spool'),
    }) });
  });
  after(async () => {
    // The servers close whatever the sidecars' exit codes: a listening API server left open kept the test
    // process alive with no timeout (a failed before() hook hung the file instead of failing it).
    let codes: Array<number | null | undefined> | undefined;
    try {
      await origin?.destroy();
      codes = [await sidecar?.stop(), await job?.stop()];
    } finally {
      await env?.close();
    }
    for (const code of codes ?? []) if (code !== undefined) assert.equal(code, 0, 'a sidecar exited with an error');
  });

  const restoredCluster = (ownStore: string): Buffer => clusterJson({
    name: 'restored', currentPrimary: '', walStorage: true, plugin: { barmanObjectName: ownStore },
    recovery: { source: 'origin', barmanObjectName: 'origin-store', serverName: CLUSTER },
  });

  test('the empty-archive check on the new cluster\'s own store refuses an archive in use, before touching PGDATA', async (t) => {
    if (!env) return t.skip();
    fs.mkdirSync(path.join(env.dir, 'job', 'data'), { recursive: true });
    chownToPostgres(path.join(env.dir, 'job'));
    // The new cluster archiving into the origin's own server directory: refused.
    const intoOrigin = clusterJson({ name: CLUSTER, currentPrimary: '', plugin: { barmanObjectName: 'origin-store' }, recovery: { source: 'origin', barmanObjectName: 'origin-store', serverName: CLUSTER } });
    await assert.rejects(cnpgCall(job.socket, 'RestoreJobHooks', 'Restore', { cluster_definition: intoOrigin, check_empty_wal_archive: true }),
      (e: ServiceError) => e.code === GrpcCode.FAILED_PRECONDITION && /WAL archive check failed for server cluster-example: Expected empty archive/.test(e.details));
    assert.equal(fs.existsSync(path.join(env.dir, 'job', 'data', 'pgdata')), false);
  });

  test('RestoreJobHooks.Restore lays down PGDATA, moves pg_wal to the WAL volume, returns CNPG\'s restore_command; recovery through the sidecar reaches equal data', async (t) => {
    if (!env) return t.skip();
    const pgdata = path.join(env.dir, 'job', 'data', 'pgdata');
    const res = await cnpgCall(job.socket, 'RestoreJobHooks', 'Restore', { cluster_definition: restoredCluster('restored-store'), check_empty_wal_archive: true });
    assert.equal(res.restore_config, `recovery_target_action = 'promote'\nrestore_command = '${CNPG_RESTORE_COMMAND}'\n`);
    assert.deepEqual(res.envs, []);
    assert.equal(fs.readFileSync(path.join(pgdata, 'PG_VERSION'), 'utf8').trim(), '15');
    assert.equal(fs.lstatSync(path.join(pgdata, 'pg_wal')).isSymbolicLink(), true);
    assert.equal(fs.readlinkSync(path.join(pgdata, 'pg_wal')), path.join(env.dir, 'job', 'wal', 'pg_wal'));
    // What CNPG does next, with the test's CNPG-I client in place of /controller/manager wal-restore.
    const restoredFile = path.join(env.dir, 'restored.json');
    fs.writeFileSync(restoredFile, restoredCluster('restored-store'));
    chownToPostgres(restoredFile);
    const restoreCommand = res.restore_config.replace(/restore_command = '.*'/, `restore_command = '${process.execPath} ${WAL_CLIENT} restore ${job.socket} ${restoredFile} %f %p'`);
    fs.appendFileSync(path.join(pgdata, 'postgresql.auto.conf'), `\n${restoreCommand}archive_mode = 'off'\n`);
    fs.writeFileSync(path.join(pgdata, 'recovery.signal'), '');
    chownToPostgres(path.join(env.dir, 'job'));
    const restored = await createPostgres({ dataDir: pgdata, label: 'plugin-job-pg', settings: { archive_mode: 'off' } });
    t.after(() => restored.destroy());
    await restored.start(180_000);
    await restored.waitFor('promotion', async () => (await restored.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r === false, 180_000);
    assert.deepEqual(await tableChecksums(restored), want);
    assert.ok(job.logLines().some((l) => /restored [0-9A-F]{24}/.test(String(l.msg))), 'WAL came through the restore sidecar');
  });

  test('the designated primary of a replica cluster restores from the replica source', async (t) => {
    if (!env) return t.skip();
    const replica = clusterJson({ plugin: { barmanObjectName: 'restored-store' }, replica: { source: 'origin', barmanObjectName: 'origin-store', serverName: CLUSTER } });
    const dest = path.join(env.dir, 'replica-wal');
    fs.mkdirSync(dest, { recursive: true });
    chownToPostgres(dest);
    await cnpgCall(sidecar.socket, 'WAL', 'Restore', { cluster_definition: replica, source_wal_name: beginWal, destination_file_name: path.join(dest, 'RECOVERYXLOG'), parameters: {}, mode: 'MODE_RECOVERY' });
    assert.equal(fs.statSync(path.join(dest, 'RECOVERYXLOG')).size, 16 * 1024 * 1024);
    // A standby of the same replica cluster reads its own store, where that WAL is not.
    const standby = clusterJson({ currentPrimary: `${CLUSTER}-2`, plugin: { barmanObjectName: 'restored-store' }, replica: { source: 'origin', barmanObjectName: 'origin-store', serverName: CLUSTER } });
    await assert.rejects(cnpgCall(sidecar.socket, 'WAL', 'Restore', { cluster_definition: standby, source_wal_name: beginWal, destination_file_name: path.join(dest, 'X'), parameters: {}, mode: 'MODE_RECOVERY' }),
      (e: ServiceError) => e.code === GrpcCode.NOT_FOUND);
  });
});
