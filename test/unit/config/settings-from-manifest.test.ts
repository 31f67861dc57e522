/**
 * The manifest mapping and CloudNativePG's rule for *AdditionalCommandArgs as a settings merge: the manifest's
 * fields become settings through the option table; extra args add settings but never override the manifest or
 * the command line; the command line overrides the manifest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { settingsFromObjectStore, withAdditionalArgs } from '../../../src/config/settings-from-manifest.js';
import { applyOptionValues } from '../../../src/config/settings-from-cli.js';
import { mergeSettings } from '../../../src/config/settings-merge.js';
import { parseArgs } from '../../../src/config/argv.js';
import { COMMAND_OPTIONS } from '../../../src/config/options.js';
import { MissingSecretsError } from '../../../src/config/secrets.js';
import { revealText, Secret } from '../../../src/secret.js';
import type { EngineSettings } from '../../../src/engine/settings.js';
import type { BarmanObjectStoreConfiguration } from '../../../src/config/schema.js';

const base: EngineSettings = { destination: 's3://b', serverName: 'srv' };

test('CNPG rule: additional args add settings but never override what is already set', () => {
  const added = withAdditionalArgs(base, 'backup', ['--read-timeout=60', '--min-chunk-size=5MB']).settings;
  assert.equal(added.readTimeoutSeconds, 60);
  assert.equal(added.data?.minChunkSize, 5 * 1024 * 1024);
  assert.equal(withAdditionalArgs({ ...base, readTimeoutSeconds: 5 }, 'backup', ['--read-timeout=60']).settings.readTimeoutSeconds, 5);
  assert.equal(withAdditionalArgs({ ...base, readTimeoutSeconds: 5 }, 'backup', ['--read-timeout', '60']).settings.readTimeoutSeconds, 5);
  const dup = withAdditionalArgs(base, 'wal-archive', ['--gzip', '--gzip', '=x']);
  assert.equal(dup.settings.wal?.compression, 'gzip', 'a repeated flag counts once; an argument without a key is dropped');
  // Per-call options the args carry (a backup's name) are returned for the command to use.
  assert.equal(withAdditionalArgs(base, 'backup', ['--name=nightly']).values.backupName, 'nightly');
});

test('manifest fields become settings through the option table; the command line wins over them', () => {
  const configuration = {
    destinationPath: 's3://bucket/prefix', endpointURL: 'http://minio:9000',
    s3Credentials: { accessKeyId: { name: 'c', key: 'id' }, secretAccessKey: { name: 'c', key: 'secret' } },
    wal: { compression: 'gzip', encryption: 'AES256', maxParallel: 4 },
    data: { compression: 'snappy', jobs: 3, immediateCheckpoint: true },
    tags: { env: 'prod', team: 'dba' },
  } as BarmanObjectStoreConfiguration;
  const values: Record<string, string> = { id: 'AKIAX', secret: 'sek' };
  const manifest = settingsFromObjectStore({ configuration, serverName: 'pg', secret: (sel) => values[sel.key] });
  assert.equal(manifest.provider, 'aws-s3');
  assert.equal(manifest.endpointUrl, 'http://minio:9000');
  assert.deepEqual(manifest.wal, { compression: 'gzip', encryption: 'AES256', maxParallel: 4 });
  assert.deepEqual(manifest.data, { compression: 'snappy', jobs: 3, immediateCheckpoint: true });
  assert.deepEqual(manifest.tags, { env: 'prod', team: 'dba' });
  const c = manifest.credentials;
  assert.ok(c?.kind === 's3-access-key' && revealText(c.accessKeyId) === 'AKIAX' && revealText(c.secretAccessKey) === 'sek');

  // The command line wins: --bzip2 replaces the manifest's gzip, -e replaces its encryption; the rest stays.
  const spec = { name: 'x', summary: '', positionals: [], options: COMMAND_OPTIONS['wal-archive'] };
  const flags: EngineSettings = { destination: manifest.destination, serverName: 'pg' };
  applyOptionValues(flags, 'wal-archive', parseArgs(spec, ['-j', '-e', 'aws:kms']).options);
  const merged = mergeSettings(flags, manifest);
  assert.equal(merged.wal?.compression, 'bzip2');
  assert.equal(merged.wal?.encryption, 'aws:kms');
  assert.equal(merged.wal?.maxParallel, 4);
  assert.deepEqual(merged.tags, { env: 'prod', team: 'dba' });
});

test('every unresolved Secret is reported at once, naming the field', () => {
  const configuration = {
    destinationPath: 's3://bucket', s3Credentials: { accessKeyId: { name: 'c', key: 'id' }, secretAccessKey: { name: 'c', key: 'secret' } },
    endpointCA: { name: 'ca', key: 'ca.crt' },
  } as BarmanObjectStoreConfiguration;
  assert.throws(() => settingsFromObjectStore({ configuration, serverName: 'pg', secret: () => undefined }), (err: unknown) => {
    assert.ok(err instanceof MissingSecretsError);
    assert.deepEqual(err.missing.map((m) => m.field), ['spec.configuration.s3Credentials.accessKeyId', 'spec.configuration.s3Credentials.secretAccessKey', 'spec.configuration.endpointCA']);
    return true;
  });
});

test('a region read from a Secret (as the plugin reads it) reaches the settings as its text, not as ***', () => {
  const configuration = {
    destinationPath: 's3://bucket/prefix',
    s3Credentials: { accessKeyId: { name: 'c', key: 'id' }, secretAccessKey: { name: 'c', key: 'secret' }, region: { name: 'c', key: 'region' } },
  } as BarmanObjectStoreConfiguration;
  const values: Record<string, string> = { id: 'AKIAX', secret: 'sek', region: 'eu-west-3' };
  const settings = settingsFromObjectStore({ configuration, serverName: 'pg', secret: (sel) => new Secret(values[sel.key]!, `Secret c key ${sel.key}`) });
  assert.equal(settings.s3?.region, 'eu-west-3');
});
