/**
 * The plugin's small rules: which store a Backup goes to, the Barman name of a plugin backup, the backup a
 * recovery restores, the WAL volume layout, failure causes for metrics, which Backup resources are orphans,
 * and the status writer's throttling and merging (against the loopback Kubernetes API).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { makeTempDir, removeDir } from '../../harness/tmp.js';
import { startFakeKubernetesApi, type FakeKubernetesApi } from '../../harness/fake-kubernetes-api.js';
import { backupNameFor, backupStoreRef } from '../../../src/plugin/instance/backup-service.js';
import { archiveFailureCause } from '../../../src/plugin/instance/telemetry.js';
import { isOrphan } from '../../../src/plugin/instance/maintenance.js';
import { StatusReporter } from '../../../src/plugin/instance/status-reporter.js';
import { missingMemorySettings } from '../../../src/plugin/instance/memory.js';
import { backupChoice, moveWalToVolume, walVolumeDir } from '../../../src/plugin/restore/restore-job-service.js';
import { KubeApi, OBJECT_STORE_GROUP } from '../../../src/plugin/kube/kube-api.js';
import { createJsonLogger } from '../../../src/plugin/json-logger.js';
import { parseClusterDefinition } from '../../../src/plugin/cluster-definition.js';
import { OperationError, UsageError } from '../../../src/errors.js';
import { InvalidCredentialsError, StorageUnavailableError } from '../../../src/storage/errors.js';
import { clusterJson } from '../../plugin/cnpg-fixtures.js';

let dir: string;
let api: FakeKubernetesApi;
before(async () => { dir = makeTempDir('plugin-rules'); api = await startFakeKubernetesApi(dir); });
after(async () => { await api.close(); removeDir(dir); });

test('a Backup goes to the Cluster\'s store unless its parameters name another store or server (#611)', () => {
  const own = { objectStoreName: 'own', serverName: 'pg', origin: 'spec.plugins[0]' };
  assert.deepEqual(backupStoreRef(own, {}, 'pg'), own);
  assert.deepEqual(backupStoreRef(own, { barmanObjectName: 'other' }, 'pg'), { objectStoreName: 'other', serverName: 'pg', origin: 'Backup.spec.pluginConfiguration.parameters' });
  assert.deepEqual(backupStoreRef(own, { barmanObjectName: 'other', serverName: 'x' }, 'pg')?.serverName, 'x');
  assert.deepEqual(backupStoreRef(own, { serverName: 'y' }, 'pg'), { objectStoreName: 'own', serverName: 'y', origin: 'Backup.spec.pluginConfiguration.parameters' });
  assert.equal(backupStoreRef(undefined, {}, 'pg'), undefined);
  assert.equal(backupNameFor(new Date('2026-12-06T09:08:07.654Z')), 'backup-20261206090807');
});

test('recovery picks the backup by backupID, else by time or LSN (with a numeric timeline), else the latest', () => {
  assert.deepEqual(backupChoice(undefined), { backupId: 'latest' });
  assert.deepEqual(backupChoice({ backupID: '20261201T000000', targetTime: '2026-12-02 00:00:00' }), { backupId: '20261201T000000' });
  assert.deepEqual(backupChoice({ targetTime: '2026-12-02 00:00:00+00', targetTLI: '2' }), { backupId: 'auto', auto: { targetTime: '2026-12-02 00:00:00+00', targetTli: 2 } });
  assert.deepEqual(backupChoice({ targetLSN: '0/3000060', targetTLI: 'latest' }), { backupId: 'auto', auto: { targetLsn: '0/3000060' } });
});

test('pg_wal moves to the WAL volume beside PGDATA and is left as a symlink; a second call changes nothing', async () => {
  const pgdata = path.join(dir, 'var', 'data', 'pgdata');
  fs.mkdirSync(path.join(pgdata, 'pg_wal', 'archive_status'), { recursive: true });
  fs.writeFileSync(path.join(pgdata, 'pg_wal', '000000010000000000000001'), 'x');
  const wal = walVolumeDir(pgdata);
  assert.equal(wal, path.join(dir, 'var', 'wal', 'pg_wal'));
  const log = createJsonLogger({ stream: new PassThrough(), level: 'error' });
  await moveWalToVolume(pgdata, wal, log);
  await moveWalToVolume(pgdata, wal, log);
  assert.equal(fs.readlinkSync(path.join(pgdata, 'pg_wal')), wal);
  assert.deepEqual(fs.readdirSync(wal).sort(), ['000000010000000000000001', 'archive_status']);
});

test('failure causes for the metrics label', () => {
  assert.equal(archiveFailureCause(new StorageUnavailableError({ provider: 's3', operation: 'put' })), 'unreachable');
  assert.equal(archiveFailureCause(new InvalidCredentialsError({ provider: 's3', operation: 'put' })), 'credentials');
  assert.equal(archiveFailureCause(new OperationError('ERR_WAL_CONFLICT', 'x')), 'conflict');
  assert.equal(archiveFailureCause(new OperationError('ERR_WAL_ARCHIVE_NOT_EMPTY', 'x')), 'archive_not_empty');
  assert.equal(archiveFailureCause(new OperationError('ERR_WAL_READ', 'x')), 'local_file');
  assert.equal(archiveFailureCause(new UsageError('x')), 'configuration');
  assert.equal(archiveFailureCause(new Error('x')), 'other');
});

test('orphan Backups: completed plugin backups of this cluster (UID + plugin) in this store whose id is gone', () => {
  const cluster = parseClusterDefinition(clusterJson({ uid: 'U' }));
  const own = { objectStoreName: 's', serverName: 'cluster-example', origin: '' };
  const b = (status: Record<string, unknown>, method = 'plugin'): Record<string, unknown> => ({ spec: { method }, status: { phase: 'completed', backupId: 'A', ...status, pluginMetadata: { clusterUID: 'U', pluginName: 'p', ...(status.pluginMetadata as object) } } });
  assert.equal(isOrphan(b({}), cluster, own, 'p', new Set()), true);
  assert.equal(isOrphan(b({}), cluster, own, 'p', new Set(['A'])), false);
  assert.equal(isOrphan(b({ phase: 'started' }), cluster, own, 'p', new Set()), false);
  assert.equal(isOrphan(b({}, 'barmanObjectStore'), cluster, own, 'p', new Set()), false);
  assert.equal(isOrphan(b({ pluginMetadata: { clusterUID: 'other' } }), cluster, own, 'p', new Set()), false);
  assert.equal(isOrphan(b({ pluginMetadata: { pluginName: 'q' } }), cluster, own, 'p', new Set()), false);
  assert.equal(isOrphan(b({ pluginMetadata: { barmanObjectName: 'elsewhere' } }), cluster, own, 'p', new Set()), false);
});

test('the status writer merges per server name, throttles, writes at once when asked, and unsets fields', async () => {
  api.putObject(OBJECT_STORE_GROUP, 'objectstores', { apiVersion: 'barmancloud.cnpg.io/v1', kind: 'ObjectStore', metadata: { name: 'st', namespace: 'ns' }, spec: {}, status: { serverRecoveryWindow: { other: { firstRecoverabilityPoint: 'keep-me' } } } });
  const kube = new KubeApi({ env: {}, kubeconfig: api.kubeconfig });
  const reporter = new StatusReporter(kube, createJsonLogger({ stream: new PassThrough(), level: 'error' }), 60_000);
  const window = (): Record<string, Record<string, unknown>> => (api.getObject(OBJECT_STORE_GROUP, 'objectstores', 'ns', 'st')?.status as { serverRecoveryWindow: Record<string, Record<string, unknown>> }).serverRecoveryWindow;
  const puts = (): number => api.requests.filter((r) => r.startsWith('PUT /apis/barmancloud.cnpg.io/v1/namespaces/ns/objectstores/st/status')).length;
  const until = async (n: number): Promise<void> => {
    const deadline = Date.now() + 15_000;
    while (puts() < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(puts(), n);
  };
  reporter.update('ns', 'st', 'pg', { lastArchivedWAL: '000000010000000000000001', firstRecoverabilityPoint: 'x' }, { immediate: true });
  await until(1);
  reporter.update('ns', 'st', 'pg', { lastArchivedWAL: '000000010000000000000002' });
  reporter.update('ns', 'st', 'pg', { lastArchivedWAL: '000000010000000000000003' });
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(puts(), 1, 'throttled: nothing written within the interval');
  reporter.update('ns', 'st', 'pg', { lastSuccessfulBackupTime: '2026-12-06T00:00:00Z' }, { immediate: true, unset: ['firstRecoverabilityPoint'] });
  await until(2);
  assert.deepEqual(window(), {
    other: { firstRecoverabilityPoint: 'keep-me' },
    pg: { lastArchivedWAL: '000000010000000000000003', lastSuccessfulBackupTime: '2026-12-06T00:00:00Z' },
  });
  await reporter.close();
});

test('memory settings: what is missing from the environment', () => {
  assert.deepEqual(missingMemorySettings({ MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '32768', NODE_OPTIONS: '--max-semi-space-size=2 --x' }), []);
  assert.deepEqual(missingMemorySettings({}), ['MALLOC_MMAP_THRESHOLD_=32768', 'MALLOC_ARENA_MAX=2', 'NODE_OPTIONS=--max-semi-space-size=2']);
});
