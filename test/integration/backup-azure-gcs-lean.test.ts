/**
 * A backup to Azure with an account key and to GCS (the emulator) never loads the provider's SDK: its volumes go
 * out as staged blocks (azure-blob/lean-store.ts) and resumable sessions (gcs/lean-resumable.ts) on node:http, its
 * other requests through the lean stores. The SDKs' upload clients were 10–45 MiB of a backup's peak RSS (issue
 * 15.3). A probe loaded with `node --import` lists the CommonJS files the process required. The backup downloaded
 * back through the SDK-free store matches its manifest, and restored, starts with equal data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { runCli } from '../harness/cli.js';
import { storeTarget, type StoreKind } from '../harness/stores.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';
import { parseArgs } from '../../src/config/argv.js';
import { command as backupCommand } from '../../src/cli/commands/backup.js';
import { openCommandStore } from '../harness/store-options.js';
import { isCommonPrefix } from '../../src/storage/object-store.js';
import { readInfo, restoreByHand, startArchivingPostgres, tableChecksums } from './backup-fixtures.js';

const PROBE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'plugin', 'module-list-probe.js');
const SDK_FILES: Record<string, RegExp> = { azurite: /@azure\//, gcs: /@google-cloud|google-auth-library|gaxios/ };

for (const kind of ['azurite', 'gcs'] as StoreKind[]) {
  test(`a backup to ${kind} uploads its volumes without loading the SDK, and restores equal data`, async (t) => {
    const target = storeTarget(t, kind, `backup-lean-${kind}`);
    if (!target) return;
    const fx = await startArchivingPostgres(15, { tablespace: false, rows: 20000 });
    t.after(() => fx.cleanup());
    const before = await tableChecksums(fx.pg);
    const dir = makeTempDir('backup-lean-modules');
    t.after(() => removeDir(dir));
    const list = path.join(dir, 'modules.txt');
    const r = await runCli('pgstow', ['backup', ...target.args, '--immediate-checkpoint', target.url, 'pg'],
      { env: { ...target.env, ...fx.pg.libpqEnv, NODE_OPTIONS: `--import=${PROBE}`, PGSTOW_TEST_MODULE_LIST: list } });
    assert.equal(r.code, 0, r.stderr);
    const required = fs.readFileSync(`${list}.cjs`, 'utf8').split('\n');
    assert.deepEqual(required.filter((f) => (SDK_FILES[kind] as RegExp).test(f)), []);

    const args = parseArgs(backupCommand.spec('pgstow backup'), [...target.args, target.url, 'pg']);
    const { store, layout } = await openCommandStore('backup', args.options, target.url, 'pg', { ...process.env, ...target.env });
    t.after(() => store.close());
    const ids: string[] = [];
    for await (const e of store.list(layout.basePrefix, { delimiter: '/' })) if (isCommonPrefix(e)) ids.push(e.prefix.slice(layout.basePrefix.length, -1));
    assert.equal(ids.length, 1);
    const local = makeTempDir(`download-lean-${kind}`);
    t.after(() => removeDir(local));
    const prefix = layout.backupPrefix(ids[0] as string);
    for await (const e of store.list(prefix)) {
      if (!isCommonPrefix(e)) await pipeline(await store.get(e.key), fs.createWriteStream(path.join(local, e.key.slice(prefix.length))));
    }
    assert.equal(readInfo(fs.readFileSync(path.join(local, 'backup.info'), 'utf8')).status, 'DONE');
    const manifest = JSON.parse(fs.readFileSync(path.join(local, 'pgstow-manifest.json'), 'utf8')) as { objects: { name: string; size: number; sha256: string }[] };
    // The data volume was large enough for several blocks or chunks (5 MiB each by default).
    assert.ok(manifest.objects.some((o) => o.name.startsWith('data') && o.size > 10 * 1024 * 1024), JSON.stringify(manifest.objects));
    for (const o of manifest.objects) {
      const body = fs.readFileSync(path.join(local, o.name));
      assert.equal(createHash('sha256').update(body).digest('hex'), o.sha256, o.name);
    }
    await fx.pg.query('SELECT pg_switch_wal()');
    const restored = await restoreByHand(15, local, fx.walDir, []);
    t.after(() => restored.cleanup());
    assert.deepEqual(await tableChecksums(restored.pg), before);
  });
}
