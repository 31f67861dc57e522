/**
 * The plugin's door to the engine (src/plugin/instance/engine-port.ts): an ObjectStore and its Secret become
 * engine settings, and each *AdditionalCommandArgs reaches its own command only, filling what the manifest
 * leaves unset (CloudNativePG passes them to that one barman-cloud command). Then the port's engines against
 * a real S3 server (s3rver): the archive runs with wal-archive's args, the restore without them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { requireServer } from '../harness/test-env.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';
import { syntheticSegment } from '../harness/wal-segments.js';
import { openStoreFromEnv } from '../harness/store-options.js';
import { openEngine, settingsFromObjectStore, type ObjectStoreSource } from '../../src/plugin/instance/engine-port.js';
import type { SecretSource } from '../../src/config/secrets.js';
import { isCommonPrefix } from '../../src/storage/object-store.js';
import { BarmanLayout } from '../../src/repository/barman-layout.js';

const quiet = { debug: () => {}, info: () => {}, warning: () => {} };

function source(endpoint: string, keys: { id: string; secret: string; region: string }, destination: string, configuration: Record<string, unknown>): ObjectStoreSource {
  const values: Record<string, string> = { ID: keys.id, KEY: keys.secret, REGION: keys.region };
  const secrets: SecretSource = {
    description: 'test secrets',
    async lookup(_ns, name, key) {
      return name === 'creds' && values[key] !== undefined ? { found: true, value: values[key] as string, origin: `creds/${key}` } : { found: false, secretExists: name === 'creds', looked: 'test' };
    },
  };
  return {
    namespace: 'default', name: 'store', serverName: 'pg', secrets, env: {},
    resource: {
      apiVersion: 'barmancloud.cnpg.io/v1', kind: 'ObjectStore', metadata: { name: 'store', namespace: 'default' },
      spec: {
        configuration: {
          destinationPath: destination, endpointURL: endpoint,
          s3Credentials: { accessKeyId: { name: 'creds', key: 'ID' }, secretAccessKey: { name: 'creds', key: 'KEY' }, region: { name: 'creds', key: 'REGION' } },
          ...configuration,
        },
      },
    },
  };
}

const ARGS = {
  wal: { archiveAdditionalCommandArgs: ['--gzip', '--read-timeout=7', '--tags=origin,archive'], restoreAdditionalCommandArgs: ['--no-partial'] },
  data: { compression: 'bzip2', additionalCommandArgs: ['--tags=origin,backup', '--orphan-age=60', '--gzip'], restoreAdditionalCommandArgs: ['--jobs=3', '--streams=2'] },
};

test('each *AdditionalCommandArgs fills its own command\'s settings only; the manifest keeps what it sets', async () => {
  const s = await settingsFromObjectStore(source('http://127.0.0.1:1', { id: 'a', secret: 'b', region: 'us-east-1' }, 's3://bucket/x', ARGS));
  assert.equal(s.engine.s3?.region, 'us-east-1', 'the region from the Secret, as text');
  const archive = s.commands['wal-archive']?.settings;
  assert.equal(archive?.wal?.compression, 'gzip');
  assert.equal(archive?.readTimeoutSeconds, 7);
  assert.deepEqual(archive?.tags, { origin: 'archive' });
  const backup = s.commands.backup?.settings;
  assert.deepEqual(backup?.tags, { origin: 'backup' }, 'the backup\'s own --tags, never wal-archive\'s');
  assert.equal(backup?.readTimeoutSeconds, undefined, 'wal-archive\'s --read-timeout does not reach a backup');
  assert.equal(backup?.data?.compression, 'bzip2', 'the manifest\'s data.compression wins over --gzip');
  assert.equal(backup?.wal?.compression, undefined);
  assert.equal(s.commands.backup?.values.orphanAge, 60);
  const restore = s.commands.restore?.settings;
  assert.equal(restore?.data?.jobs, 3);
  assert.equal(restore?.readTimeoutSeconds, undefined);
  assert.equal(restore?.tags, undefined);
  assert.equal(s.commands.restore?.values.streams, 2);
  assert.equal(s.commands['wal-restore']?.values.noPartial, true);
  assert.equal(s.commands['wal-restore']?.settings.wal?.compression, undefined);
  // The manifest's settings (catalog, retention, checks) carry none of them.
  assert.equal(s.engine.readTimeoutSeconds, undefined);
  assert.equal(s.engine.tags, undefined);
  assert.equal(s.engine.wal?.compression, undefined);
  assert.equal(s.engine.data?.jobs, undefined);
  // Without additional args there is nothing per command.
  const plain = await settingsFromObjectStore(source('http://127.0.0.1:1', { id: 'a', secret: 'b', region: 'us-east-1' }, 's3://bucket/x', {}));
  assert.deepEqual(plain.commands, {});
});

test('the port\'s engines on s3rver: the archive uses wal-archive\'s args, the restore reads it back, close() closes all', async (t) => {
  const s3 = requireServer(t, 's3rver');
  if (!s3) return;
  const dir = makeTempDir('engine-port');
  const destination = `s3://${TEST_BUCKET}/${uniquePrefix('engine-port')}`;
  try {
    const settings = await settingsFromObjectStore(source(s3.endpoint, { id: s3.accessKeyId, secret: s3.secretAccessKey, region: s3.region }, destination,
      { wal: { archiveAdditionalCommandArgs: ['--gzip'] } }));
    const engine = await openEngine(settings, { log: quiet });
    const name = '000000010000000000000003';
    const walPath = path.join(dir, name);
    fs.writeFileSync(walPath, syntheticSegment(name));
    await engine.archiveWal(walPath);
    const raw = await openStoreFromEnv({ provider: 'aws-s3', destinationUrl: destination, endpointUrl: s3.endpoint, env: {
      AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_DEFAULT_REGION: s3.region } });
    const keys: string[] = [];
    for await (const e of raw.store.list(new BarmanLayout(raw.destination.prefix, 'pg').walDir(name))) if (!isCommonPrefix(e)) keys.push(e.key);
    await raw.store.close();
    assert.deepEqual(keys.map((k) => path.basename(k)), [`${name}.gz`], 'archived with wal-archive\'s --gzip');
    await engine.restoreWal(name, path.join(dir, 'restored'));
    assert.deepEqual(fs.readFileSync(path.join(dir, 'restored')), fs.readFileSync(walPath));
    assert.equal((await engine.listBackups()).backups.length, 0);
    await engine.close();
    await assert.rejects(engine.archiveWal(walPath), /closed/);
    await assert.rejects(engine.listBackups(), /closed/);
  } finally {
    removeDir(dir);
  }
});
