/**
 * wal-archive / wal-restore through the installed CLI on every store kind: codecs, exit codes, identical
 * re-archive, refused conflicts, .partial fallback, parallel archiving and prefetching restore.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli } from '../harness/cli.js';
import { ALL_STORE_KINDS, storeTarget, TEST_BUCKET, uniquePrefix, type StoreTarget } from '../harness/stores.js';
import { requireServer } from '../harness/test-env.js';
import { makeTempDir } from '../harness/tmp.js';
import { isCommonPrefix, type ObjectInfo } from '../../src/storage/object-store.js';
import { openTarget } from './catalog/catalog-fixture.js';
import { syntheticSegment } from '../harness/wal-segments.js';

const SEG = 1 << 20; // 1 MiB segments keep the tests small (initdb --wal-segsize=1)

function segmentName(n: number, tli = 1): string {
  return `${tli.toString(16).toUpperCase().padStart(8, '0')}00000000${n.toString(16).toUpperCase().padStart(8, '0')}`;
}

/** A valid WAL segment for `name` (page headers, records with CRCs), distinct per seed. */
function fakeSegment(seed: number, name = segmentName(seed)): Buffer {
  return syntheticSegment(name, { seed, segmentSize: SEG });
}

function setup(kind: StoreTarget['kind'], t: Parameters<typeof storeTarget>[0]): { target: StoreTarget; dir: string; pgWal: string } | undefined {
  const target = storeTarget(t, kind, `wal-cli-${kind}`);
  if (!target) return undefined;
  const dir = makeTempDir(`wal-cli-${kind}`);
  const pgWal = path.join(dir, 'pg_wal');
  fs.mkdirSync(path.join(pgWal, 'archive_status'), { recursive: true });
  return { target, dir, pgWal };
}

const archive = (s: { target: StoreTarget }, args: string[]) =>
  runCli('barman-cloud-wal-archive', [...s.target.args, ...args.slice(0, -1), s.target.url, 'srv', args.at(-1) as string], { env: s.target.env });
// A generous "not in archive" TTL: the marker test must not depend on how fast a loaded machine runs three calls.
const restore = (s: { target: StoreTarget }, name: string, dest: string, extra: string[] = []) =>
  runCli('barman-cloud-wal-restore', [...s.target.args, ...extra, s.target.url, 'srv', name, dest], { env: { ...s.target.env, PGSTOW_PREFETCH_MISS_TTL: '600' } });

