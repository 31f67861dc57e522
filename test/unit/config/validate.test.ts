import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateCluster, validateObjectStore, parseTargetTime } from '../../../src/config/validate.js';

const sel = (name: string, key: string): { name: string; key: string } => ({ name, key });

function cluster(store: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}): unknown {
  return {
    apiVersion: 'postgresql.cnpg.io/v1', kind: 'Cluster', metadata: { name: 'pg' },
    spec: { instances: 1, ...(store ? { backup: { barmanObjectStore: store } } : {}), ...extra },
  };
}

const s3keys = { accessKeyId: sel('c', 'id'), secretAccessKey: sel('c', 'secret') };

test('exactly one credential kind (CNPG messages, field path named)', () => {
  assert.deepEqual(validateCluster(cluster({ destinationPath: 's3://b/p' })), [
    { path: 'spec.backup.barmanObjectStore', message: 'missing credentials. One and only one of azureCredentials, s3Credentials and googleCredentials are required' },
  ]);
  const two = validateCluster(cluster({ destinationPath: 's3://b/p', s3Credentials: s3keys, googleCredentials: { gkeEnvironment: true } }));
  assert.ok(two.some((e) => e.path === 'spec.backup.barmanObjectStore' && e.message.startsWith('too many credentials.')));
  assert.deepEqual(validateCluster(cluster({ destinationPath: 's3://b/p', s3Credentials: s3keys })), []);
});

test('S3 rules: one method; both keys; IAM role alone; region/sessionToken are not methods', () => {
  const p = 'spec.backup.barmanObjectStore.s3Credentials';
  assert.deepEqual(validateCluster(cluster({ destinationPath: 's3://b', s3Credentials: {} })), [{ path: p, message: 'at least one AWS authentication method should be supplied' }]);
  assert.deepEqual(validateCluster(cluster({ destinationPath: 's3://b', s3Credentials: { region: sel('c', 'r'), sessionToken: sel('c', 't') } })),
    [{ path: p, message: 'at least one AWS authentication method should be supplied' }]);
  assert.deepEqual(validateCluster(cluster({ destinationPath: 's3://b', s3Credentials: { accessKeyId: sel('c', 'id') } })),
    [{ path: p, message: 'when using AWS credentials both accessKeyId and secretAccessKey must be provided' }]);
  assert.deepEqual(validateCluster(cluster({ destinationPath: 's3://b', s3Credentials: { ...s3keys, inheritFromIAMRole: true } })),
    [{ path: p, message: 'only one AWS authentication method should be supplied' }]);
  assert.deepEqual(validateCluster(cluster({ destinationPath: 's3://b', s3Credentials: { inheritFromIAMRole: true } })), []);
});

test('Azure rules', () => {
  const p = 'spec.backup.barmanObjectStore.azureCredentials';
  const url = 'https://acct.blob.core.windows.net/c/p';
  const v = (az: Record<string, unknown>): string[] => validateCluster(cluster({ destinationPath: url, azureCredentials: az })).map((e) => `${e.path}: ${e.message}`);
  assert.deepEqual(v({ connectionString: sel('a', 'cs') }), []);
  assert.deepEqual(v({ storageAccount: sel('a', 'acct'), storageKey: sel('a', 'k') }), []);
  assert.deepEqual(v({ storageAccount: sel('a', 'acct'), storageSasToken: sel('a', 's') }), []);
  assert.deepEqual(v({ inheritFromAzureAD: true }), []);
  assert.deepEqual(v({ useDefaultAzureCredentials: true }), []);
  assert.deepEqual(v({}), [`${p}: when connection string is not specified, one and only one of storage key, storage SAS token, Azure AD authentication, or default Azure credentials is required`]);
  assert.deepEqual(v({ storageKey: sel('a', 'k') }), [`${p}: storage account must be specified when using storage key or SAS token`]);
  assert.deepEqual(v({ connectionString: sel('a', 'cs'), storageAccount: sel('a', 'acct') }), [`${p}: when connection string is specified, the other parameters must be empty`]);
  assert.equal(v({ storageAccount: sel('a', 'acct'), storageKey: sel('a', 'k'), inheritFromAzureAD: true }).length, 1);
});

test('GCS rules are reported under the real path (not CNPG\'s hard-coded spec.backupConfiguration)', () => {
  const p = 'spec.backup.barmanObjectStore.googleCredentials';
  assert.deepEqual(validateCluster(cluster({ destinationPath: 'gs://b', googleCredentials: {} })), [{ path: p, message: 'if gkeEnvironment is false, secret with credentials must be provided' }]);
  assert.deepEqual(validateCluster(cluster({ destinationPath: 'gs://b', googleCredentials: { gkeEnvironment: true, applicationCredentials: sel('g', 'j') } })),
    [{ path: p, message: 'if gkeEnvironment is true, secret with credentials must not be provided' }]);
});

