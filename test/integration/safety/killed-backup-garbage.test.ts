/**
 * Defect 5: after a kill -9 mid-backup an in-progress multipart upload and an orphan data.tar stayed forever;
 * retention ignored them; `backup delete -b <id>` said it did not exist, exit 0. Now retention, `backup delete`
 * and the next backup remove unfinished uploads, backups without backup.info and FAILED backups nothing touched for
 * --orphan-age (24 h by default), and say what they removed; `-b <id>` of a fresh orphan is refused as possibly
 * running (exit 1), not reported as absent.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { AbortMultipartUploadCommand, CreateMultipartUploadCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { binPath, runCli } from '../../harness/cli.js';
import { startPostgres, type PostgresServer } from '../../harness/postgres.js';
import { storeTarget, TEST_BUCKET, type StoreKind, type StoreTarget } from '../../harness/stores.js';
import { requireServer } from '../../harness/test-env.js';
import { isCommonPrefix } from '../../../src/storage/object-store.js';
import { openTarget, type Seeded } from '../catalog/catalog-fixture.js';

const SERVER = 'main';

describe('what killed and failed backups leave behind', () => {
  let pg: PostgresServer | undefined;
  before(async () => {
    pg = await startPostgres({ settings: { archive_mode: 'off' } });
    // About 80 MB of data: with -S 40MB (volumes larger than an upload part, so they go multipart) and a bandwidth
    // limit, the backup is killed with one volume stored and the next one's multipart upload in flight.
    await pg.query(`CREATE TABLE big AS SELECT g, repeat(md5(g::text), 30) AS t FROM generate_series(1, 60000) g`);
  });
  after(async () => { await pg?.destroy(); });

  const backupArgs = (target: StoreTarget, extra: string[] = []): string[] => ['backup', ...target.args, '--progress', 'off', '--immediate-checkpoint',
    '-h', '127.0.0.1', '-p', String((pg as PostgresServer).port), '-U', 'postgres', ...extra, target.url, SERVER];

  /** Starts a backup, kills it (SIGKILL) once an upload is under way with a volume stored, returns its id. */
  async function killedBackup(target: StoreTarget, s: Seeded): Promise<string> {
    const before = new Set(await ids(s));
    const child = spawn(process.execPath, [binPath('pgstow'), ...backupArgs(target, ['-S', '40MB', '--max-bandwidth', '4MB'])], { env: { ...process.env, ...target.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const deadline = Date.now() + 120_000;
    for (;;) {
      const fresh = (await ids(s)).filter((i) => !before.has(i));
      const id = fresh[0];
      if (id && (await objectsUnder(s, id)).length >= 1 && (await uploadsUnder(s, id)) >= (s.store.listIncompleteUploads ? 1 : 0)) {
        child.kill('SIGKILL');
        await new Promise((r) => child.once('close', r));
        // A request the process sent just before it died (a CompleteMultipartUpload) still lands: let it settle.
        await new Promise((r) => setTimeout(r, 1000));
        return id;
      }
      if (Date.now() > deadline || child.exitCode !== null) { child.kill('SIGKILL'); throw new Error(`the backup ended (exit ${child.exitCode}) before it could be killed mid-way: ${stderr}`); }
      await new Promise((r) => setTimeout(r, 150));
    }
  }

  async function ids(s: Seeded): Promise<string[]> {
    const out: string[] = [];
    for await (const e of s.store.list(s.layout.basePrefix, { delimiter: '/' })) if (isCommonPrefix(e)) out.push(e.prefix.slice(s.layout.basePrefix.length, -1));
    return out;
  }
  async function objectsUnder(s: Seeded, id: string): Promise<string[]> {
    const out: string[] = [];
    for await (const e of s.store.list(s.layout.backupPrefix(id))) if (!isCommonPrefix(e)) out.push(e.key);
    return out;
  }
  async function uploadsUnder(s: Seeded, id: string): Promise<number> {
    let n = 0;
    if (s.store.listIncompleteUploads) for await (const _u of s.store.listIncompleteUploads(s.layout.backupPrefix(id))) n++;
    return n;
  }

  for (const kind of ['moto', 'azurite', 'fs'] as StoreKind[]) {
    it(`${kind}: delete -b, retention and the next backup remove a killed backup's objects and unfinished upload, and say so`, async (t) => {
      const target = storeTarget(t, kind, `killed-${kind}`);
      if (!target || !pg) return;
      const s = await openTarget(target, SERVER);
      t.after(() => s.store.close());
      const pgstow = (args: string[]): ReturnType<typeof runCli> => runCli('pgstow', args, { env: target.env, timeoutMs: 300_000 });

      // 1. delete -b of a fresh orphan: refused as possibly running (was "does not exist", exit 0); forced with --orphan-age 0.
      const a = await killedBackup(target, s);
      // Killed within 150 ms of the next volume's upload starting: the upload is unfinished (S3 lists it; fs too).
      const uploadsLeft = await uploadsUnder(s, a);
      if (s.store.listIncompleteUploads) assert.ok(uploadsLeft > 0, 'the killed backup left an unfinished upload');
      const refused = await pgstow(['backup', 'delete', ...target.args, '-b', a, target.url, SERVER]);
      assert.equal(refused.code, 1, refused.stdout + refused.stderr);
      assert.match(refused.stderr, new RegExp(`backup ${a} has no backup.info and was written to \\d+ s ago: it may still be running`));
      assert.ok((await objectsUnder(s, a)).length > 0, 'nothing deleted');
      const forced = await pgstow(['backup', 'delete', ...target.args, '-b', a, '--orphan-age', '0', target.url, SERVER]);
      assert.equal(forced.code, 0, forced.stderr);
      assert.match(forced.stderr, new RegExp(`removed orphan backup ${a} \\(\\d+ object\\(s\\), \\d+ bytes\\)`));
      if (uploadsLeft > 0) assert.match(forced.stderr, /aborted upload .*\.tar \(1 object\(s\), \d+ bytes\): unfinished upload of backup/);
      assert.deepEqual(await objectsUnder(s, a), []);
      assert.equal(await uploadsUnder(s, a), 0);

      // 2. retention removes another one, and a FAILED backup of long ago (default age), and says so.
      const keep = await pgstow(backupArgs(target));
      assert.equal(keep.code, 0, keep.stderr);
      const b = await killedBackup(target, s);
      const failedId = '20200101T000000';
      await s.store.put(s.layout.backupTarKey(failedId, 'data'), Buffer.alloc(4096, 1));
      await s.store.put(s.layout.backupInfoKey(failedId), Buffer.from('begin_time=2020-01-01 00:00:00+00:00\nerror=failure uploading data (killed)\nstatus=FAILED\n'));
      const r = await pgstow(['backup', 'delete', ...target.args, '-r', 'REDUNDANCY 1', '--orphan-age', '0', target.url, SERVER]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`removed orphan backup ${b}`));
      assert.match(r.stderr, new RegExp(`removed failed backup ${failedId} .*FAILED \\(failure uploading data \\(killed\\)\\)`));
      assert.match(r.stdout, /Removed 1 orphaned and 1 failed backup\(s\)/);
      assert.deepEqual(await objectsUnder(s, b), []);
      assert.deepEqual(await objectsUnder(s, failedId), []);

      // 3. the next successful backup removes what a killed one left.
      const c = await killedBackup(target, s);
      const next = await pgstow(backupArgs(target, ['--orphan-age', '0']));
      assert.equal(next.code, 0, next.stderr);
      assert.match(next.stderr, new RegExp(`removed orphan backup ${c}`));
      assert.deepEqual(await objectsUnder(s, c), []);
      assert.equal(await uploadsUnder(s, c), 0);
    });
  }

  it('moto: an upload that finishes while unfinished uploads are listed is skipped, not an error (a backup running beside retention)', async (t) => {
    const moto = requireServer(t, 'moto');
    const target = storeTarget(t, 'moto', 'uploads-race');
    if (!moto || !target) return;
    const s = await openTarget(target, SERVER);
    t.after(() => s.store.close());
    const client = new S3Client({ region: moto.region, endpoint: moto.endpoint, forcePathStyle: true,
      credentials: { accessKeyId: moto.accessKeyId, secretAccessKey: moto.secretAccessKey } });
    t.after(() => client.destroy());
    const keys = ['20260101T000000', '20260101T000001'].map((id) => `${s.layout.backupPrefix(id)}data.tar`);
    const ids: string[] = [];
    for (const Key of keys) {
      const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: TEST_BUCKET, Key }));
      await client.send(new UploadPartCommand({ Bucket: TEST_BUCKET, Key, UploadId, PartNumber: 1, Body: Buffer.alloc(1024, 7) }));
      ids.push(UploadId as string);
    }
    const seen: string[] = [];
    assert.ok(s.store.listIncompleteUploads, 'the S3 driver lists unfinished uploads');
    for await (const u of s.store.listIncompleteUploads(s.layout.serverPrefix)) {
      seen.push(u.key);
      // The second upload, already in the listing's page, ends before its parts are looked at.
      if (seen.length === 1) await client.send(new AbortMultipartUploadCommand({ Bucket: TEST_BUCKET, Key: keys[1], UploadId: ids[1] }));
    }
    assert.deepEqual(seen, [keys[0]]);
    await client.send(new AbortMultipartUploadCommand({ Bucket: TEST_BUCKET, Key: keys[0], UploadId: ids[0] }));
  });
});
