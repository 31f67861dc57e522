/**
 * Defect 12: bad input accepted or unclear. Each case: one line on stderr naming the cause and the object,
 * Barman's exit code (3 for bad input), nothing stored or printed that should not be.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { binPath, runCli, type CliResult } from '../../harness/cli.js';
import { storeTarget } from '../../harness/stores.js';
import { testEnv } from '../../harness/test-env.js';
import { makeTempDir } from '../../harness/tmp.js';
import { syntheticSegment } from '../../harness/wal-segments.js';
import { openTarget } from '../catalog/catalog-fixture.js';

const SEG = '000000010000000000000005';

/** The one line pgstow printed (Node's own deprecation warnings aside). */
function oneLine(r: CliResult): string {
  const lines = r.stderr.trim().split('\n').filter((l) => !/^\(node:\d+\) (\[DEP|MaxListenersExceededWarning)|^\(Use `node --trace/.test(l));
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${r.stderr}`);
  return lines[0] as string;
}

describe('bad input: one line naming the cause and the object, Barman exit code', () => {
  it('a file that is not a WAL segment is not archived as one (100 bytes, a wrong segment, zeroes): exit 3', async (t) => {
    const target = storeTarget(t, 's3rver', 'bad-wal');
    if (!target) return;
    const dir = makeTempDir('bad-wal');
    const cases: Array<[string, Buffer, RegExp]> = [
      ['100 bytes', Buffer.alloc(100, 7), /magic 0x0707/],
      ['another segment', syntheticSegment('000000010000000000000009'), /WAL position 0\/900000, expected 0\/500000/],
      ['zeroes', Buffer.alloc(1 << 20), /magic 0x0000/],
      ['a truncated segment', syntheticSegment(SEG).subarray(0, 300_000), /truncated/],
    ];
    for (const [label, bytes, why] of cases) {
      const file = path.join(dir, SEG);
      fs.writeFileSync(file, bytes);
      const r = await runCli('barman-cloud-wal-archive', [...target.args, target.url, 'srv', file], { env: target.env });
      assert.equal(r.code, 3, `${label}: ${r.stderr}`);
      const line = oneLine(r);
      assert.ok(line.includes(file), `${label}: names the file: ${line}`);
      assert.match(line, /is not WAL segment 000000010000000000000005/);
      assert.match(line, why, label);
    }
    const s = await openTarget(target, 'srv');
    t.after(() => s.store.close());
    assert.equal(await s.store.exists(s.layout.walKey(SEG)), false, 'nothing was stored');
    const good = path.join(dir, SEG);
    fs.writeFileSync(good, syntheticSegment(SEG));
    assert.equal((await runCli('barman-cloud-wal-archive', [...target.args, target.url, 'srv', good], { env: target.env })).code, 0);
  });

  it('--compression-level out of range: archived at the nearest level, as Barman >= 3.14, with one line saying so; a word that is no level: exit 3', async (t) => {
    const target = storeTarget(t, 'fs', 'bad-level');
    if (!target) return;
    const dir = makeTempDir('bad-level');
    const file = path.join(dir, SEG);
    fs.writeFileSync(file, syntheticSegment(SEG));
    const r = await runCli('barman-cloud-wal-archive', [...target.args, '-z', '--compression-level', '99', target.url, 'srv', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(oneLine(r), /--compression-level 99 is out of range for gzip \(1 to 9\): using 9/);
    const bad = await runCli('barman-cloud-wal-archive', [...target.args, '-z', '--compression-level', 'ultra', target.url, 'srv', file]);
    assert.equal(bad.code, 3);
    assert.match(oneLine(bad), /--compression-level.*'ultra'/);
  });

  it('a server name that is not UTF-8 (bytes from the shell): exit 3, nothing stored under srv\\uFFFD', async (t) => {
    const target = storeTarget(t, 'fs', 'bad-server');
    if (!target) return;
    const dir = makeTempDir('bad-server');
    const file = path.join(dir, SEG);
    fs.writeFileSync(file, syntheticSegment(SEG));
    const sh = `"${process.execPath}" "${binPath('barman-cloud-wal-archive')}" --cloud-provider file "${target.url}" "$(printf 'srv\\377')" "${file}"`;
    const r = spawnSync('/bin/sh', ['-c', sh], { encoding: 'utf8' });
    assert.equal(r.status, 3, r.stderr);
    assert.match(oneLine({ code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }), /invalid server name "srv\\uFFFD": it is not valid UTF-8/);
    assert.equal(fs.existsSync(new URL(target.url).pathname), false, 'nothing was written');
  });

  it('pgstow backup list --format xml: exit 3 naming the choices (the barman-cloud drop-in keeps Barman\'s "anything else is JSON")', async (t) => {
    const target = storeTarget(t, 'fs', 'bad-format');
    if (!target) return;
    fs.mkdirSync(new URL(target.url).pathname, { recursive: true });
    const r = await runCli('pgstow', ['backup', 'list', ...target.args, '--format', 'xml', target.url, 'srv']);
    assert.equal(r.code, 3);
    assert.match(oneLine(r), /argument --format: invalid choice: 'xml' \(choose from 'console', 'json'\)/);
    assert.equal(r.stdout, '');
    const b = await runCli('barman-cloud-backup-list', [...target.args, '--format', 'xml', target.url, 'srv']);
    assert.equal(b.code, 0, b.stderr);
    assert.deepEqual(JSON.parse(b.stdout), { backups_list: [] });
  });

  it('a file:// destination that is a file: not "no backups" with exit 0, but exit 4 naming it', async () => {
    const dir = makeTempDir('dest-file');
    const file = path.join(dir, 'not-a-dir');
    fs.writeFileSync(file, 'x');
    for (const prog of ['barman-cloud-backup-list', 'barman-cloud-check-wal-archive']) {
      const r = await runCli(prog, ['--cloud-provider', 'file', `file://${file}`, 'srv']);
      assert.equal(r.code, 4, `${prog}: ${r.stdout}${r.stderr}`);
      assert.match(oneLine(r), new RegExp(`store root is not a directory: ${file} is a file`));
    }
  });

  it('a garbage CA file: exit 3 naming the file, on S3, Azure and GCS (was ignored, then "give --endpoint-ca")', async () => {
    const dir = makeTempDir('bad-ca');
    const garbage = path.join(dir, 'garbage.pem');
    fs.writeFileSync(garbage, Buffer.from('not a certificate at all \x00\x01\x02'));
    const broken = path.join(dir, 'broken.pem');
    fs.writeFileSync(broken, fs.readFileSync(testEnv().tls.caFile, 'utf8').replace(/^([A-Za-z0-9+/]{20})/m, '!!!!!!!!!!!!!!!!!!!!'));
    const cases: Array<[string, string[], Record<string, string>]> = [
      ['s3', ['--cloud-provider', 'aws-s3', '--endpoint-url', 'https://127.0.0.1:9', 's3://b/p'], { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'x'.repeat(40) }],
      ['azure', ['--cloud-provider', 'azure-blob-storage', 'https://acct.blob.core.windows.net/c/p'], { AZURE_STORAGE_KEY: Buffer.from('k').toString('base64') }],
      ['gcs', ['--cloud-provider', 'google-cloud-storage', '--endpoint-url', 'https://127.0.0.1:9', 'gs://b/p'], {}],
    ];
    for (const [label, args, env] of cases) {
      for (const [ca, why] of [[garbage, /holds no PEM certificate/], [broken, /holds a damaged certificate \(number 1\)/]] as const) {
        const r = await runCli('barman-cloud-backup-list', ['--endpoint-ca', ca, ...args, 'srv'], { env });
        assert.equal(r.code, 3, `${label}: ${r.stderr}`);
        const line = oneLine(r);
        assert.ok(line.includes(ca), `${label}: names the file: ${line}`);
        assert.match(line, why);
      }
    }
  });

  it('a 64 KiB tag: exit 3 naming the option and the tag, before any request (was "Unknown (HTTP 431)")', async (t) => {
    const target = storeTarget(t, 'moto', 'bad-tag');
    if (!target) return;
    const dir = makeTempDir('bad-tag');
    const file = path.join(dir, SEG);
    fs.writeFileSync(file, syntheticSegment(SEG));
    const big = 'v'.repeat(64 * 1024);
    for (const [flag, value] of [['--tags', `k,${big}`], ['--tag', `k,${big}`], ['--tags', `${'k'.repeat(200)},v`]] as const) {
      // (--tags takes every value after it, as in Barman: it goes last.)
      const r = await runCli('barman-cloud-wal-archive', [...target.args, target.url, 'srv', file, flag, value], { env: target.env });
      assert.equal(r.code, 3, `${flag}: ${r.stderr}`);
      assert.match(oneLine(r), new RegExp(`argument ${flag}: .*(has 65536 characters; object stores accept at most 256|has 200 characters; object stores accept 1 to 128)`));
    }
    const s = await openTarget(target, 'srv');
    t.after(() => s.store.close());
    assert.equal(await s.store.exists(s.layout.walKey(SEG)), false);
  });

  it('a damaged gzip or bzip2 WAL object: one line naming the object (not "write EPIPE"), exit 128', async (t) => {
    const target = storeTarget(t, 'fs', 'bad-codec');
    if (!target) return;
    const dir = makeTempDir('bad-codec');
    const s = await openTarget(target, 'srv');
    t.after(() => s.store.close());
    for (const [flag, suffix] of [['-z', '.gz'], ['-j', '.bz2']] as const) {
      const file = path.join(dir, SEG);
      fs.writeFileSync(file, syntheticSegment(SEG));
      const a = await runCli('barman-cloud-wal-archive', [...target.args, flag, target.url, 'srv', file]);
      assert.equal(a.code, 0, a.stderr);
      const key = s.layout.walKey(SEG, suffix);
      const raw = fs.readFileSync(path.join(new URL(target.url).pathname, key));
      const garbage = Buffer.concat([raw.subarray(0, 16), Buffer.alloc(raw.length - 16, 0xa5)]);
      await s.store.delete([key]);
      await s.store.put(key, garbage);
      const r = await runCli('barman-cloud-wal-restore', [...target.args, target.url, 'srv', SEG, path.join(dir, `out${suffix}`)]);
      assert.equal(r.code, 128, r.stderr);
      const line = oneLine(r);
      assert.ok(line.includes(key) && /is damaged/.test(line), line);
      assert.doesNotMatch(line, /EPIPE/);
      await s.store.delete([key]);
    }
  });
});