test('structure: types, enums, minimum, pattern, unknown fields, required destinationPath; all errors at once', () => {
  const errors = validateCluster({
    apiVersion: 'postgresql.cnpg.io/v1', kind: 'Cluster', metadata: { name: 'pg' },
    spec: {
      backup: {
        retentionPolicy: '30 days',
        barmanObjectStore: {
          s3Credentials: { accessKeyId: { name: 'x' }, secretAccessKey: sel('c', 's') },
          wal: { compression: 'brotli', maxParallel: 0 },
          data: { compression: 'zstd', jobs: 'two' },
          endpointUrl: 'http://typo',
          tags: { n: 1 },
        },
      },
    },
  }).map((e) => e.path);
  assert.deepEqual(errors.sort(), [
    'spec.backup.barmanObjectStore.data.compression',
    'spec.backup.barmanObjectStore.data.jobs',
    'spec.backup.barmanObjectStore.destinationPath',
    'spec.backup.barmanObjectStore.endpointUrl',
    'spec.backup.barmanObjectStore.s3Credentials.accessKeyId.key',
    'spec.backup.barmanObjectStore.tags.n',
    'spec.backup.barmanObjectStore.wal.compression',
    'spec.backup.barmanObjectStore.wal.maxParallel',
    'spec.backup.retentionPolicy',
  ]);
});

test('retention policy pattern ^[1-9][0-9]*[dwm]$ (fully anchored)', () => {
  for (const ok of ['30d', '4w', '1m', '365d']) assert.deepEqual(validateCluster(cluster({ destinationPath: 's3://b', s3Credentials: s3keys }, { backup: { retentionPolicy: ok, barmanObjectStore: { destinationPath: 's3://b', s3Credentials: s3keys } } })), [], ok);
  for (const bad of ['0d', '30', 'd', '30y', 'x30d', '30dd', '030d']) {
    const e = validateCluster(cluster(undefined, { backup: { retentionPolicy: bad, barmanObjectStore: { destinationPath: 's3://b', s3Credentials: s3keys } } }));
    assert.equal(e[0]?.path, 'spec.backup.retentionPolicy', bad);
  }
});

test('destinationPath must suit the provider chosen by the credentials', () => {
  const e = validateCluster(cluster({ destinationPath: 'gs://bucket', s3Credentials: s3keys }));
  assert.equal(e[0]?.path, 'spec.backup.barmanObjectStore.destinationPath');
  assert.match(e[0]?.message ?? '', /invalid s3 URL/);
});

test('recovery-target rules', () => {
  const ext = [{ name: 'origin', barmanObjectStore: { destinationPath: 's3://b', s3Credentials: s3keys } }];
  const rec = (recovery: Record<string, unknown>): string[] => validateCluster(cluster(undefined, { externalClusters: ext, bootstrap: { recovery } })).map((e) => `${e.path}: ${e.message}`);
  assert.deepEqual(rec({ source: 'origin', recoveryTarget: { targetTime: '2026-01-02 15:04:05+00' } }), []);
  assert.deepEqual(rec({ source: 'origin', recoveryTarget: { backupID: '20260101T000000', targetName: 'before-upgrade' } }), []);
  assert.match(rec({ source: 'origin', recoveryTarget: { targetTime: '2026-01-02T00:00:00Z', targetLSN: '0/3000060' } })[0] ?? '', /recovery target too broad/);
  assert.match(rec({ source: 'origin', recoveryTarget: { targetName: 'x' } })[0] ?? '', /targetName: targetName requires backupID/);
  assert.match(rec({ source: 'origin', recoveryTarget: { targetXID: '1234' } })[0] ?? '', /targetXID requires backupID/);
  assert.match(rec({ source: 'origin', recoveryTarget: { targetImmediate: true } })[0] ?? '', /targetImmediate requires backupID/);
  assert.match(rec({ volumeSnapshots: { storage: {} }, recoveryTarget: { backupID: 'x' } })[0] ?? '', /backupID cannot be used with volumeSnapshots/);
  assert.deepEqual(rec({ volumeSnapshots: { storage: {} }, recoveryTarget: { targetName: 'x' } }), []);
  assert.match(rec({ source: 'nope' })[0] ?? '', /external cluster "nope" is not defined/);
  assert.match(rec({ source: 'origin', recoveryTarget: { targetTLI: '0' } })[0] ?? '', /targetTLI/);
  assert.match(rec({ source: 'origin', recoveryTarget: { targetLSN: 'zz' } })[0] ?? '', /not a valid LSN/);
  assert.match(rec({ source: 'origin', recoveryTarget: { targetTime: 'yesterday' } })[0] ?? '', /not a valid time/);
  assert.equal(parseTargetTime('2026-01-02 15:04:05'), Date.parse('2026-01-02T15:04:05Z'));
  assert.equal(parseTargetTime('2026-01-02 15:04:05.5+02'), Date.parse('2026-01-02T13:04:05.5Z'));
});

test('ObjectStore: serverName forbidden in spec.configuration (CEL rule), configuration required', () => {
  const os = (configuration: unknown): string[] => validateObjectStore({ apiVersion: 'barmancloud.cnpg.io/v1', kind: 'ObjectStore', metadata: { name: 'o' }, spec: { configuration } }).map((e) => e.path);
  assert.deepEqual(os({ destinationPath: 's3://b', s3Credentials: s3keys }), []);
  assert.deepEqual(os({ destinationPath: 's3://b', serverName: 'x', s3Credentials: s3keys }), ['spec.configuration.serverName']);
  assert.deepEqual(os(undefined), ['spec.configuration']);
});

test('barmanObjectStore together with a WAL-archiver plugin is refused', () => {
  const e = validateCluster(cluster({ destinationPath: 's3://b', s3Credentials: s3keys }, { plugins: [{ name: 'barman-cloud.cloudnative-pg.io', isWALArchiver: true }] }));
  assert.match(e[0]?.message ?? '', /isWALArchiver/);
});
