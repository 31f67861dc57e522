/**
 * What the long-lived sidecar loads on Azure (issue 12): with an account key, archiving a segment (the listing of
 * existing copies, the create-only Put Blob) and restoring it (List Blobs, Get Blob) go through the lean store
 * (drivers/azure-blob/lean-store.ts), so the sidecar never loads the Azure SDK (~86 MB RSS for its import alone).
 * The same probe as sidecar-modules.test.ts lists the CommonJS files it required.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OBJECT_STORE_GROUP } from '../../src/plugin/kube/kube-api.js';
import { requireServer } from '../harness/test-env.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';
import { chownToPostgres } from '../harness/tmp.js';
import { syntheticSegment } from '../harness/wal-segments.js';
import { cnpgCall, startSidecar, type Sidecar } from './cnpg-harness.js';
import { NAMESPACE, pluginEnv, type PluginEnv } from './plugin-env.js';

const PROBE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'module-list-probe.js');
const SEGMENT = '000000010000000000000001';
/** The blob SDK from node_modules or as the build bundles it (dist/src/vendor/@azure/storage-blob.cjs). */
const BLOB_SDK = /[/\\]@azure[/\\](storage-blob|core-rest-pipeline|core-client)([/\\]|\.cjs$)/;

let env: PluginEnv | undefined;
let sidecar: Sidecar | undefined;
let required: string[] = [];
let segment: Buffer;
let restored: Buffer | undefined;

before(async () => {
  const azurite = requireServer(undefined, 'azurite');
  env = await pluginEnv({ skip: () => undefined } as never, 'sidecar-modules-azure');
  if (!env || !azurite) return;
  const pgdata = path.join(env.dir, 'pgdata');
  fs.mkdirSync(path.join(pgdata, 'pg_wal', 'archive_status'), { recursive: true });
  const file = path.join(pgdata, 'pg_wal', SEGMENT);
  segment = syntheticSegment(SEGMENT, { segmentSize: 1024 * 1024, seed: 2 });
  fs.writeFileSync(file, segment);
  fs.writeFileSync(path.join(pgdata, 'pg_wal', 'archive_status', `${SEGMENT}.ready`), '');
  const dest = path.join(env.dir, 'restored');
  fs.mkdirSync(dest);
  chownToPostgres(pgdata);
  chownToPostgres(dest);
  env.api.setSecret(NAMESPACE, 'azcreds', { ACCOUNT: azurite.account, KEY: azurite.accountKey });
  env.api.putObject(OBJECT_STORE_GROUP, 'objectstores', {
    apiVersion: 'barmancloud.cnpg.io/v1', kind: 'ObjectStore', metadata: { name: 'azstore', namespace: NAMESPACE },
    spec: { configuration: {
      destinationPath: `${azurite.accountUrl}/${TEST_BUCKET}/${uniquePrefix('sidecar-azure')}`,
      azureCredentials: { storageAccount: { name: 'azcreds', key: 'ACCOUNT' }, storageKey: { name: 'azcreds', key: 'KEY' } },
      wal: { compression: 'gzip' },
    } },
  });
  const cluster = fs.readFileSync(env.clusterFile('primary', { plugin: { barmanObjectName: 'azstore' }, withoutTypeMeta: true }));
  const moduleList = path.join(env.pluginPath, 'module-list.txt');
  sidecar = await startSidecar({
    mode: 'instance', pluginPath: env.pluginPath,
    env: env.sidecarEnv({ PGDATA: pgdata, NODE_OPTIONS: `--import=${PROBE}`, PGSTOW_TEST_MODULE_LIST: moduleList }),
  });
  await cnpgCall(sidecar.socket, 'WAL', 'Archive', { cluster_definition: cluster, source_file_name: file, parameters: {} });
  const into = path.join(dest, 'RECOVERYXLOG');
  await cnpgCall(sidecar.socket, 'WAL', 'Restore', { cluster_definition: cluster, source_wal_name: SEGMENT, destination_file_name: into, parameters: {}, mode: 'MODE_UNSPECIFIED' });
  restored = fs.readFileSync(into);
  assert.equal(await sidecar.stop(), 0, sidecar.log);
  required = fs.readFileSync(`${moduleList}.cjs`, 'utf8').split('\n');
});

after(async () => {
  await sidecar?.stop();
  await env?.close();
});

test('the sidecar archived the segment on Azurite and restored it byte for byte', (t) => {
  if (!env) return t.skip();
  assert.ok(restored?.equals(segment), 'the restored segment is the archived one');
});

test('a sidecar that archived and restored a segment on Azure with an account key has not loaded the Azure SDK (~86 MB RSS for its import alone)', (t) => {
  if (!env) return t.skip();
  assert.ok(required.some((f) => /grpc-js/.test(f)), `the probe listed the sidecar's files: ${required.join('\n')}`);
  assert.deepEqual(required.filter((f) => BLOB_SDK.test(f)), []);
});
