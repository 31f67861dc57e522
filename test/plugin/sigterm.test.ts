/**
 * SIGTERM while an Archive is in flight: the sidecar stops taking calls at once, lets the upload finish, and
 * answers it; PostgreSQL is never told "archived" for a file that is not stored. Exit 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { status as GrpcCode, type ServiceError } from '@grpc/grpc-js';
import { chownToPostgres } from '../harness/tmp.js';
import { syntheticSegment } from '../harness/wal-segments.js';
import { openStoreFromEnv as openStore } from '../harness/store-options.js';
import { readAll } from '../../src/storage/object-store-helpers.js';
import { CnpgiClient } from '../../src/plugin/protocol/client.js';
import { startSidecar } from './cnpg-harness.js';
import { CLUSTER, pluginEnv } from './plugin-env.js';

test('SIGTERM during Archive: the call in flight completes (stored and verified) or fails; no new call is taken; exit 0', async (t) => {
  const env = await pluginEnv(t, 'sigterm');
  if (!env) return;
  t.after(() => env.close());
  env.putObjectStore('minio-store');
  const cluster = fs.readFileSync(env.clusterFile('c', { plugin: { barmanObjectName: 'minio-store' } }));
  const pgdata = path.join(env.dir, 'pgdata');
  fs.mkdirSync(path.join(pgdata, 'pg_wal', 'archive_status'), { recursive: true });
  const names = ['000000010000000000000001', '000000010000000000000002'];
  const data = new Map(names.map((n, i) => [n, syntheticSegment(n, { segmentSize: 64 * 1024 * 1024, seed: i + 1 })]));
  for (const [n, d] of data) fs.writeFileSync(path.join(pgdata, 'pg_wal', n), d);
  chownToPostgres(pgdata);
  const sidecar = await startSidecar({ mode: 'instance', pluginPath: env.pluginPath, env: env.sidecarEnv({ PGDATA: pgdata }), logLevel: 'info' });
  const client = await CnpgiClient.connect(`unix://${sidecar.socket}`);
  const store = (await openStore({ provider: 'aws-s3', destinationUrl: env.destination, endpointUrl: env.s3.endpoint, env: env.awsEnv(), s3: { region: env.s3.region } })).store;
  t.after(() => store.close());
  try {
    await client.call('Identity', 'Probe', {});
    const inFlight = client.call('WAL', 'Archive', { cluster_definition: cluster, source_file_name: path.join(pgdata, 'pg_wal', names[0] as string), parameters: {} })
      .then(() => 'ok' as const, (e: ServiceError) => e);
    await new Promise((r) => setTimeout(r, 150));
    sidecar.proc.kill('SIGTERM');
    // The signal is handled between two pieces of the upload's work: wait until the sidecar says it stopped serving.
    for (let i = 0; i < 100; i++) {
      const probe = await CnpgiClient.connect(`unix://${sidecar.socket}`, undefined, { 'grpc.use_local_subchannel_pool': 1 });
      // SERVING, or no answer in time (the event loop is busy uploading): not stopped yet. NOT_SERVING or a refused connection: stopped.
      const serving = await probe.call('Health', 'Check', { service: '' }, { timeoutMs: 500 })
        .then((h) => h.status === 'SERVING', (e: ServiceError) => e.code === GrpcCode.DEADLINE_EXCEEDED);
      probe.close();
      if (!serving) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const late = await client.call('WAL', 'Archive', { cluster_definition: cluster, source_file_name: path.join(pgdata, 'pg_wal', names[1] as string), parameters: {} })
      .then(() => 'ok' as const, (e: ServiceError) => e);
    const outcome = await inFlight;
    const key = (n: string): string => `${env.destination.replace(/^s3:\/\/[^/]+\//, '')}/${CLUSTER}/wals/${n.slice(0, 16)}/${n}`;
    if (outcome === 'ok') assert.ok((await readAll(store, key(names[0] as string))).equals(data.get(names[0] as string) as Buffer), 'acknowledged ⇒ stored byte-identical');
    else assert.ok(outcome.details.length > 0);
    assert.notEqual(late, 'ok', `no call is taken after SIGTERM\n${sidecar.log}`);
    assert.equal(await store.exists(key(names[1] as string)), false);
    assert.equal(await sidecar.waitExit(), 0, sidecar.log);
    const msgs = sidecar.logLines().map((l) => String(l.msg));
    assert.ok(msgs.includes('stopping: no new calls; waiting for calls in flight'));
    assert.ok(msgs.includes('stopped'));
    assert.equal(outcome, 'ok', 'the upload in flight was allowed to finish within the grace period');
  } finally {
    client.close();
    await sidecar.stop();
  }
});

test('a PGSTOW_MAX_MEMORY that is not a quantity: the sidecar does not start, and says which variable is wrong', async (t) => {
  const env = await pluginEnv(t, 'bad-memory');
  if (!env) return;
  t.after(() => env.close());
  const started = startSidecar({ mode: 'instance', pluginPath: env.pluginPath, env: env.sidecarEnv({ PGSTOW_MAX_MEMORY: 'lots' }), logLevel: 'info' });
  await assert.rejects(started, (err: Error) => {
    assert.match(err.message, /the sidecar exited with [1-9]/);
    assert.match(err.message, /PGSTOW_MAX_MEMORY: invalid memory size "lots"/);
    return true;
  });
});
