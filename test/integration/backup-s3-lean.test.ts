/**
 * A backup to S3 with static keys and an endpoint (what CloudNativePG gives the sidecar) never loads the AWS SDK
 * client: its volumes go out as lean multipart uploads (lean-multipart.ts), its other requests through the lean
 * reads and writes. The client's ~900 KiB of JavaScript and its objects were 5–12 MiB of a backup's peak RSS
 * (issue 15.3). A probe loaded with `node --import` lists the CommonJS files the process required.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../harness/cli.js';
import { storeTarget, type StoreKind } from '../harness/stores.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';
import { openStoreFromEnv } from '../harness/store-options.js';
import { startArchivingPostgres } from './backup-fixtures.js';

const PROBE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'plugin', 'module-list-probe.js');

for (const kind of ['s3rver', 'moto'] as StoreKind[]) {
  test(`a backup to ${kind} with access keys uploads its multipart volumes without loading the AWS SDK client`, async (t) => {
    const target = storeTarget(t, kind, `backup-lean-${kind}`);
    if (!target) return;
    const fx = await startArchivingPostgres(15, { tablespace: false, rows: 20000 });
    t.after(() => fx.cleanup());
    const dir = makeTempDir('backup-lean-modules');
    t.after(() => removeDir(dir));
    const list = path.join(dir, 'modules.txt');
    const r = await runCli('pgstow', ['backup', ...target.args, '--immediate-checkpoint', target.url, 'pg'],
      { env: { ...target.env, ...fx.pg.libpqEnv, NODE_OPTIONS: `--import=${PROBE}`, PGSTOW_TEST_MODULE_LIST: list } });
    assert.equal(r.code, 0, r.stderr);
    const required = fs.readFileSync(`${list}.cjs`, 'utf8').split('\n');
    assert.deepEqual(required.filter((f) => /client-s3|@aws-sdk/.test(f)), []);

    // The data volume was large enough for a multipart upload (two 5 MiB parts at least), and it is complete.
    const endpoint = target.args[target.args.indexOf('--endpoint-url') + 1] as string;
    const { store } = await openStoreFromEnv({ provider: 'aws-s3', destinationUrl: target.url, endpointUrl: endpoint, env: target.env });
    t.after(() => store.close());
    const sizes: number[] = [];
    for await (const e of store.list(target.url.replace(/^s3:\/\/[^/]+\//, '') + '/')) if ('key' in e && /\/data\.tar$/.test(e.key)) sizes.push(e.size);
    assert.equal(sizes.length, 1);
    assert.ok((sizes[0] as number) > 10 * 1024 * 1024, `data.tar of ${sizes[0]} bytes: several parts`);
  });
}
