/**
 * Archive-ahead follows the sidecar's memory budget (PGSTOW_MAX_MEMORY): an Archive call keeps its own upload
 * and at most walFilesAtOnce − 1 others going at once, so a smaller budget uploads fewer ready files at once than
 * wal.maxParallel allows. Through the plugin socket as CloudNativePG calls it (s3rver), one call with ten `.ready`
 * segments: the uploads at once as the sidecar logs each start, at most (and at first exactly) that many, and every
 * file uploaded is stored. (test/unit/services/archive-ahead.test.ts counts the puts in flight at the store itself.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chownToPostgres } from '../harness/tmp.js';
import { syntheticSegment } from '../harness/wal-segments.js';
import { openStoreFromEnv as openStore } from '../harness/store-options.js';
import { isCommonPrefix, type ObjectStore } from '../../src/storage/object-store.js';
import { memoryBudget, MiB, walFilesAtOnce } from '../../src/memory-budget.js';
import { cnpgCall, startSidecar } from './cnpg-harness.js';
import { CLUSTER, pluginEnv, type PluginEnv } from './plugin-env.js';

const SEG = MiB;
const MAX_PARALLEL = 8;
const seg = (n: number): string => `00000001000000000000${n.toString(16).toUpperCase().padStart(4, '0')}`;

describe('archive-ahead within the memory budget', () => {
  let env: PluginEnv | undefined;
  let store: ObjectStore;
  before(async () => {
    env = await pluginEnv({ skip: () => undefined } as never, 'wal-budget');
    if (!env) return;
    store = (await openStore({ provider: 'aws-s3', destinationUrl: env.destination, endpointUrl: env.s3.endpoint, env: env.awsEnv(), s3: { region: env.s3.region } })).store;
  });
  after(async () => {
    await store?.close();
    await env?.close();
  });

  /**
   * Starts a sidecar with this budget, makes one Archive call with ten ready 1 MiB segments; returns the most uploads
   * at once the sidecar logged as each upload ahead started, once the segments stored no longer change.
   */
  async function uploadsAtOnce(world: PluginEnv, maxMemory: string): Promise<number> {
    const label = `budget-${maxMemory}`;
    const pgdata = path.join(world.dir, label);
    fs.mkdirSync(path.join(pgdata, 'pg_wal', 'archive_status'), { recursive: true });
    for (let n = 1; n <= 10; n++) {
      fs.writeFileSync(path.join(pgdata, 'pg_wal', seg(n)), syntheticSegment(seg(n), { segmentSize: SEG, seed: n }));
      fs.writeFileSync(path.join(pgdata, 'pg_wal', 'archive_status', `${seg(n)}.ready`), '');
    }
    chownToPostgres(pgdata);
    const destination = `${world.destination}/${label}`;
    world.putObjectStore(label, { destinationPath: destination, wal: { compression: 'gzip', maxParallel: MAX_PARALLEL } });
    const cluster = world.clusterFile(label, { plugin: { barmanObjectName: label }, withoutTypeMeta: true });
    const sidecar = await startSidecar({ mode: 'instance', pluginPath: world.pluginPath, env: world.sidecarEnv({ PGDATA: pgdata, PGSTOW_MAX_MEMORY: maxMemory }) });
    try {
      await cnpgCall(sidecar.socket, 'WAL', 'Archive', { cluster_definition: fs.readFileSync(cluster), source_file_name: path.join(pgdata, 'pg_wal', seg(1)), parameters: {} });
      const prefix = `${destination.replace(/^s3:\/\/[^/]+\//, '')}/${CLUSTER}/wals/`;
      const count = async (): Promise<number> => {
        let n = 0;
        for await (const e of store.list(prefix)) if (!isCommonPrefix(e) && /\/[0-9A-F]{24}\.gz$/.test(e.key)) n++;
        return n;
      };
      // The uploads ahead run in the background: wait until the count has not changed for 3 s (s3rver's read-back
      // waits up to 3 s), within 30 s.
      let last = -1;
      let stableSince = Date.now();
      for (const deadline = Date.now() + 30_000; Date.now() < deadline && Date.now() - stableSince < 3_000;) {
        const now = await count();
        if (now !== last) { last = now; stableSince = Date.now(); }
        await new Promise((r) => setTimeout(r, 200));
      }
      const started = sidecar.logLines().map((l) => /archiving \w+ ahead \((\d+) uploading ahead, (\d+) in calls/.exec(String(l.msg))).filter((m) => m !== null);
      assert.ok(started.length > 0 && last >= started.length + 1, `every upload started was stored (${last} stored, ${started.length} ahead)`);
      return Math.max(...started.map((m) => Number(m[1]) + Number(m[2])));
    } finally {
      assert.equal(await sidecar.stop(), 0, sidecar.log);
    }
  }

  test('a small budget uploads fewer files at once than wal.maxParallel; a large one up to wal.maxParallel', async (t) => {
    if (!env) return t.skip();
    // 100 MiB (the default): 12 MiB of buffers, a gzip 1 MiB segment costs 1.5 + 1 MiB: 4 uploads at once.
    const small = walFilesAtOnce(memoryBudget(100 * MiB), { maxParallel: MAX_PARALLEL, segmentSize: SEG, compressed: true });
    const large = walFilesAtOnce(memoryBudget(1024 * MiB), { maxParallel: MAX_PARALLEL, segmentSize: SEG, compressed: true });
    assert.deepEqual([small, large], [4, MAX_PARALLEL]);
    assert.equal(await uploadsAtOnce(env, '100Mi'), small, 'its own file and budget − 1 ahead, no more');
    assert.equal(await uploadsAtOnce(env, '1Gi'), large, 'its own file and maxParallel − 1 ahead');
  });
});
