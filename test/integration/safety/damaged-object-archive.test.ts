/**
 * Defect 4: a store that keeps a partial object after a crash mid-upload (seen on s3rver) made every retry of that
 * segment exit 1 with "different content… two servers archive to the same destination": the wrong cause, forever.
 * An object that is not a valid copy (truncated, undecodable, wrong segment) is damage: it is named as such and
 * replaced when the local file is a valid segment; it is left alone, with both named, when the local file is not.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli } from '../../harness/cli.js';
import { storeTarget, type StoreKind } from '../../harness/stores.js';
import { makeTempDir } from '../../harness/tmp.js';
import { syntheticSegment } from '../../harness/wal-segments.js';
import { readAll } from '../../../src/storage/object-store-helpers.js';
import { openTarget } from '../catalog/catalog-fixture.js';

const seg = (n: number): string => `0000000100000000${n.toString(16).toUpperCase().padStart(8, '0')}`;

describe('a damaged object under the WAL name being archived', () => {
  for (const kind of ['s3rver', 'moto', 'azurite', 'gcs', 'fs'] as StoreKind[]) {
    it(`${kind}: a truncated object is replaced by the valid local segment (warning names the damage); restore gives it back`, async (t) => {
      const target = storeTarget(t, kind, `damaged-${kind}`);
      if (!target) return;
      const s = await openTarget(target, 'srv');
      t.after(() => s.store.close());
      const dir = makeTempDir(`damaged-${kind}`);
      const cli = (prog: string, args: string[]): ReturnType<typeof runCli> => runCli(prog, [...target.args, ...args], { env: target.env });
      for (const [n, flags, suffix] of [[1, [], ''], [2, ['-z'], '.gz'], [3, ['--lz4'], '.lz4']] as Array<[number, string[], string]>) {
        const name = seg(n);
        const file = path.join(dir, name);
        fs.writeFileSync(file, syntheticSegment(name, { seed: n }));
        assert.equal((await cli('barman-cloud-wal-archive', [...flags, target.url, 'srv', file])).code, 0);
        const key = s.layout.walKey(name, suffix);
        const whole = await readAll(s.store, key);
        await s.store.put(key, whole.subarray(0, Math.floor(whole.length / 3))); // what a crash mid-upload leaves
        // Archived again (PostgreSQL retrying, here even with another codec): replaced, exit 0, one warning.
        const r = await cli('barman-cloud-wal-archive', [...(n === 3 ? ['--zstd'] : flags), target.url, 'srv', file]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, new RegExp(`${key.replace(/[.]/g, '\\.')} .* is damaged \\(.+\\): replacing it with ${file}`));
        assert.doesNotMatch(r.stderr, /different content|two servers/);
        const dest = path.join(dir, `${name}.restored`);
        const back = await cli('barman-cloud-wal-restore', [target.url, 'srv', name, dest]);
        assert.equal(back.code, 0, back.stderr);
        assert.ok(fs.readFileSync(dest).equals(fs.readFileSync(file)));
        if (n === 3) assert.equal(await s.store.exists(key), false, 'the damaged .lz4 copy is gone (restore would prefer it)');
      }
    });
  }

  it('a damaged object and a local file that is not a valid segment either: exit 1 naming both, nothing changed', async (t) => {
    const target = storeTarget(t, 's3rver', 'damaged-both');
    if (!target) return;
    const s = await openTarget(target, 'srv');
    t.after(() => s.store.close());
    const dir = makeTempDir('damaged-both');
    const name = seg(9);
    const file = path.join(dir, name);
    const good = syntheticSegment(name, { seed: 9 });
    fs.writeFileSync(file, good);
    assert.equal((await runCli('barman-cloud-wal-archive', [...target.args, target.url, 'srv', file], { env: target.env })).code, 0);
    const key = s.layout.walKey(name);
    const truncated = good.subarray(0, 1000);
    await s.store.put(key, truncated);
    const bad = Buffer.from(good);
    bad[400_000] = (bad[400_000] as number) ^ 0xff; // first page fine, a record damaged
    fs.writeFileSync(file, bad);
    const r = await runCli('barman-cloud-wal-archive', [...target.args, target.url, 'srv', file], { env: target.env });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`holds a damaged ${key.replace(/[.]/g, '\\.')} .*the local file is not a valid segment either \\(record at`));
    assert.ok((await readAll(s.store, key)).equals(truncated), 'nothing was changed');
  });
});
