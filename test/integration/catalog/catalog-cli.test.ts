import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../../harness/cli.js';
import { storeTarget, type StoreKind, type StoreTarget } from '../../harness/stores.js';
import { emptyBackupInfo, formatBackupId, serializeBackupInfo, parseBackupInfo } from '../../../src/domain/backup/backup-info.js';
import { PyDateTime } from '../../../src/domain/backup/py-datetime.js';
import { formatSegmentName } from '../../../src/domain/wal/wal-file-name.js';
import { DELETION_IN_PROGRESS_ERROR } from '../../../src/repository/backup-catalog.js';
import { readAll } from '../../../src/storage/object-store-helpers.js';
import { IDS, SERVER, WAL_NAMES, allKeys, fixture, openTarget, rebase, seedBarmanCatalog, type Seeded } from './catalog-fixture.js';

/** Barman's JSON without the two keys Barman ≥3.13 adds (pgstow emits them; the fixture is from 3.4). */
/**
 * The fixtures are barman-cloud 3.4's output; pgstow prints what Barman 3.19 prints (test/interop compares with
 * 3.19 itself): also begin/end_time_iso and the ≥3.11 fields, null in these 3.4 backup.info files.
 */
function withoutIso(json: string): string {
  return json.replace(/, "begin_time_iso": (null|"[^"]*"), "end_time_iso": (null|"[^"]*")/g, '')
    .replace(/, "(children_backup_ids|cluster_size|data_checksums|encryption|parent_backup_id|summarize_wal)": null/g, '');
}

const KINDS: StoreKind[] = ['fs', 'moto', 's3rver', 'azurite', 'gcs'];

async function setup(t: Parameters<typeof storeTarget>[0], kind: StoreKind, label: string): Promise<{ target: StoreTarget; s: Seeded; cli: (p: string, a: string[]) => ReturnType<typeof runCli> } | undefined> {
  const target = storeTarget(t, kind, label);
  if (!target) return undefined;
  const s: Seeded = await openTarget(target);
  t?.after(() => s.store.close());
  await seedBarmanCatalog(s);
  const cli = (program: string, args: string[]): ReturnType<typeof runCli> => {
    const [sub, ...rest] = program.split(' ');
    const isPgstow = sub === 'pgstow';
    return runCli(isPgstow ? 'pgstow' : program, [...(isPgstow ? rest : []), ...target.args, ...args], { env: target.env });
  };
  return { target, s, cli };
}

