/**
 * Interop with the real barman-cloud 3.4 (Debian package) and 3.19.1 (PyPI, the test venv) on S3 (moto):
 * Barman makes backups of a real PostgreSQL and archives its WAL; each side lists, shows, keeps and deletes
 * what the other sees and wrote, and retention on the same catalog prints the same dry run and deletes the
 * same objects. 3.19 writes the backup.info keys 3.4 does not know (cluster_size, data_checksums, …) and
 * prints begin/end_time_iso: pgstow's JSON must equal 3.19's byte for byte, with nothing masked.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startPostgres, type PostgresServer } from '../harness/postgres.js';
import { runCli } from '../harness/cli.js';
import { mustNotSkip, requireServer } from '../harness/test-env.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';
import { parseBackupInfo, serializeBackupInfo } from '../../src/domain/backup/backup-info.js';
import { BarmanLayout } from '../../src/repository/barman-layout.js';
import { openStoreFromEnv } from '../harness/store-options.js';
import { readAll } from '../../src/storage/object-store-helpers.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { BARMAN_VERSIONS, barmanCommand, hasBarman, INSTALL_HINT, type BarmanVersion } from '../harness/peers.js';

const run = promisify(execFile);
const SERVER = 'pg';

interface Ctx { version: BarmanVersion; pg: PostgresServer; store: ObjectStore; url: string; prefix: string; args: string[]; env: Record<string, string> }

/**
 * pgstow's own backups carry base/<id>/pgstow-manifest.json, which Barman 3.4 neither knows nor deletes:
 * pgstow lists it in its dry run (it deletes it); compare the rest.
 */
function withoutManifest(text: string): string {
  return text.replace(/'[^']*\/pgstow-manifest\.json', /g, '');
}

/**
 * pgstow prints what Barman 3.19 prints; 3.4 predates begin_time_iso/end_time_iso (3.13) and the fields 3.11
 * added (null in every backup.info 3.4 can read).
 */
function withoutIso(c: Ctx, json: string): string {
  if (c.version !== '3.4') return json;
  return json.replace(/, "begin_time_iso": (null|"[^"]*"), "end_time_iso": (null|"[^"]*")/g, '')
    .replace(/, "(children_backup_ids|cluster_size|data_checksums|encryption|parent_backup_id|summarize_wal)": null/g, '');
}

