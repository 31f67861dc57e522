/** SetStatusInCluster's object, from the ObjectStore status the instance sidecar writes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterPluginStatus, coarseAge } from '../../../../src/plugin/operator/cluster-status.js';
import { objectStore, type Json } from './fixtures.js';

const NOW = new Date('2026-12-01T12:00:00Z');

function storeWith(entry: Json | undefined): Json {
  const s = objectStore('minio-store');
  if (entry) s.status = { serverRecoveryWindow: { 'cluster-example': entry, other: { lastArchivedWAL: 'x' } } };
  return s;
}

test('healthy archiving: last WAL, its time and coarse age, recovery window, last backup', () => {
  const status = clusterPluginStatus({ name: 'minio-store', serverName: 'cluster-example', object: storeWith({
    firstRecoverabilityPoint: '2026-11-24T11:00:00Z', lastSuccessfulBackupTime: '2026-12-01T02:00:00Z', lastSuccessfulBackupName: 'backup-20261201020000',
    lastBackupDurationSeconds: 93.5, lastBackupSizeBytes: 1073741824, lastArchivedWAL: '00000001000000000000002A', lastArchivedWALTime: '2026-12-01T11:59:30Z',
    lastArchiveFailureTime: '2026-11-30T08:00:00Z', lastArchiveFailure: 'old failure',
  }) }, NOW);
  assert.deepEqual(status, {
    objectStore: 'minio-store', serverName: 'cluster-example', archiving: 'ok',
    lastArchivedWAL: '00000001000000000000002A', lastArchivedWALTime: '2026-12-01T11:59:30Z', lastArchivedWALAge: '<1m',
    lastArchiveFailureTime: '2026-11-30T08:00:00Z',
    firstRecoverabilityPoint: '2026-11-24T11:00:00Z', recoveryWindow: '7d',
    lastSuccessfulBackup: 'backup-20261201020000', lastSuccessfulBackupTime: '2026-12-01T02:00:00Z', lastSuccessfulBackupAge: '10h',
    lastBackupDurationSeconds: 93.5, lastBackupSizeBytes: 1073741824,
  });
});

test('failing archiving shows the failure line, newer than the last success', () => {
  const status = clusterPluginStatus({ name: 'minio-store', serverName: 'cluster-example', object: storeWith({
    lastArchivedWAL: '000000010000000000000010', lastArchivedWALTime: '2026-12-01T11:00:00Z',
    lastArchiveFailureTime: '2026-12-01T11:58:00Z', lastArchiveFailure: 'S3 PutObject on s3://backups/: AccessDenied',
  }) }, NOW);
  assert.equal(status.archiving, 'failing');
  assert.equal(status.lastArchivedWALAge, '1h');
  assert.equal(status.lastArchiveFailure, 'S3 PutObject on s3://backups/: AccessDenied');
});

test('no store: empty object (CNPG leaves the status alone); store without status: says so', () => {
  assert.deepEqual(clusterPluginStatus(undefined, NOW), {});
  assert.deepEqual(clusterPluginStatus({ name: 'minio-store', serverName: 'cluster-example', object: storeWith(undefined) }, NOW),
    { objectStore: 'minio-store', serverName: 'cluster-example', archiving: 'no status yet from the instance sidecar' });
});

test('ages are coarse so the status stays still between reconciles', () => {
  assert.equal(coarseAge('2026-12-01T11:59:01Z', NOW), '<1m');
  assert.equal(coarseAge('2026-12-01T11:58:59Z', NOW), '1m');
  assert.equal(coarseAge('2026-12-01T11:00:01Z', NOW), '59m');
  assert.equal(coarseAge('2026-11-30T12:00:01Z', NOW), '23h');
  assert.equal(coarseAge('2026-11-01T12:00:00Z', NOW), '30d');
  assert.equal(coarseAge('not a date', NOW), undefined);
  assert.equal(coarseAge('2026-12-01T12:00:30Z', NOW), '<1m', 'clock skew: a future time is not negative');
});
