/**
 * lz4 backup volumes are decoded by the lz4 program when the machine has it (else by JavaScript): a pgstow lz4
 * backup restores, and a truncated volume or one whose content checksum is wrong is refused with exit 1, naming
 * the object, as a damaged gzip volume is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli } from '../harness/cli.js';
import { chownToPostgres, makeTempDir, removeDir } from '../harness/tmp.js';
import { startArchivingPostgres } from './backup-fixtures.js';

test('an lz4 backup restores; a truncated volume or a wrong content checksum is refused, naming the object', async (t) => {
  const storeDir = makeTempDir('lz4-store');
  t.after(() => removeDir(storeDir));
  chownToPostgres(storeDir);
  const url = `file://${storeDir}`;
  const fx = await startArchivingPostgres(15);
  t.after(() => fx.cleanup());

  const r = await runCli('pgstow', ['backup', '--cloud-provider', 'file', '--lz4', '-S', '1MB', '--immediate-checkpoint', url, 'pg'], { env: fx.pg.libpqEnv });
  assert.equal(r.code, 0, r.stderr);
  const id = /backup (\d{8}T\d{6}) done/.exec(r.stderr)?.[1] as string;
  const base = makeTempDir('lz4-restore');
  t.after(() => removeDir(base));
  const ok = await runCli('pgstow', ['restore', '--cloud-provider', 'file', '--tablespace', `ts1:${path.join(base, 'ts-ok')}`, url, 'pg', id, path.join(base, 'ok')]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(fs.existsSync(path.join(base, 'ok', 'PG_VERSION')));

  const volume = 'data_0001.tar.lz4';
  const damages: Array<[string, (bytes: Buffer) => Buffer]> = [
    ['truncated', (b) => b.subarray(0, Math.floor(b.length / 2))],
    ['checksum', (b) => { const c = Buffer.from(b); c[c.length - 2] = (c[c.length - 2] as number) ^ 0xff; return c; }],
  ];
  for (const [name, damage] of damages) {
    const copy = path.join(base, `store-${name}`);
    fs.cpSync(storeDir, copy, { recursive: true });
    const victim = path.join(copy, 'pg', 'base', id, volume);
    fs.writeFileSync(victim, damage(fs.readFileSync(victim)));
    const bad = await runCli('pgstow', ['restore', '--cloud-provider', 'file', '--tablespace', `ts1:${path.join(base, `ts-${name}`)}`, `file://${copy}`, 'pg', id, path.join(base, name)]);
    assert.equal(bad.code, 1, `${name}: ${bad.stderr}`);
    assert.match(bad.stderr, /data_0001\.tar\.lz4/, name);
    assert.match(bad.stderr, /lz4/, name);
  }
});
