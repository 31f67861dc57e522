/**
 * What the long-lived sidecar loads on GCS (issues 12/15): with GKE workload identity (gkeEnvironment: the token
 * from the metadata server), archiving a segment (the listing of existing copies, the create-only upload) and
 * restoring it (the listing, the metadata, the media) go out on node:http (drivers/gcs/lean-reads.ts,
 * lean-token.ts, lean-upload.ts), so the sidecar never loads the Google SDK (~20 MiB RSS and ~80 ms of CPU for its
 * load). The emulator requires the bearer token its metadata server issues. The same probe as
 * sidecar-modules.test.ts lists the CommonJS files the sidecar required.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OBJECT_STORE_GROUP } from '../../src/plugin/kube/kube-api.js';
import { requireServer } from '../harness/test-env.js';
import { startGcsEmulator, type GcsEmulator } from '../harness/servers/gcs.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';
import { chownToPostgres } from '../harness/tmp.js';
import { syntheticSegment } from '../harness/wal-segments.js';
import { cnpgCall, startSidecar, type Sidecar } from './cnpg-harness.js';
import { NAMESPACE, pluginEnv, type PluginEnv } from './plugin-env.js';

const PROBE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'module-list-probe.js');
const SEGMENT = '000000010000000000000001';
/** The Google SDK from node_modules or as the build bundles it (dist/src/vendor/@google-cloud/storage.cjs). */
const GOOGLE_SDK = /[/\\]@google-cloud[/\\]|[/\\]google-auth-library[/\\]|[/\\]gaxios[/\\]|[/\\]gcp-metadata[/\\]/;

let env: PluginEnv | undefined;
let emulator: GcsEmulator | undefined;
let sidecar: Sidecar | undefined;
let required: string[] = [];
let segment: Buffer;
let restored: Buffer | undefined;
let missingRestored = true;

before(async () => {
  // The sidecar's own GCS emulator (token required); the global one only tells that GCS tests were asked for.
  if (!requireServer(undefined, 'gcs')) return;
  env = await pluginEnv({ skip: () => undefined } as never, 'sidecar-modules-gcs');
  if (!env) return;
  emulator = await startGcsEmulator({ requireToken: 'pgstow-sidecar-token', tmpDir: env.dir });
  const pgdata = path.join(env.dir, 'pgdata');
  fs.mkdirSync(path.join(pgdata, 'pg_wal', 'archive_status'), { recursive: true });
  const file = path.join(pgdata, 'pg_wal', SEGMENT);
  segment = syntheticSegment(SEGMENT, { segmentSize: 1024 * 1024, seed: 3 });
  fs.writeFileSync(file, segment);
  fs.writeFileSync(path.join(pgdata, 'pg_wal', 'archive_status', `${SEGMENT}.ready`), '');
  const dest = path.join(env.dir, 'restored');
  fs.mkdirSync(dest);
  chownToPostgres(pgdata);
  chownToPostgres(dest);
  env.api.putObject(OBJECT_STORE_GROUP, 'objectstores', {
    apiVersion: 'barmancloud.cnpg.io/v1', kind: 'ObjectStore', metadata: { name: 'gcsstore', namespace: NAMESPACE },
    spec: { configuration: {
      destinationPath: `gs://${TEST_BUCKET}/${uniquePrefix('sidecar-gcs')}`, endpointURL: emulator.endpoint,
      googleCredentials: { gkeEnvironment: true }, wal: { compression: 'gzip' },
    } },
  });
  const cluster = fs.readFileSync(env.clusterFile('primary', { plugin: { barmanObjectName: 'gcsstore' }, withoutTypeMeta: true }));
  const moduleList = path.join(env.pluginPath, 'module-list.txt');
  sidecar = await startSidecar({
    mode: 'instance', pluginPath: env.pluginPath,
    env: env.sidecarEnv({ PGDATA: pgdata, NODE_OPTIONS: `--import=${PROBE}`, PGSTOW_TEST_MODULE_LIST: moduleList, GCE_METADATA_HOST: emulator.metadataHost }),
  });
  await cnpgCall(sidecar.socket, 'WAL', 'Archive', { cluster_definition: cluster, source_file_name: file, parameters: {} });
  const into = path.join(dest, 'RECOVERYXLOG');
  const restore = (name: string, to: string): Promise<unknown> => cnpgCall(sidecar!.socket, 'WAL', 'Restore',
    { cluster_definition: cluster, source_wal_name: name, destination_file_name: to, parameters: {}, mode: 'MODE_UNSPECIFIED' });
  await restore(SEGMENT, into);
  restored = fs.readFileSync(into);
  await restore('000000010000000000000009', path.join(dest, 'RECOVERYXLOG.9')).catch(() => undefined); // answered not found
  missingRestored = fs.existsSync(path.join(dest, 'RECOVERYXLOG.9'));
  assert.equal(await sidecar.stop(), 0, sidecar.log);
  required = fs.readFileSync(`${moduleList}.cjs`, 'utf8').split('\n');
});

after(async () => {
  await sidecar?.stop();
  await emulator?.stop();
  await env?.close();
});

test('the sidecar archived the segment on GCS (workload identity token) and restored it byte for byte; a missing one is not found', (t) => {
  if (!env) return t.skip();
  assert.ok(restored?.equals(segment), 'the restored segment is the archived one');
  assert.equal(missingRestored, false, 'a segment not in the archive is not restored');
});

test('a sidecar that archived and restored a segment on GCS with workload identity has not loaded the Google SDK (~20 MiB RSS, ~80 ms CPU to load)', (t) => {
  if (!env) return t.skip();
  assert.ok(required.some((f) => /grpc-js/.test(f)), `the probe listed the sidecar's files: ${required.join('\n')}`);
  assert.deepEqual(required.filter((f) => GOOGLE_SDK.test(f)), []);
});