for (const kind of ALL_STORE_KINDS) {
  describe(`wal-archive/wal-restore CLI on ${kind}`, () => {
    it('round-trips every codec, re-archives identical content, refuses different content', async (t) => {
      const s = setup(kind, t);
      if (!s) return;
      const flags: Array<[string[], number]> = [[[], 1], [['-z'], 2], [['-j'], 3], [['--snappy'], 4], [['--xz'], 5], [['--zstd'], 6], [['--lz4'], 7]];
      await Promise.all(flags.map(async ([flag, n]) => {
        const file = path.join(s.pgWal, segmentName(n));
        fs.writeFileSync(file, fakeSegment(n));
        const r = await archive(s, [...flag, file]);
        assert.equal(r.code, 0, `archive ${flag.join(' ')}: ${r.stderr}`);
      }));
      await Promise.all(flags.map(async ([flag, n]) => {
        const dest = path.join(s.dir, `restored-${n}`);
        const r = await restore(s, segmentName(n), dest);
        assert.equal(r.code, 0, `restore ${flag.join(' ')}: ${r.stderr}`);
        assert.ok(fs.readFileSync(dest).equals(fakeSegment(n)), `content after ${flag.join(' ') || 'no compression'}`);
      }));

      // Same content again, even with another codec: success, nothing new written.
      const file2 = path.join(s.pgWal, segmentName(2));
      const opened = await openTarget(s.target, 'srv');
      t.after(() => opened.store.close());
      const copiesOf2 = async (): Promise<ObjectInfo[]> => {
        const out: ObjectInfo[] = [];
        for await (const e of opened.store.list(opened.layout.walKey(segmentName(2)))) if (!isCommonPrefix(e)) out.push(e);
        return out;
      };
      const before = await copiesOf2();
      assert.deepEqual(before.map((e) => path.basename(e.key)), [`${segmentName(2)}.gz`]);
      const statBefore = await opened.store.stat(before[0]!.key);
      const again = await archive(s, ['--lz4', file2]);
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual((await copiesOf2()).map((e) => path.basename(e.key)), [`${segmentName(2)}.gz`], 'no second copy under another codec');
      const statAfter = await opened.store.stat(before[0]!.key);
      assert.equal(statAfter.size, statBefore.size);
      assert.equal(statAfter.etag, statBefore.etag, 'the stored object was not rewritten');
      assert.equal(statAfter.lastModified?.getTime(), statBefore.lastModified?.getTime(), 'the stored object was not rewritten');
      // Different content under an archived name: exit 1 naming both, original kept.
      const other = path.join(s.dir, 'other');
      fs.mkdirSync(other);
      fs.writeFileSync(path.join(other, segmentName(2)), fakeSegment(99, segmentName(2)));
      const clash = await archive(s, ['-z', path.join(other, segmentName(2))]);
      assert.equal(clash.code, 1);
      assert.match(clash.stderr, /refusing to archive .*000000010000000000000002.*different content/);
      assert.match(clash.stderr, /wals\/0000000100000000\/000000010000000000000002\.gz/);
      const dest = path.join(s.dir, 'after-clash');
      assert.equal((await restore(s, segmentName(2), dest)).code, 0);
      assert.ok(fs.readFileSync(dest).equals(fakeSegment(2)), 'the archived copy is untouched');
    });

    it('exit codes: not found 1 (quietly), bad name 3, .partial fallback, history files', async (t) => {
      const s = setup(kind, t);
      if (!s) return;
      const missing = await restore(s, segmentName(0x40), path.join(s.dir, 'x'));
      assert.equal(missing.code, 1);
      assert.doesNotMatch(missing.stderr, /error/i);
      assert.ok(!fs.existsSync(path.join(s.dir, 'x')));
      const bad = await restore(s, 'not-a-wal', path.join(s.dir, 'x'));
      assert.equal(bad.code, 3);
      assert.match(bad.stderr, /not-a-wal is an invalid name for a WAL file/);
      const badArchive = await archive(s, [path.join(s.pgWal, 'garbage')]);
      assert.equal(badArchive.code, 3);

      const partial = path.join(s.pgWal, `${segmentName(0x20)}.partial`);
      fs.writeFileSync(partial, fakeSegment(0x20));
      assert.equal((await archive(s, ['-z', partial])).code, 0);
      const dest = path.join(s.dir, 'from-partial');
      const r = await restore(s, segmentName(0x20), dest);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(fs.readFileSync(dest).equals(fakeSegment(0x20)));
      assert.equal((await restore(s, segmentName(0x20), path.join(s.dir, 'np'), ['--no-partial'])).code, 1);

      const history = path.join(s.pgWal, '00000002.history');
      fs.writeFileSync(history, '1\t0/3000000\tno recovery target specified\n');
      assert.equal((await archive(s, ['--snappy', history])).code, 0);
      const hdest = path.join(s.dir, 'history');
      assert.equal((await restore(s, '00000002.history', hdest)).code, 0);
      assert.equal(fs.readFileSync(hdest, 'utf8'), fs.readFileSync(history, 'utf8'));
    });

    it('--max-parallel archives ready files ahead and answers later calls from the spool', async (t) => {
      const s = setup(kind, t);
      if (!s) return;
      const spool = path.join(s.dir, 'archive-spool');
      for (let n = 1; n <= 6; n++) {
        fs.writeFileSync(path.join(s.pgWal, segmentName(n)), fakeSegment(n));
        fs.writeFileSync(path.join(s.pgWal, 'archive_status', `${segmentName(n)}.ready`), '');
      }
      const first = await archive(s, ['-z', '--max-parallel', '3', '--spool-dir', spool, path.join(s.pgWal, segmentName(1))]);
      assert.equal(first.code, 0, first.stderr);
      // Exactly N−1 = 2 extra files were uploaded and marked.
      assert.deepEqual(fs.readdirSync(spool).sort(), [segmentName(2), segmentName(3)]);
      const second = await archive(s, ['-z', '--max-parallel', '3', '--spool-dir', spool, '-v', path.join(s.pgWal, segmentName(2))]);
      assert.equal(second.code, 0);
      assert.match(second.stderr, /already archived by an earlier parallel call/);
      assert.deepEqual(fs.readdirSync(spool).sort(), [segmentName(3)]);
      for (const n of [1, 2, 3]) {
        const dest = path.join(s.dir, `p-${n}`);
        assert.equal((await restore(s, segmentName(n), dest)).code, 0);
        assert.ok(fs.readFileSync(dest).equals(fakeSegment(n)));
      }
    });

    it('--max-parallel restore prefetches the next segments into the spool', async (t) => {
      const s = setup(kind, t);
      if (!s) return;
      for (let n = 1; n <= 3; n++) {
        const f = path.join(s.pgWal, segmentName(n));
        fs.writeFileSync(f, fakeSegment(n));
        assert.equal((await archive(s, ['--zstd', f])).code, 0);
      }
      const spool = path.join(s.dir, 'restore-spool');
      const opts = ['--max-parallel', '4', '--spool-dir', spool];
      const r1 = await restore(s, segmentName(1), path.join(s.dir, 'r1'), opts);
      assert.equal(r1.code, 0, r1.stderr);
      assert.ok(fs.readFileSync(path.join(s.dir, 'r1')).equals(fakeSegment(1)));
      // 2 and 3 prefetched; 4 was not in the archive: a marker for that timeline+segment only.
      assert.deepEqual(fs.readdirSync(spool).sort(), [segmentName(2), segmentName(3), `${segmentName(4)}.missing`, 'segment-size']);
      for (const n of [2, 3]) {
        const dest = path.join(s.dir, `r${n}`);
        const r = await restore(s, segmentName(n), dest, [...opts, '-v']);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /from the prefetch spool/);
        assert.ok(fs.readFileSync(dest).equals(fakeSegment(n)), `segment ${n}`);
      }
      // Timeline 2's segment 4 is asked for (markers are never global) and found once archived.
      const tl2 = path.join(s.pgWal, segmentName(4, 2));
      fs.writeFileSync(tl2, fakeSegment(42, segmentName(4, 2)));
      assert.equal((await archive(s, [tl2])).code, 0);
      const rt = await restore(s, segmentName(4, 2), path.join(s.dir, 'tl2'), opts);
      assert.equal(rt.code, 0, rt.stderr);
      assert.ok(fs.readFileSync(path.join(s.dir, 'tl2')).equals(fakeSegment(42, segmentName(4, 2))));
      // The fresh marker answers "not found" once, then the archive is asked again.
      const f4 = path.join(s.pgWal, segmentName(4));
      fs.writeFileSync(f4, fakeSegment(4));
      assert.equal((await archive(s, [f4])).code, 0);
      assert.equal((await restore(s, segmentName(4), path.join(s.dir, 'r4'), opts)).code, 1);
      const r4 = await restore(s, segmentName(4), path.join(s.dir, 'r4'), opts);
      assert.equal(r4.code, 0, r4.stderr);
      assert.ok(fs.readFileSync(path.join(s.dir, 'r4')).equals(fakeSegment(4)));
    });
  });
}

