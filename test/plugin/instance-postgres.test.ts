/**
 * The sidecar in a PostgreSQL pod, end to end: PostgreSQL 15's archive_command goes through the plugin socket
 * (the CNPG-I client in test/plugin/wal-client.ts), under a pgbench load; a Backup call takes a base backup of
 * that PostgreSQL in-process; every archived segment is byte-identical to pg_wal; barman-cloud 3.4 restores
 * the backup and replays the plugin's WAL (its own barman-cloud-wal-restore as restore_command) to equal data,
 * and so does Barman 3.19 (what plugin-barman-cloud ships);
 * Metrics and ObjectStore.status tell what happened; SIGTERM stops the sidecar cleanly.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { createPostgres, type PostgresServer } from '../harness/postgres.js';
import { skipUnlessInstalled } from '../harness/test-env.js';
import { barmanCommand, BARMAN_VERSIONS, hasBarman, INSTALL_HINT } from '../harness/peers.js';
import { chownToPostgres, makeTempDir, removeDir } from '../harness/tmp.js';
import { tableChecksums } from '../integration/backup-fixtures.js';
import { openStoreFromEnv as openStore } from '../harness/store-options.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { readAll } from '../../src/storage/object-store-helpers.js';
import { isCommonPrefix } from '../../src/storage/object-store.js';
import { OBJECT_STORE_GROUP } from '../../src/plugin/kube/kube-api.js';
import { WAL_NAME_RE } from '../../src/domain/wal/wal-file-name.js';
import type { BackupResult } from '../../src/plugin/protocol/messages.js';
import { backupObject, clusterJson, PLUGIN } from './cnpg-fixtures.js';
import { cnpgCall, run, startSidecar, WAL_CLIENT, type Sidecar } from './cnpg-harness.js';
import { CLUSTER, NAMESPACE, pluginEnv, type PluginEnv } from './plugin-env.js';

const UID = '6f1a9d0e-2b7c-4a51-9d0f-1c2b3a4d5e6f';

describe('sidecar in a PostgreSQL pod (archive_command through the socket, pgbench, Backup, Barman restore)', () => {
  let env: PluginEnv | undefined;
  let pg: PostgresServer;
  let sidecar: Sidecar;
  let store: ObjectStore;
  let clusterFile: string;
  let result: BackupResult;

  before(async () => {
    env = await pluginEnv({ skip: () => undefined } as never, 'instance-pg', 'moto');
    if (!env) return;
    // The additional command args name other codecs: CNPG's rule lets them fill only what the manifest leaves unset,
    // so everything below must still be gzip (the last test shows the same args taking effect where nothing is set).
    env.putObjectStore('minio-store', {
      wal: { compression: 'gzip', maxParallel: 4, archiveAdditionalCommandArgs: ['--zstd'] },
      data: { compression: 'gzip', immediateCheckpoint: true, jobs: 2, additionalCommandArgs: ['--snappy'] },
    }, { retentionPolicy: '30d' });
    clusterFile = env.clusterFile('cluster', { plugin: { barmanObjectName: 'minio-store' }, uid: UID, withoutTypeMeta: true });
    const socket = path.join(env.pluginPath, PLUGIN);
    pg = await createPostgres({
      label: 'plugin-pg',
      settings: {
        archive_mode: 'on', archive_timeout: 60, wal_keep_size: '2GB', max_wal_size: '1GB',
        archive_command: `${process.execPath} ${WAL_CLIENT} archive ${socket} ${clusterFile} %p`,
      },
    });
    sidecar = await startSidecar({ mode: 'instance', pluginPath: env.pluginPath, env: env.sidecarEnv({ PGDATA: pg.dataDir, PGHOST: pg.socketDir, PGPORT: String(pg.port), PGSTOW_MAINTENANCE_DELAY_SECONDS: '3600' }) });
    await pg.start();
    store = (await openStore({ provider: 'aws-s3', destinationUrl: env.destination, endpointUrl: env.s3.endpoint, env: env.awsEnv(), s3: { region: env.s3.region } })).store;
  });
  after(async () => {
    await pg?.destroy();
    const code = await sidecar?.stop();
    assert.equal(code, 0, 'SIGTERM stops the sidecar with exit 0');
    await store?.close();
    await env?.close();
  });

  const pgbench = (args: string[]): Promise<string> => run('pgbench', ['-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', ...args, 'postgres']);
  const walsPrefix = (): string => `${(env as PluginEnv).destination.replace(/^s3:\/\/[^/]+\//, '')}/${CLUSTER}/wals/`;

  async function waitArchived(): Promise<string> {
    const w = (await pg.query<{ w: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS w'))[0]?.w as string;
    await pg.query('SELECT pg_switch_wal()');
    await pg.waitFor(`archiving of ${w}`, async () => {
      const [r] = await pg.query<{ last: string | null }>('SELECT last_archived_wal AS last FROM pg_stat_archiver');
      return r?.last !== null && r?.last !== undefined && r.last >= w;
    }, 180_000);
    return w;
  }

  test('pgbench load: every segment reaches the store through the plugin, byte-identical, no gap', async (t) => {
    if (!env) return t.skip();
    await pgbench(['-i', '-s', '8', '-q']);
    await pgbench(['-c', '2', '-T', '8', '-n']);
    const last = await waitArchived();
    const keys: string[] = [];
    for await (const e of store.list(walsPrefix())) if (!isCommonPrefix(e)) keys.push(e.key);
    const segments = keys.filter((k) => /\/[0-9A-F]{24}\.gz$/.test(k)).sort();
    assert.ok(segments.length >= 5, `${segments.length} segments archived`);
    let compared = 0;
    for (const [i, key] of segments.entries()) {
      const name = path.basename(key, '.gz'); // .gz: wal.compression, not --zstd from wal.archiveAdditionalCommandArgs
      assert.equal(parseInt(name.slice(16), 16), i + 1, `no gap in the archive at ${name}`);
      const local = path.join(pg.dataDir, 'pg_wal', name);
      if (!fs.existsSync(local)) continue;
      assert.ok(gunzipSync(await readAll(store, key)).equals(fs.readFileSync(local)), `${name} byte-identical`);
      compared++;
    }
    assert.ok(compared >= segments.length - 1, `compared ${compared} of ${segments.length}`);
    assert.ok(path.basename(segments.at(-1) as string, '.gz') >= last);
    const [stats] = await pg.query<{ failed: string }>('SELECT failed_count::text AS failed FROM pg_stat_archiver');
    assert.equal(stats?.failed, '0', 'no archive_command failed');
  });

  test('Backup: an online base backup of the local PostgreSQL, with every BackupResult field CNPG copies', async (t) => {
    if (!env) return t.skip();
    const backupJson = Buffer.from(JSON.stringify(backupObject({ name: 'cluster-example-20261206' })));
    result = await cnpgCall(sidecar.socket, 'Backup', 'Backup', { cluster_definition: clusterJson({ plugin: { barmanObjectName: 'minio-store' }, uid: UID }), backup_definition: backupJson, parameters: {} });
    assert.match(result.backup_id, /^\d{8}T\d{6}$/);
    assert.match(result.backup_name, /^backup-\d{14}$/);
    assert.ok(result.started_at > 1.7e9 && result.stopped_at >= result.started_at, `${result.started_at}..${result.stopped_at}`);
    assert.match(result.begin_wal, /^[0-9A-F]{24}$/);
    assert.match(result.end_wal, /^[0-9A-F]{24}$/);
    assert.ok(result.end_wal >= result.begin_wal);
    assert.match(result.begin_lsn, /^[0-9A-F]+\/[0-9A-F]+$/);
    assert.match(result.end_lsn, /^[0-9A-F]+\/[0-9A-F]+$/);
    assert.match(Buffer.from(result.backup_label_file).toString(), /^START WAL LOCATION: .*\(file [0-9A-F]{24}\)/);
    assert.equal(result.instance_id, `${CLUSTER}-1`);
    assert.equal(result.online, true);
    assert.equal(result.metadata.clusterUID, UID);
    assert.equal(result.metadata.pluginName, PLUGIN);
    assert.equal(result.metadata.timeline, '1');
    const base = `${walsPrefix().replace(/wals\/$/, '')}base/${result.backup_id}/`;
    assert.ok(await store.exists(`${base}backup.info`));
    assert.ok(await store.exists(`${base}data.tar.gz`), 'data.compression gzip from the ObjectStore, not --snappy from data.additionalCommandArgs');
  });

  test('metrics: every collected name is defined; archive counters, backlog and the last backup are there', async (t) => {
    if (!env) return t.skip();
    await waitArchived();
    // last_archived_wal can pass the segment waited for while another file is still ready (CI: 1 run in 3, right
    // after the Backup's WAL switch): every ready file must be archived (one never archived fails here), then the
    // backlog gauge must say 0.
    const status = path.join(pg.dataDir, 'pg_wal', 'archive_status');
    await pg.waitFor('no .ready file left', async () => !(await fs.promises.readdir(status)).some((f) => f.endsWith('.ready')), 120_000);
    const cluster = clusterJson({ plugin: { barmanObjectName: 'minio-store' }, uid: UID });
    const defined = (await cnpgCall(sidecar.socket, 'Metrics', 'Define', { cluster_definition: cluster })).metrics;
    const collected = (await cnpgCall(sidecar.socket, 'Metrics', 'Collect', { cluster_definition: cluster })).metrics;
    const names = new Set(defined.map((d) => d.fq_name));
    for (const m of collected) {
      assert.ok(names.has(m.fq_name), `${m.fq_name} is defined`);
      const def = defined.find((d) => d.fq_name === m.fq_name);
      assert.equal(m.variable_labels.length, def?.variable_labels.length, `${m.fq_name} has its labels`);
    }
    const value = (n: string): number | undefined => collected.find((m) => m.fq_name === `barman_cloud_cloudnative_pg_io_${n}`)?.value;
    for (const n of ['first_recoverability_point', 'last_available_backup_timestamp', 'last_failed_backup_timestamp']) assert.ok(names.has(`barman_cloud_cloudnative_pg_io_${n}`), `upstream gauge ${n}`);
    assert.ok((value('wal_archived_total') ?? 0) >= 5);
    assert.ok((value('wal_archived_bytes_total') ?? 0) > 0);
    assert.ok((value('wal_archive_duration_seconds_total') ?? 0) > 0);
    assert.equal(value('wal_ready_backlog'), 0);
    assert.equal(value('retention_policy_seconds'), 30 * 86_400, 'the ObjectStore\'s retentionPolicy 30d, which deploy/\'s alerts compare the window with');
    assert.ok((value('last_backup_size_bytes') ?? 0) > 1_000_000);
    assert.ok((value('last_backup_duration_seconds') ?? 0) > 0);
    assert.ok(Math.abs((value('last_available_backup_timestamp') ?? 0) - result.stopped_at) <= 1, 'read from ObjectStore.status, written after the backup');
    assert.ok(collected.some((m) => m.fq_name.endsWith('_last_archived_wal_info') && WAL_NAME_RE.test(m.variable_labels[0] as string)));
  });

  test('ObjectStore.status.serverRecoveryWindow carries upstream\'s and pgstow\'s fields', async (t) => {
    if (!env) return t.skip();
    const api = env.api;
    await pg.waitFor('the status write', async () => {
      const w = ((api.getObject(OBJECT_STORE_GROUP, 'objectstores', NAMESPACE, 'minio-store')?.status as Record<string, unknown> | undefined)?.serverRecoveryWindow as Record<string, Record<string, unknown>> | undefined)?.[CLUSTER];
      return typeof w?.lastArchivedWAL === 'string' && typeof w?.lastSuccessfulBackupTime === 'string';
    }, 20_000);
    const w = ((api.getObject(OBJECT_STORE_GROUP, 'objectstores', NAMESPACE, 'minio-store')?.status as Record<string, unknown>).serverRecoveryWindow as Record<string, Record<string, unknown>>)[CLUSTER] as Record<string, unknown>;
    assert.match(String(w.lastArchivedWAL), WAL_NAME_RE, 'a segment, .backup, .history or .partial name');
    assert.ok(!Number.isNaN(Date.parse(String(w.lastArchivedWALTime))));
    assert.equal(w.lastSuccessfulBackupName, result.backup_name);
    assert.equal(Math.floor(Date.parse(String(w.lastSuccessfulBackupTime)) / 1000), result.stopped_at);
    assert.ok(typeof w.lastBackupSizeBytes === 'number' && w.lastBackupSizeBytes > 0);
    assert.ok(typeof w.lastBackupDurationSeconds === 'number');
  });

  // Barman 3.4 (Debian) and 3.19 (what plugin-barman-cloud ships): each restores the plugin's backup with its own
  // barman-cloud-restore and replays the plugin's WAL with its own barman-cloud-wal-restore as restore_command.
  for (const version of BARMAN_VERSIONS) {
    const missing = skipUnlessInstalled(`Barman ${version} (${INSTALL_HINT})`, hasBarman(version));
    test(`barman-cloud ${version} restores the backup and replays the plugin's WAL to equal data`, { skip: missing }, async (t) => {
      if (!env) return t.skip();
      // Written after the backup: only WAL replay brings it back.
      await pg.query(`CREATE TABLE IF NOT EXISTS after_backup (v text); INSERT INTO after_backup VALUES ('${version}')`);
      const want = await tableChecksums(pg);
      await waitArchived();
      const dir = makeTempDir(`plugin-barman-${version}-restore`);
      t.after(() => removeDir(dir));
      const dataDir = path.join(dir, 'data');
      const common = ['--cloud-provider', 'aws-s3', '--endpoint-url', env.s3.endpoint];
      await run(barmanCommand(version, 'barman-cloud-restore'), [...common, env.destination, CLUSTER, result.backup_id, dataDir], { env: env.awsEnv() });
      const creds = Object.entries(env.awsEnv()).map(([k, v]) => `${k}=${v}`).join(' ');
      fs.appendFileSync(path.join(dataDir, 'postgresql.auto.conf'),
        `\nrestore_command = '${creds} ${barmanCommand(version, 'barman-cloud-wal-restore')} ${common.join(' ')} ${env.destination} ${CLUSTER} %f %p'\nrecovery_target_action = 'promote'\narchive_mode = 'off'\n`);
      fs.writeFileSync(path.join(dataDir, 'recovery.signal'), '');
      chownToPostgres(dir);
      const restored = await createPostgres({ dataDir, label: `plugin-restored-${version}`, settings: { archive_mode: 'off' } });
      t.after(() => restored.destroy());
      await restored.start(240_000);
      await restored.waitFor('promotion', async () => (await restored.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r === false, 240_000);
      assert.deepEqual(await tableChecksums(restored), want);
      const rows = await restored.query<{ v: string }>('SELECT v FROM after_backup');
      assert.ok(rows.some((r) => r.v === version), 'the row written after the backup was replayed from the plugin\'s WAL');
    });
  }

  test('*AdditionalCommandArgs take effect where the manifest leaves a setting unset (CNPG\'s rule)', async (t) => {
    if (!env) return t.skip();
    const destination = env.putObjectStore('args-store', {
      destinationPath: `${env.destination}-args`,
      wal: { archiveAdditionalCommandArgs: ['--zstd'] },
      data: { immediateCheckpoint: true, additionalCommandArgs: ['--snappy'] },
    });
    const prefix = `${destination.replace(/^s3:\/\/[^/]+\//, '')}/${CLUSTER}`;
    const argsCluster = env.clusterFile('args-cluster', { plugin: { barmanObjectName: 'args-store' }, uid: UID, withoutTypeMeta: true });
    // WAL: one completed segment of this server archived through an ObjectStore whose only WAL setting is the args.
    const name = await waitArchived();
    await cnpgCall(sidecar.socket, 'WAL', 'Archive', { cluster_definition: fs.readFileSync(argsCluster), source_file_name: path.join(pg.dataDir, 'pg_wal', name), parameters: {} });
    const key = `${prefix}/wals/${name.slice(0, 16)}/${name}.zst`;
    assert.ok(await store.exists(key), `${key}: --zstd from wal.archiveAdditionalCommandArgs`);
    assert.ok(zstdDecompressSync(await readAll(store, key)).equals(fs.readFileSync(path.join(pg.dataDir, 'pg_wal', name))), 'byte-identical');
    // Backup: the Backup's parameters choose the store (#611); --snappy from data.additionalCommandArgs.
    const parameters = { barmanObjectName: 'args-store' };
    const backup = Buffer.from(JSON.stringify(backupObject({ name: 'cluster-example-args', parameters })));
    // CNPG sends Backup.spec.pluginConfiguration.parameters as the request's parameters (spec §1.4).
    const r: BackupResult = await cnpgCall(sidecar.socket, 'Backup', 'Backup', { cluster_definition: clusterJson({ plugin: { barmanObjectName: 'minio-store' }, uid: UID }), backup_definition: backup, parameters });
    assert.ok(await store.exists(`${prefix}/base/${r.backup_id}/data.tar.snappy`), 'data.tar.snappy');
    assert.equal(await store.exists(`${prefix}/base/${r.backup_id}/data.tar`), false);
  });
});
