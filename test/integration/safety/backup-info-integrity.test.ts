/**
 * Defect 6: backup.info had no integrity check: a changed begin_wal/end_wal was listed and restored as DONE, a
 * damaged status was restored with exit 0, and a pgstow backup whose manifest was deleted restored a damaged tar
 * silently. Now backup.info must hold together (its WAL fields agree with each other and with the backup_label),
 * must agree with what pgstow's manifest says of it, and a pgstow backup.info records its manifest's sha256: list
 * leaves such a backup out with a warning naming the object, restore refuses it naming the object unless
 * --allow-unverified.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli } from '../../harness/cli.js';
import { startPostgres, type PostgresServer } from '../../harness/postgres.js';
import { storeTarget, type StoreTarget } from '../../harness/stores.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';
import { readAll } from '../../../src/storage/object-store-helpers.js';
import { openTarget, type Seeded } from '../catalog/catalog-fixture.js';
import { createTables, insertRows } from '../restore-fixtures.js';

const SERVER = 'main';
const work = makeTempDir('backup-info-integrity');
after(() => removeDir(work));

describe('backup.info integrity', () => {
  let pg: PostgresServer | undefined;
  let target: StoreTarget | undefined;
  let s: Seeded;
  let id = '';
  let infoKey = '';
  let original: Buffer = Buffer.alloc(0);

  before(async () => {
    target = storeTarget(undefined, 's3rver', 'info-integrity');
    if (!target) return;
    pg = await startPostgres({ settings: { archive_mode: 'off' } });
    await createTables(pg);
    await insertRows(pg, 500);
    const b = await runCli('pgstow', ['backup', ...target.args, '--immediate-checkpoint', '--progress', 'off',
      '-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', target.url, SERVER], { env: target.env, timeoutMs: 300_000 });
    assert.equal(b.code, 0, b.stderr);
    s = await openTarget(target, SERVER);
    for await (const e of s.store.list(s.layout.basePrefix, { delimiter: '/' })) if ('prefix' in e) id = e.prefix.slice(s.layout.basePrefix.length, -1);
    infoKey = s.layout.backupInfoKey(id);
    original = await readAll(s.store, infoKey);
  });
  after(async () => { await s?.store.close(); await pg?.destroy(); });

  const cli = (prog: string, args: string[]): ReturnType<typeof runCli> => runCli(prog, [...(target as StoreTarget).args, ...args], { env: (target as StoreTarget).env, timeoutMs: 300_000 });
  const setField = (key: string, value: string): Buffer => Buffer.from(original.toString('utf8').replace(new RegExp(`^${key}=.*$`, 'm'), `${key}=${value}`));

  const cases: Array<[string, () => Buffer, RegExp]> = [
    ['a changed begin_wal', () => setField('begin_wal', '000000010000000000000099'), /begin_wal 000000010000000000000099 is not the segment of begin_xlog/],
    ['a changed end_wal', () => setField('end_wal', '0000000100000000000000FF'), /end_wal 0000000100000000000000FF is not the segment of end_xlog/],
    ['a damaged status', () => setField('status', 'D0NE'), /status 'D0NE' is not one Barman writes/],
  ];
  for (const [label, damage, why] of cases) {
    it(`${label}: not listed as DONE (warning naming the object), restore refused naming it, --allow-unverified restores`, async (t) => {
      if (!target) { t.skip('s3rver is not available'); return; }
      await s.store.put(infoKey, damage());
      t.after(() => s.store.put(infoKey, original));
      for (const prog of ['barman-cloud-backup-list']) {
        const l = await cli(prog, [target.url, SERVER]);
        assert.equal(l.code, 0, l.stderr);
        assert.ok(!l.stdout.includes(id), `${prog} lists ${id}:\n${l.stdout}`);
        assert.match(l.stderr, why);
        assert.ok(l.stderr.includes(infoKey), 'the warning names the object');
      }
      const dir = path.join(work, `${label.replace(/ /g, '-')}`);
      const r = await cli('barman-cloud-restore', [target.url, SERVER, id, dir]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`refusing to restore backup ${id}: ${infoKey.replace(/[.]/g, '\\.')} `));
      assert.match(r.stderr, why);
      assert.equal(fs.existsSync(path.join(dir, 'PG_VERSION')), false);
      const forced = await cli('barman-cloud-restore', ['--allow-unverified', target.url, SERVER, id, `${dir}-forced`]);
      assert.equal(forced.code, 0, forced.stderr);
      assert.match(forced.stderr, /unverified \(--allow-unverified\)/);
    });
  }

  it('a backup.info rewritten consistently (later end) contradicts the manifest: refused, naming both', async (t) => {
    if (!target) { t.skip('s3rver is not available'); return; }
    const text = original.toString('utf8');
    const endXlog = /^end_xlog=(.*)$/m.exec(text)?.[1] as string;
    const [hi, lo] = endXlog.split('/') as [string, string];
    const later = `${hi}/${(parseInt(lo, 16) + 0x1000000).toString(16).toUpperCase()}`;
    const seg = (parseInt(lo, 16) + 0x1000000) >> 24;
    const endWal = `00000001${hi.padStart(8, '0')}${seg.toString(16).toUpperCase().padStart(8, '0')}`;
    await s.store.put(infoKey, Buffer.from(text.replace(/^end_xlog=.*$/m, `end_xlog=${later}`).replace(/^end_wal=.*$/m, `end_wal=${endWal}`)));
    t.after(() => s.store.put(infoKey, original));
    const r = await cli('barman-cloud-restore', [target.url, SERVER, id, path.join(work, 'contradicts')]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`contradicts ${s.layout.backupManifestKey(id).replace(/[.]/g, '\\.')}: end_wal`));
  });

  it('a pgstow backup whose manifest was deleted: restore refused naming the manifest; --allow-unverified restores', async (t) => {
    if (!target) { t.skip('s3rver is not available'); return; }
    const manifestKey = s.layout.backupManifestKey(id);
    const manifest = await readAll(s.store, manifestKey);
    await s.store.delete([manifestKey]);
    t.after(() => s.store.put(manifestKey, manifest));
    const r = await cli('barman-cloud-restore', [target.url, SERVER, id, path.join(work, 'no-manifest')]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`records a pgstow manifest, but ${manifestKey.replace(/[.]/g, '\\.')} is missing`));
    const forced = await runCli('pgstow', ['restore', ...target.args, '--allow-unverified', target.url, SERVER, id, path.join(work, 'no-manifest-forced')], { env: target.env });
    assert.equal(forced.code, 0, forced.stderr);
  });

  it('the untouched backup lists and restores without a warning', async (t) => {
    if (!target) { t.skip('s3rver is not available'); return; }
    const l = await cli('barman-cloud-backup-list', [target.url, SERVER]);
    assert.ok(l.stdout.includes(id));
    const r = await cli('barman-cloud-restore', [target.url, SERVER, id, path.join(work, 'clean')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.trim(), '');
  });
});
