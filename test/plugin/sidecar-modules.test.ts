/**
 * What the long-lived sidecar loads: modules it never uses stay on its heap for the life of the pod (issue 12).
 * The sidecar starts, archives one segment (reading its ObjectStore and Secret from the Kubernetes API and
 * uploading to S3), and stops; a probe loaded with `node --import` lists the built-in modules and CommonJS files it
 * loaded.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chownToPostgres } from '../harness/tmp.js';
import { syntheticSegment } from '../harness/wal-segments.js';
import { cnpgCall, startSidecar, type Sidecar } from './cnpg-harness.js';
import { pluginEnv, type PluginEnv } from './plugin-env.js';

const PROBE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'module-list-probe.js');
const SEGMENT = '000000010000000000000001';

let env: PluginEnv | undefined;
let sidecar: Sidecar | undefined;
let moduleList: string;
let loaded: string[] = [];
let required: string[] = [];

before(async () => {
  env = await pluginEnv({ skip: () => undefined } as never, 'sidecar-modules');
  if (!env) return;
  const pgdata = path.join(env.dir, 'pgdata');
  fs.mkdirSync(path.join(pgdata, 'pg_wal', 'archive_status'), { recursive: true });
  const file = path.join(pgdata, 'pg_wal', SEGMENT);
  fs.writeFileSync(file, syntheticSegment(SEGMENT, { segmentSize: 1024 * 1024, seed: 1 }));
  fs.writeFileSync(path.join(pgdata, 'pg_wal', 'archive_status', `${SEGMENT}.ready`), '');
  chownToPostgres(pgdata);
  env.putObjectStore('store', { wal: { compression: 'gzip' } });
  const cluster = env.clusterFile('primary', { plugin: { barmanObjectName: 'store' }, withoutTypeMeta: true });
  moduleList = path.join(env.pluginPath, 'module-list.txt');
  sidecar = await startSidecar({
    mode: 'instance', pluginPath: env.pluginPath,
    env: env.sidecarEnv({ PGDATA: pgdata, NODE_OPTIONS: `--import=${PROBE}`, PGSTOW_TEST_MODULE_LIST: moduleList }),
  });
  await cnpgCall(sidecar.socket, 'WAL', 'Archive', { cluster_definition: fs.readFileSync(cluster), source_file_name: file, parameters: {} });
  assert.equal(await sidecar.stop(), 0, sidecar.log);
  loaded = fs.readFileSync(moduleList, 'utf8').split('\n');
  required = fs.readFileSync(`${moduleList}.cjs`, 'utf8').split('\n');
});

after(async () => {
  await sidecar?.stop();
  await env?.close();
});

test('the probe saw the sidecar load its HTTP stack (the list is the sidecar\'s)', (t) => {
  if (!env) return t.skip();
  assert.ok(loaded.includes('NativeModule http'), loaded.join('\n'));
});

test('a sidecar that archived a segment has not loaded Node\'s own undici (node:http imported as an ES module loads it: ~750 KiB of source on the heap)', (t) => {
  if (!env) return t.skip();
  assert.deepEqual(loaded.filter((m) => /undici/.test(m)), []);
});

test('a sidecar that read its ObjectStore and Secret from the Kubernetes API has not loaded node:stream/web (the Kubernetes client\'s fetch did, with its transform, encoding and compression streams)', (t) => {
  if (!env) return t.skip();
  assert.deepEqual(loaded.filter((m) => /^NativeModule (stream\/web|internal\/webstreams\/(transformstream|queuingstrategies|encoding|adapters|compression))$/.test(m)), []);
});

test('a sidecar that archived a segment on S3 (create-only probe, upload, verification, read-back) has not loaded the AWS SDK client (~900 KiB of JavaScript on its heap for the life of the pod)', (t) => {
  if (!env) return t.skip();
  assert.ok(required.some((f) => /signature-v4/.test(f)), `the lean path signed its requests (the list is the sidecar's): ${required.join('\n')}`);
  assert.deepEqual(required.filter((f) => /client-s3|@aws-sdk/.test(f)), []);
});