describe('wal-archive/wal-restore failure exit codes', () => {
  it('exit 2 naming the endpoint when the store cannot be reached', async () => {
    const dir = makeTempDir('wal-net');
    const env = { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'not-a-secret-value-1234', AWS_DEFAULT_REGION: 'us-east-1' };
    const args = ['--cloud-provider', 'aws-s3', '--endpoint-url', 'http://127.0.0.1:1', 's3://bucket/prefix', 'srv'];
    const r = await runCli('barman-cloud-wal-restore', [...args, segmentName(3), path.join(dir, 'x')], { env });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /127\.0\.0\.1:1/);
    assert.ok(!fs.existsSync(path.join(dir, 'x')));
    const file = path.join(dir, segmentName(3));
    fs.writeFileSync(file, fakeSegment(3));
    const a = await runCli('barman-cloud-wal-archive', [...args, file], { env });
    assert.equal(a.code, 2);
    assert.doesNotMatch(a.stderr + r.stderr, /not-a-secret-value/);
  });

  it('an unusable spool directory never fails the WAL PostgreSQL asked for', async (t) => {
    const s = setup('fs', t);
    if (!s) return;
    // A path below a regular file can be neither created nor written (even as root).
    const blocker = path.join(s.dir, 'not-a-dir');
    fs.writeFileSync(blocker, 'x');
    const spool = path.join(blocker, 'spool');
    for (let n = 1; n <= 3; n++) {
      fs.writeFileSync(path.join(s.pgWal, segmentName(n)), fakeSegment(n));
      fs.writeFileSync(path.join(s.pgWal, 'archive_status', `${segmentName(n)}.ready`), '');
    }
    const a = await archive(s, ['--max-parallel', '3', '--spool-dir', spool, path.join(s.pgWal, segmentName(1))]);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stderr, /cannot use the spool directory .*not-a-dir\/spool/);
    assert.equal(a.stderr.trim().split('\n').length, 1, `one warning line: ${a.stderr}`);
    // Only the requested segment was archived: the others are left for PostgreSQL's own calls.
    assert.equal((await restore(s, segmentName(2), path.join(s.dir, 'none'))).code, 1);
    assert.equal((await archive(s, [path.join(s.pgWal, segmentName(2))])).code, 0);

    const dest = path.join(s.dir, 'restored-1');
    const r = await restore(s, segmentName(1), dest, ['--max-parallel', '3', '--spool-dir', spool]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fs.readFileSync(dest).equals(fakeSegment(1)), 'the requested segment is restored');
    assert.match(r.stderr, /not prefetching: cannot use the spool directory .*not-a-dir\/spool/);
    // And with the segment size given, prefetch starts before the download: still exit 0.
    const dest2 = path.join(s.dir, 'restored-2');
    const r2 = await restore(s, segmentName(2), dest2, ['--max-parallel', '3', '--spool-dir', spool, '--wal-segment-size', String(SEG)]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.ok(fs.readFileSync(dest2).equals(fakeSegment(2)));
  });

  it('exit 128 for a corrupt object, naming it, and the destination never appears', async (t) => {
    const s = setup('fs', t);
    if (!s) return;
    const file = path.join(s.pgWal, segmentName(7));
    fs.writeFileSync(file, fakeSegment(7));
    assert.equal((await archive(s, ['-z', file])).code, 0);
    const storeRoot = new URL(s.target.url).pathname;
    const key = path.join(storeRoot, 'srv', 'wals', '0000000100000000', `${segmentName(7)}.gz`);
    const bytes = fs.readFileSync(key);
    fs.writeFileSync(key, bytes.subarray(0, bytes.length >> 1));
    const dest = path.join(s.dir, 'corrupt');
    const r = await restore(s, segmentName(7), dest);
    assert.equal(r.code, 128, r.stderr);
    assert.match(r.stderr, /WAL object srv\/wals\/0000000100000000\/000000010000000000000007\.gz is damaged: .*gzip/);
    assert.ok(!fs.existsSync(dest), 'no half-written destination');
    assert.deepEqual(fs.readdirSync(s.dir).filter((f) => f.includes('pgstow-tmp')), [], 'no temp file left');
  });

  it('exit 4, not 1, when the store refuses: permission denied and wrong secret are never "WAL not found"', async (t) => {
    const moto = requireServer(t, 'moto');
    if (!moto?.extra?.limitedAccessKeyId || !moto.extra.limitedSecretAccessKey) return;
    const dir = makeTempDir('wal-denied');
    const limited = { AWS_ACCESS_KEY_ID: moto.extra.limitedAccessKeyId, AWS_SECRET_ACCESS_KEY: moto.extra.limitedSecretAccessKey, AWS_DEFAULT_REGION: moto.region };
    const opts = ['--cloud-provider', 'aws-s3', '--endpoint-url', moto.endpoint];
    const file = path.join(dir, segmentName(5));
    fs.writeFileSync(file, fakeSegment(5));
    // Inside its prefix the limited user archives and restores; a WAL that is not there is exit 1 as usual.
    const inside = `s3://${TEST_BUCKET}/${moto.extra.limitedPrefix}/${uniquePrefix('wal')}`;
    assert.equal((await runCli('barman-cloud-wal-archive', [...opts, inside, 'srv', file], { env: limited })).code, 0);
    assert.equal((await runCli('barman-cloud-wal-restore', [...opts, inside, 'srv', segmentName(6), path.join(dir, 'none')], { env: limited })).code, 1);
    // Outside its prefix: the policy denies it, which must not read as the end of the archive.
    const outside = `s3://${TEST_BUCKET}/${uniquePrefix('wal-outside')}`;
    const put = await runCli('barman-cloud-wal-archive', [...opts, outside, 'srv', file], { env: limited });
    assert.equal(put.code, 4, put.stderr);
    assert.match(put.stderr, /access denied: put on s3:\/\/pgstow-test\/wal-outside-[0-9a-f]+\/srv\/wals\/0000000100000000\/000000010000000000000005/);
    const admin = { AWS_ACCESS_KEY_ID: moto.accessKeyId, AWS_SECRET_ACCESS_KEY: moto.secretAccessKey, AWS_DEFAULT_REGION: moto.region };
    assert.equal((await runCli('barman-cloud-wal-archive', [...opts, outside, 'srv', file], { env: admin })).code, 0);
    const get = await runCli('barman-cloud-wal-restore', [...opts, outside, 'srv', segmentName(5), path.join(dir, 'denied')], { env: limited });
    assert.equal(get.code, 4, get.stderr);
    assert.match(get.stderr, /access denied/);
    assert.ok(!fs.existsSync(path.join(dir, 'denied')));
    // A wrong secret: the credentials are named as the cause, exit 4, the secret never printed.
    const wrong = { ...admin, AWS_SECRET_ACCESS_KEY: 'wrongWRONGwrongWRONGwrongWRONGwrong0000' };
    const bad = await runCli('barman-cloud-wal-restore', [...opts, outside, 'srv', segmentName(5), path.join(dir, 'bad')], { env: wrong });
    assert.equal(bad.code, 4, bad.stderr);
    assert.match(bad.stderr, /invalid credentials/);
    for (const secret of ['wrongWRONG', moto.secretAccessKey, limited.AWS_SECRET_ACCESS_KEY]) {
      assert.ok(!(bad.stderr + get.stderr + put.stderr).includes(secret), 'no secret in any output');
    }
  });
});
