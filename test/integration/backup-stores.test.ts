/**
 * The same backup on every store kind (S3 on moto and s3rver, Azure on Azurite, GCS on its emulator): the
 * objects downloaded back through pgstow's driver match the manifest byte for byte (sha256), and the
 * backup restored from those downloads starts with equal data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { runCli } from '../harness/cli.js';
import { storeTarget, type StoreKind } from '../harness/stores.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';
import { parseArgs } from '../../src/config/argv.js';
import { command as backupCommand } from '../../src/cli/commands/backup.js';
import { openCommandStore } from '../harness/store-options.js';
import { isCommonPrefix } from '../../src/storage/object-store.js';
import { readInfo, removePlainTars, restoreByHand, startArchivingPostgres, tableChecksums } from './backup-fixtures.js';

const KINDS: StoreKind[] = ['moto', 's3rver', 'azurite', 'gcs'];

for (const kind of KINDS) {
  test(`backup to ${kind}: downloads match the manifest and restore equal data`, async (t) => {
    const target = storeTarget(t, kind, `backup-${kind}`);
    if (!target) return;
    const fx = await startArchivingPostgres(15, { rows: 5000 });
    t.after(() => fx.cleanup());
    t.after(() => removePlainTars());
    const before = await tableChecksums(fx.pg);
    // -S 1MB: several volumes, so multipart/block uploads and volume numbering run on every provider.
    const r = await runCli('pgstow', ['backup', ...target.args, '--zstd', '-S', '1MB', '-J', '3', '--immediate-checkpoint', target.url, 'pg'], { env: { ...target.env, ...fx.pg.libpqEnv } });
    assert.equal(r.code, 0, r.stderr);

    const args = parseArgs(backupCommand.spec('pgstow backup'), [...target.args, target.url, 'pg']);
    const { store, layout } = await openCommandStore('backup', args.options, target.url, 'pg', { ...process.env, ...target.env });
    t.after(() => store.close());
    const ids: string[] = [];
    for await (const e of store.list(layout.basePrefix, { delimiter: '/' })) if (isCommonPrefix(e)) ids.push(e.prefix.slice(layout.basePrefix.length, -1));
    assert.equal(ids.length, 1);
    const id = ids[0] as string;
    const local = makeTempDir(`download-${kind}`);
    t.after(() => removeDir(local));
    for await (const e of store.list(layout.backupPrefix(id))) {
      if (isCommonPrefix(e)) continue;
      const file = path.join(local, e.key.slice(layout.backupPrefix(id).length));
      await pipeline(await store.get(e.key), fs.createWriteStream(file));
    }
    const info = readInfo(fs.readFileSync(path.join(local, 'backup.info'), 'utf8'));
    assert.equal(info.status, 'DONE');
    const manifest = JSON.parse(fs.readFileSync(path.join(local, 'pgstow-manifest.json'), 'utf8')) as { objects: { name: string; size: number; sha256: string }[] };
    assert.ok(manifest.objects.filter((o) => o.name.startsWith('data')).length >= 2, 'several data volumes');
    for (const o of manifest.objects) {
      const body = fs.readFileSync(path.join(local, o.name));
      assert.equal(body.length, o.size, o.name);
      assert.equal(createHash('sha256').update(body).digest('hex'), o.sha256, o.name);
    }
    const oid = (await fx.pg.query<{ oid: string }>("SELECT oid::text AS oid FROM pg_tablespace WHERE spcname = 'ts1'"))[0]?.oid as string;
    await fx.pg.query('SELECT pg_switch_wal()');
    const restored = await restoreByHand(15, local, fx.walDir, [{ oid: Number(oid) }]);
    t.after(() => restored.cleanup());
    assert.deepEqual(await tableChecksums(restored.pg), before);
  });
}