async function barman(c: Ctx, program: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(barmanCommand(c.version, program), ['--endpoint-url', c.args[3]!, ...args], { env: { ...process.env, ...c.env }, maxBuffer: 1 << 26 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

function pgstow(c: Ctx, program: string, args: string[]): ReturnType<typeof runCli> {
  return runCli(program, [...c.args, ...args], { env: c.env });
}

async function keysUnder(store: ObjectStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of store.list(prefix)) if (!('prefix' in e)) out.push(e.key.slice(prefix.length));
  return out.sort();
}

/** Copies every object of one destination prefix to another (to run both tools on identical catalogs). */
async function copyPrefix(store: ObjectStore, from: string, to: string): Promise<void> {
  for (const k of await keysUnder(store, from)) await store.put(to + k, await readAll(store, from + k));
}

for (const version of BARMAN_VERSIONS) describe(`interop with barman-cloud ${version} on S3 (moto)`, { timeout: 600_000 }, () => {
  let c: Ctx | undefined;
  let ids: string[] = [];

  after(async () => {
    await c?.store.close();
    await c?.pg.destroy();
  });

  before(async () => {
    if (!hasBarman(version)) {
      if (mustNotSkip()) throw new Error(`barman-cloud ${version} is required in CI (${INSTALL_HINT})`);
      return;
    }
    const s3 = requireServer(undefined, 'moto');
    if (!s3) return;
    const prefix = uniquePrefix(`interop-cat-${version}`);
    const env = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_DEFAULT_REGION: s3.region };
    const url = `s3://${TEST_BUCKET}/${prefix}`;
    const archive = `${barmanCommand(version, 'barman-cloud-wal-archive')} --endpoint-url ${s3.endpoint} ${url} ${SERVER} %p`;
    const pg = await startPostgres({ version: 15, initdbArgs: ['--wal-segsize=1'], env, settings: { archive_mode: 'on', archive_command: archive, wal_level: 'replica', TimeZone: 'Europe/Paris' } });
    const { store } = await openStoreFromEnv({ provider: 'aws-s3', destinationUrl: url, endpointUrl: s3.endpoint, env: { ...process.env, ...env } });
    c = { version, pg, store, url, prefix, args: ['--cloud-provider', 'aws-s3', '--endpoint-url', s3.endpoint], env };
    await pg.query('create table t(i int)');
    const names = ['', 'weekly', `it's "quoted" é`];
    for (const name of names) {
      await pg.query('insert into t select generate_series(1, 1000)');
      await pg.query('select pg_switch_wal()');
      const r = await barman(c, 'barman-cloud-backup', ['-h', pg.host, '-p', String(pg.port), '-U', 'postgres', ...(name ? ['-n', name] : []), url, SERVER]);
      assert.equal(r.code, 0, r.stderr);
      await new Promise((res) => setTimeout(res, 1100)); // ids have one-second resolution
    }
    // One backup taken by pgstow itself (its barman-cloud-backup drop-in): the catalog is mixed from here on.
    await pg.query('insert into t select generate_series(1, 1000)');
    const own = await runCli('barman-cloud-backup', [...c.args, '-h', pg.host, '-p', String(pg.port), '-U', 'postgres', '-n', 'made by pgstow', url, SERVER], { env });
    assert.equal(own.code, 0, own.stderr);
    await pg.query('select pg_switch_wal()');
    await pg.waitFor('WAL archived', async () => (await pg.query<{ n: string }>('select archived_count::text as n from pg_stat_archiver'))[0]!.n !== '0');
    ids = (await keysUnder(store, `${prefix}/${SERVER}/base/`)).filter((k) => k.endsWith('/backup.info')).map((k) => k.split('/')[0]!);
    assert.equal(ids.length, 4);
  });

  test('list and show: pgstow prints what Barman prints', async (t) => {
    if (!c) return t.skip(`barman-cloud ${version} or moto not available`);
    for (const args of [[c.url, SERVER], ['--format', 'json', c.url, SERVER]]) {
      const b = await barman(c, 'barman-cloud-backup-list', args);
      const p = await pgstow(c, 'barman-cloud-backup-list', args);
      assert.equal(p.code, 0, p.stderr);
      assert.equal(withoutIso(c, p.stdout), b.stdout);
    }
    for (const id of [...ids, 'weekly', `it's "quoted" é`, 'made by pgstow']) {
      for (const fmt of [[], ['--format', 'json']]) {
        const b = await barman(c, 'barman-cloud-backup-show', [...fmt, c.url, SERVER, id]);
        const p = await pgstow(c, 'barman-cloud-backup-show', [...fmt, c.url, SERVER, id]);
        assert.equal(withoutIso(c, p.stdout), b.stdout, `show ${id} ${fmt.join(' ')}`);
      }
    }
    const b = await barman(c, 'barman-cloud-backup-show', [c.url, SERVER, '20200101T000000']);
    const p = await pgstow(c, 'barman-cloud-backup-show', [c.url, SERVER, '20200101T000000']);
    assert.equal(p.code, b.code);
  });

  test('keep: each side reads and releases the other side\'s annotation', async (t) => {
    if (!c) return t.skip(`barman-cloud ${version} or moto not available`);
    const r = await pgstow(c, 'barman-cloud-backup-keep', ['--target', 'standalone', c.url, SERVER, ids[0]!]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await barman(c, 'barman-cloud-backup-keep', ['-s', c.url, SERVER, ids[0]!])).stdout, 'Keep: standalone\n');
    assert.equal((await barman(c, 'barman-cloud-backup-keep', ['--target', 'full', c.url, SERVER, ids[1]!])).code, 0);
    assert.equal((await pgstow(c, 'barman-cloud-backup-keep', ['-s', c.url, SERVER, 'weekly'])).stdout, 'Keep: full\n');
    const bl = await barman(c, 'barman-cloud-backup-list', [c.url, SERVER]);
    assert.equal((await pgstow(c, 'barman-cloud-backup-list', [c.url, SERVER])).stdout, bl.stdout);
    assert.match(bl.stdout, /KEEP:STANDALONE/);
    assert.equal((await barman(c, 'barman-cloud-backup-keep', ['-r', c.url, SERVER, ids[1]!])).code, 0);
    assert.equal((await pgstow(c, 'barman-cloud-backup-keep', ['-s', c.url, SERVER, ids[1]!])).stdout, 'Keep: nokeep\n');
  });

  test('retention: same dry runs, and both tools delete the same objects from identical catalogs', async (t) => {
    if (!c) return t.skip(`barman-cloud ${version} or moto not available`);
    // State from the previous test: ids[0] keep:standalone. Add a pgstow-written backup.info (a copy of the
    // newest backup under a new id, serialized by pgstow) so the catalog is mixed.
    const layout = new BarmanLayout(c.prefix, SERVER);
    const newest = ids[ids.length - 1]!;
    const copyId = newest.slice(0, -2) + String((Number(newest.slice(-2)) + 1) % 60).padStart(2, '0');
    const info = parseBackupInfo((await readAll(c.store, layout.backupInfoKey(newest))).toString()).info;
    info.backupName = 'written by pgstow';
    for (const k of await keysUnder(c.store, layout.backupPrefix(newest))) {
      if (k !== 'backup.info') await c.store.put(layout.backupPrefix(copyId) + k, await readAll(c.store, layout.backupPrefix(newest) + k));
    }
    await c.store.put(layout.backupInfoKey(copyId), Buffer.from(serializeBackupInfo(info)));
    const bl = await barman(c, 'barman-cloud-backup-list', [c.url, SERVER]);
    assert.match(bl.stdout, /written by pgstow/, `barman-cloud ${version} reads a backup.info written by pgstow`);

    for (const policy of ['REDUNDANCY 1', 'REDUNDANCY 2', 'REDUNDANCY 3', 'RECOVERY WINDOW OF 1 DAYS']) {
      const b = await barman(c, 'barman-cloud-backup-delete', ['-r', policy, '--dry-run', c.url, SERVER]);
      const p = await pgstow(c, 'barman-cloud-backup-delete', ['-r', policy, '--dry-run', c.url, SERVER]);
      assert.equal(b.code, 0, b.stderr);
      assert.equal(p.code, 0, p.stderr);
      assert.equal(withoutManifest(p.stdout), b.stdout, policy);
      if (policy === 'REDUNDANCY 1') assert.match(b.stdout, /Skipping deletion of objects \['[^\]]*wals\//, 'the comparison covers WAL cleanup');
    }

    const twin = `${uniquePrefix('interop-twin')}/`;
    const twinUrl = `s3://${TEST_BUCKET}/${twin.slice(0, -1)}`;
    await copyPrefix(c.store, `${c.prefix}/`, twin);
    const b = await barman(c, 'barman-cloud-backup-delete', ['-r', 'REDUNDANCY 1', c.url, SERVER]);
    assert.equal(b.code, 0, b.stderr);
    const p = await pgstow(c, 'barman-cloud-backup-delete', ['-r', 'REDUNDANCY 1', twinUrl, SERVER]);
    assert.equal(p.code, 0, p.stderr);
    const left = await keysUnder(c.store, `${c.prefix}/`);
    // Barman leaves the manifest of the pgstow backup it deleted behind (a prefix without backup.info); pgstow
    // removes it. Everything else is identical.
    const leftovers = left.filter((k) => k.endsWith('/pgstow-manifest.json') && !left.includes(k.replace('pgstow-manifest.json', 'backup.info')));
    assert.deepEqual(await keysUnder(c.store, twin), left.filter((k) => !leftovers.includes(k)));
    assert.ok(left.some((k) => k.includes(copyId)) && left.some((k) => k.includes(ids[0]!)));

    // Each side deletes a backup by id that the other side sees: Barman deletes pgstow's copy from pgstow's
    // twin, pgstow deletes Barman's standalone one after releasing it; the listings agree afterwards.
    assert.equal((await barman(c, 'barman-cloud-backup-delete', ['-b', copyId, twinUrl, SERVER])).code, 0);
    assert.equal((await pgstow(c, 'barman-cloud-backup-keep', ['-r', c.url, SERVER, ids[0]!])).code, 0);
    const pd = await pgstow(c, 'barman-cloud-backup-delete', ['-b', ids[0]!, c.url, SERVER]);
    assert.equal(pd.code, 0, pd.stderr);
    const bl2 = await barman(c, 'barman-cloud-backup-list', ['--format', 'json', c.url, SERVER]);
    const pl2 = await pgstow(c, 'barman-cloud-backup-list', ['--format', 'json', c.url, SERVER]);
    assert.equal(withoutIso(c, pl2.stdout), bl2.stdout);
    assert.ok(!bl2.stdout.includes(ids[0]!));
  });
});