for (const kind of KINDS) {
  describe(`catalog commands on ${kind}`, () => {
    test('list and show print exactly what barman-cloud 3.4 printed for the same catalog', async (t) => {
      const env = await setup(t, kind, 'cat-list');
      if (!env) return;
      const { target, cli } = env;
      let r = await cli('barman-cloud-backup-list', [target.url, SERVER]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, fixture('list.console'));
      r = await cli('barman-cloud-backup-list', ['--format', 'json', target.url, SERVER]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(withoutIso(r.stdout), fixture('list.json'));
      assert.match(r.stdout, /"end_time_iso": "2026-11-25T13:02:12.103978\+01:00"/);
      r = await cli('barman-cloud-backup-show', [target.url, SERVER, 'my named backup']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, fixture('show.console'));
      r = await cli('barman-cloud-backup-show', ['--format', 'json', target.url, SERVER, '20261125T120215']);
      assert.equal(withoutIso(r.stdout), fixture('show.json'));
      r = await cli('barman-cloud-backup-show', [target.url, SERVER, 'latest']);
      assert.equal(r.stdout, fixture('show3.console'));
      r = await cli('barman-cloud-backup-show', [target.url, SERVER, 'oldest']);
      assert.equal(r.stdout, fixture('show2.console'));
    });

    test('identifiers: missing id exit 1, unknown name exit 4, pgstow views show window and continuity', async (t) => {
      const env = await setup(t, kind, 'cat-ids');
      if (!env) return;
      const { target, cli } = env;
      let r = await cli('barman-cloud-backup-show', [target.url, SERVER, '20200101T000000']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /Backup 20200101T000000 for server pg34 does not exist/);
      r = await cli('barman-cloud-backup-show', [target.url, SERVER, 'no such name']);
      assert.equal(r.code, 4);
      assert.match(r.stderr, /Unknown backup 'no such name' for server 'pg34'/);
      r = await cli('pgstow backup list', [target.url, SERVER]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /timeline 1: 7 segment\(s\) 000000010000000000000001 \.\. 000000010000000000000007, continuous/);
      assert.match(r.stdout, /Recoverability window: from 2026-11-25 13:02:12.103978\+01:00 \(end of backup 20261125T120208\)/);
      assert.match(r.stdout, /KEEP:STANDALONE/);
      r = await cli('pgstow backup list', ['--format', 'json', target.url, SERVER]);
      const j = JSON.parse(r.stdout) as { backups: Array<{ id: string; walComplete: boolean }> };
      assert.deepEqual(j.backups.map((b) => b.walComplete), [true, true, true]);
      // show gives the same WAL view for one backup (Barman's show output is checked byte for byte above).
      r = await cli('pgstow backup show', [target.url, SERVER, 'my named backup']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /WAL of this backup\s+: every segment from begin to end is archived/);
      assert.match(r.stdout, /timeline 1: 7 segment\(s\) 000000010000000000000001 \.\. 000000010000000000000007, continuous/);
      assert.match(r.stdout, /Recoverability window: from 2026-11-25 13:02:12.103978\+01:00 \(end of backup 20261125T120208\)/);
      r = await cli('pgstow backup show', ['--format', 'json', target.url, SERVER, IDS[1]]);
      assert.equal(r.code, 0, r.stderr);
      const shown = (Object.values(JSON.parse(r.stdout) as Record<string, unknown>)[0]) as { wal_complete: boolean; wal: { firstRecoverable: { backupId: string } } };
      assert.equal(shown.wal_complete, true);
      assert.equal(shown.wal.firstRecoverable.backupId, IDS[0]);
    });

    test('keep: status, release, target, refused on a non-DONE backup', async (t) => {
      const env = await setup(t, kind, 'cat-keep');
      if (!env) return;
      const { target, cli, s } = env;
      let r = await cli('barman-cloud-backup-keep', ['-s', target.url, SERVER, IDS[0]]);
      assert.equal(r.stdout, 'Keep: standalone\n');
      r = await cli('barman-cloud-backup-keep', ['-r', target.url, SERVER, IDS[0]]);
      assert.equal(r.code, 0, r.stderr);
      r = await cli('barman-cloud-backup-keep', ['-s', target.url, SERVER, IDS[0]]);
      assert.equal(r.stdout, 'Keep: nokeep\n');
      r = await cli('barman-cloud-backup-keep', ['--target', 'full', target.url, SERVER, 'my named backup']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((await readAll(s.store, s.layout.keepAnnotationKey(IDS[1]))).toString(), 'full');
      const failed = parseBackupInfo(fixture(`${IDS[2]}.backup.info`)).info;
      failed.status = 'FAILED';
      await s.store.put(s.layout.backupInfoKey(IDS[2]), Buffer.from(serializeBackupInfo(failed)));
      r = await cli('barman-cloud-backup-keep', ['--target', 'standalone', target.url, SERVER, IDS[2]]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /Only backups with status DONE can be kept/);
      r = await cli('barman-cloud-backup-keep', [target.url, SERVER, IDS[2]]);
      assert.equal(r.code, 3);
    });

    test('delete -r "REDUNDANCY 1": same dry run and same deleted objects as barman-cloud 3.4', async (t) => {
      const env = await setup(t, kind, 'cat-del');
      if (!env) return;
      const { target, cli, s } = env;
      const before = await allKeys(s);
      let r = await cli('barman-cloud-backup-delete', ['-r', 'REDUNDANCY 1', '--dry-run', target.url, SERVER]);
      assert.equal(r.code, 0, r.stderr);
      // Barman 3.4 found only the tars it knows; the stand-in names here are the same, so the lines match.
      assert.equal(r.stdout, rebase(fixture('delete-redundancy-1.dry-run'), s));
      assert.deepEqual(await allKeys(s), before, 'a dry run deletes nothing');
      r = await cli('pgstow backup delete', ['-r', 'REDUNDANCY 1', '--dry-run', '--format', 'json', target.url, SERVER]);
      const plan = JSON.parse(r.stdout) as { backups: Array<{ id: string; retention: string; action: string; reason: string }>; totals: { objects: number }; wal: Array<{ backupId: string; objects: number; firstKey: string | null; lastKey: string | null }> };
      assert.deepEqual(plan.backups.map((b) => [b.id, b.retention, b.action]), [[IDS[0], 'KEEP:STANDALONE', 'keep'], [IDS[1], 'OBSOLETE', 'delete'], [IDS[2], 'VALID', 'keep']]);
      assert.equal(plan.totals.objects, 3 + 5);
      // The JSON plan counts WAL files and names the first and last instead of holding every key.
      const walKeys = [0, 3, 4, 5, 6].map((i) => `${s.layout.serverPrefix}wals/0000000100000000/${WAL_NAMES[i]}`).sort();
      const removing = plan.wal.filter((w) => w.objects > 0);
      assert.deepEqual(removing.map((w) => [w.backupId, w.objects, w.firstKey, w.lastKey]), [[IDS[1], 5, walKeys[0], walKeys[4]]]);
      r = await cli('barman-cloud-backup-delete', ['-r', 'REDUNDANCY 1', target.url, SERVER]);
      assert.equal(r.code, 0, r.stderr);
      const after = await allKeys(s);
      const deleted = before.filter((k) => !after.includes(k)).map((k) => k.slice(s.layout.serverPrefix.length));
      assert.deepEqual(deleted.sort(), [
        `base/${IDS[1]}/16384.tar.gz`, `base/${IDS[1]}/backup.info`, `base/${IDS[1]}/data.tar.gz`,
        `wals/0000000100000000/${WAL_NAMES[0]}`, `wals/0000000100000000/${WAL_NAMES[3]}`, `wals/0000000100000000/${WAL_NAMES[4]}`,
        `wals/0000000100000000/${WAL_NAMES[5]}`, `wals/0000000100000000/${WAL_NAMES[6]}`,
      ].sort());
      // Running it again selects nothing and changes nothing.
      r = await cli('barman-cloud-backup-delete', ['-r', 'REDUNDANCY 1', target.url, SERVER]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await allKeys(s), after);
    });

    test('delete by id/name: keep refused, missing id warned, minimum redundancy, interrupted delete never DONE and finished by a re-run', async (t) => {
      const env = await setup(t, kind, 'cat-delid');
      if (!env) return;
      const { target, cli, s } = env;
      let r = await cli('barman-cloud-backup-delete', ['-b', IDS[0], target.url, SERVER]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /has a current keep request/);
      r = await cli('barman-cloud-backup-delete', ['-b', '20200101T000000', target.url, SERVER]);
      assert.equal(r.code, 0);
      assert.match(r.stderr, /Backup 20200101T000000 does not exist/);
      r = await cli('barman-cloud-backup-delete', ['-b', IDS[2], '-m', '3', target.url, SERVER]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /minimum redundancy/);
      r = await cli('barman-cloud-backup-delete', ['-r', 'REDUNDANCY two', target.url, SERVER]);
      assert.equal(r.code, 3);

      // Simulate a delete interrupted after the marker and one tar: the backup is no longer DONE anywhere.
      const info = parseBackupInfo(fixture(`${IDS[2]}.backup.info`)).info;
      await s.store.put(s.layout.backupInfoKey(IDS[2]), Buffer.from(serializeBackupInfo({ ...info, status: 'FAILED', error: DELETION_IN_PROGRESS_ERROR })));
      await s.store.delete([s.layout.backupTarKey(IDS[2], 'data')]);
      r = await cli('barman-cloud-backup-list', [target.url, SERVER]);
      assert.ok(!r.stdout.includes(IDS[2]), 'a partly deleted backup is not listed as done');
      // Any later delete finishes it (here one that selects nothing else).
      r = await cli('barman-cloud-backup-delete', ['-r', 'REDUNDANCY 5', target.url, SERVER]);
      assert.equal(r.code, 0, r.stderr);
      const keys = await allKeys(s);
      assert.ok(!keys.some((k) => k.includes(`/base/${IDS[2]}/`)), keys.join('\n'));
      r = await cli('barman-cloud-backup-delete', ['-b', 'my named backup', target.url, SERVER]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!(await allKeys(s)).some((k) => k.includes(`/base/${IDS[1]}/`)));
    });

    test('check-wal-archive: exit 1 on a used archive, --timeline, exit 0 on an empty one', async (t) => {
      const env = await setup(t, kind, 'cat-check');
      if (!env) return;
      const { target, cli } = env;
      let r = await cli('barman-cloud-check-wal-archive', [target.url, SERVER]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /WAL archive check failed for server pg34: Expected empty archive/);
      r = await cli('barman-cloud-check-wal-archive', ['--timeline', '1', target.url, SERVER]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /Found 10 files in WAL archive equal to or newer than timeline 1/);
      r = await cli('barman-cloud-check-wal-archive', ['--timeline', '2', target.url, SERVER]);
      assert.equal(r.code, 0, r.stderr);
      r = await cli('barman-cloud-check-wal-archive', [target.url, 'brand-new-server']);
      assert.equal(r.code, 0, r.stderr);
      r = await cli('barman-cloud-check-wal-archive', ['--timeline', '0', target.url, SERVER]);
      assert.equal(r.code, 3);
    });
  });
}

describe('check-wal-archive: -t and an unreachable store', () => {
  test('-t only tests connectivity: exit 0 on a used archive (which fails without -t) and on a missing bucket', async (t) => {
    const env = await setup(t, 'moto', 'cat-check-t');
    if (!env) return;
    const { target, cli } = env;
    assert.equal((await cli('barman-cloud-check-wal-archive', [target.url, SERVER])).code, 1, 'the archive is in use');
    const r = await cli('barman-cloud-check-wal-archive', ['-t', target.url, SERVER]);
    assert.equal(r.code, 0, r.stderr);
    // A bucket of this test's own: check-wal-archive creates a missing bucket (as Barman >= 3.16 does), so a shared
    // name would exist for every later test.
    const missing = target.url.replace(/^s3:\/\/[^/]+/, `s3://pgstow-check-t-${Date.now().toString(36)}`);
    const m = await cli('barman-cloud-check-wal-archive', ['-t', missing, SERVER]);
    assert.equal(m.code, 0, m.stderr);
    assert.equal((await cli('barman-cloud-check-wal-archive', [missing, SERVER])).code, 0, 'a missing bucket holds nothing that conflicts');
  });

  test('exit 2 naming the endpoint when the store cannot be reached, with and without -t', async () => {
    const env = { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'check-wal-secret-value-789', AWS_DEFAULT_REGION: 'us-east-1' };
    const base = ['--cloud-provider', 'aws-s3', '--endpoint-url', 'http://127.0.0.1:1', 's3://pgstow-test/x', SERVER];
    for (const extra of [[], ['-t'], ['--timeline', '2']]) {
      const r = await runCli('barman-cloud-check-wal-archive', [...extra, ...base], { env });
      assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /127\.0\.0\.1:1/);
      assert.doesNotMatch(r.stderr, /check-wal-secret-value/);
      assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
    }
  });
});

describe('retention on S3 across a WAL listing page', () => {
  // The S3 driver lists 1,000 keys a page and deletes 1,000 keys a batch, so here the first WAL batch is
  // deleted while the listing still has a page to go (moto's continuation token names the last key listed,
  // which is then deleted). 30 backups keep 8 catalog reads in flight long enough that, with the SDK's
  // listeners per request, more than 10 sit on the CLI's one abort signal (Node warned on stderr).
  test('barman-cloud-backup-delete -r "REDUNDANCY 2" with 30 backups and 1,200 WAL on moto removes exactly the obsolete WAL, quietly, and a re-run changes nothing', async (t) => {
    const target = storeTarget(t, 'moto', 'cat-delete-pages');
    if (!target) return;
    const s = await openTarget(target, 'pages');
    t.after(() => s.store.close());
    const wal = (i: number): string => formatSegmentName(1, Math.floor(i / 256), i % 256);
    // backup.info must hold together: begin_xlog in begin_wal at begin_offset (16 MiB segments).
    const lsnAt = (i: number, offset: number): string => `${Math.floor(i / 256).toString(16).toUpperCase()}/${((i % 256) * 16777216 + offset).toString(16).toUpperCase()}`;
    const WALS = 1200;
    const start = Date.UTC(2026, 0, 1);
    const ids: string[] = [];
    const puts: Array<[string, Buffer]> = [];
    for (let i = 0; i < WALS; i++) puts.push([s.layout.walKey(wal(i)), Buffer.alloc(16, 7)]);
    for (let b = 0; b < 30; b++) {
      const seg = b * 40 + 1;
      const when = new Date(start + seg * 60_000);
      const id = formatBackupId(when, 0);
      ids.push(id);
      const info = emptyBackupInfo();
      Object.assign(info, {
        status: 'DONE', serverName: 'pages', timeline: 1, version: 150018, beginWal: wal(seg), endWal: wal(seg), beginOffset: 40, endOffset: 256,
        beginXlog: lsnAt(seg, 40), endXlog: lsnAt(seg, 256), beginTime: PyDateTime.fromDate(when, 0), endTime: PyDateTime.fromDate(new Date(when.getTime() + 30_000), 0),
        systemid: '7712078185362548611', pgdata: '/var/lib/postgresql/data',
      });
      puts.push([s.layout.backupInfoKey(id), Buffer.from(serializeBackupInfo(info))]);
      puts.push([s.layout.backupTarKey(id, 'data'), Buffer.alloc(512, 1)]);
    }
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < puts.length) { const [k, v] = puts[next++]!; await s.store.put(k, v); }
    }));
    const remaining = async (): Promise<{ wals: string[]; infos: number }> => {
      const wals: string[] = [];
      for await (const e of s.store.list(s.layout.walsPrefix)) if ('key' in e) wals.push(e.key.slice(e.key.lastIndexOf('/') + 1));
      let infos = 0;
      for await (const e of s.store.list(s.layout.basePrefix)) if ('key' in e && e.key.endsWith('/backup.info')) infos++;
      return { wals, infos };
    };
    const args = [...target.args, '-r', 'REDUNDANCY 2', target.url, 'pages'];
    const r = await runCli('barman-cloud-backup-delete', args, { env: target.env, timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /Warning/, 'no Node warnings on the drop-in\'s stderr');
    // The oldest kept backup starts at segment 1121: segments 0…1120 go (two delete batches, two listing
    // pages), 1121…1199 stay.
    const after = await remaining();
    assert.equal(after.infos, 2);
    assert.equal(after.wals.length, WALS - 1121);
    assert.equal(after.wals[0], wal(1121));
    assert.equal(after.wals.at(-1), wal(WALS - 1));
    const again = await runCli('barman-cloud-backup-delete', args, { env: target.env, timeoutMs: 120_000 });
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(await remaining(), after);
    const list = await runCli('barman-cloud-backup-list', [...target.args, '--format', 'json', target.url, 'pages'], { env: target.env });
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual((JSON.parse(list.stdout) as { backups_list: Array<{ backup_id: string }> }).backups_list.map((b) => b.backup_id), ids.slice(28));
  });
});
