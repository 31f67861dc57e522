/**
 * lz4 backups go through the lz4 program when the machine has it and through JavaScript when it has not; a program
 * that dies mid-stream fails the backup (exit 1) with a line naming lz4 and the cause, and no backup is DONE.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { runCli } from '../harness/cli.js';
import { chownToPostgres, makeTempDir, removeDir } from '../harness/tmp.js';
import { requireInstalled } from '../harness/test-env.js';
import { startArchivingPostgres } from './backup-fixtures.js';

/** status= of every backup.info under the server's base/ directory. */
function statuses(storeDir: string, server: string): string[] {
  const base = path.join(storeDir, server, 'base');
  if (!fs.existsSync(base)) return [];
  return fs.readdirSync(base).map((id) => /^status=(\w+)$/m.exec(fs.readFileSync(path.join(base, id, 'backup.info'), 'utf8'))?.[1] ?? '?');
}

/** The frame's BD byte of the backup's first data volume: 0x60 from the program (-B6), 0x70 from JavaScript. */
function blockDescriptor(storeDir: string, server: string): number {
  const base = path.join(storeDir, server, 'base');
  const id = fs.readdirSync(base)[0] as string;
  const volume = fs.readdirSync(path.join(base, id)).find((f) => f.startsWith('data') && f.endsWith('.tar.lz4')) as string;
  return fs.readFileSync(path.join(base, id, volume))[5] as number;
}

test('lz4: the program when installed, JavaScript without it; a program dying mid-stream fails the backup, nothing DONE', async (t) => {
  const lz4 = spawnSync('sh', ['-c', 'command -v lz4'], { encoding: 'utf8' }).stdout.trim();
  if (!requireInstalled(t, 'lz4 (Debian package lz4)', lz4 !== '')) return;
  const storeDir = makeTempDir('lz4-prog-store');
  t.after(() => removeDir(storeDir));
  chownToPostgres(storeDir);
  const url = `file://${storeDir}`;
  const fx = await startArchivingPostgres(15, { rows: 20_000, tablespace: false });
  t.after(() => fx.cleanup());
  const backup = (server: string, PATH: string): ReturnType<typeof runCli> =>
    runCli('pgstow', ['backup', '--cloud-provider', 'file', '--lz4', '--immediate-checkpoint', url, server], { env: { ...fx.pg.libpqEnv, PATH } });

  const viaProgram = await backup('prog', process.env.PATH ?? '');
  assert.equal(viaProgram.code, 0, viaProgram.stderr);
  assert.equal(blockDescriptor(storeDir, 'prog'), 0x60, 'written by the lz4 program');
  const viaJs = await backup('js', path.dirname(process.execPath)); // a PATH without lz4
  assert.equal(viaJs.code, 0, viaJs.stderr);
  assert.equal(blockDescriptor(storeDir, 'js'), 0x70, 'written by the JavaScript encoder');
  for (const server of ['prog', 'js']) {
    const dest = makeTempDir(`lz4-prog-restore-${server}`);
    t.after(() => removeDir(dest));
    const r = await runCli('pgstow', ['restore', '--cloud-provider', 'file', url, server, 'latest', path.join(dest, 'data')]);
    assert.equal(r.code, 0, `${server}: ${r.stderr}`);
    assert.equal(fs.readFileSync(path.join(dest, 'data', 'PG_VERSION'), 'utf8'), '15\n');
  }

  // An lz4 that passes ~2 MB through the real one, then is killed: the tar stream is far longer than that.
  const fake = makeTempDir('lz4-prog-fake');
  t.after(() => removeDir(fake));
  fs.writeFileSync(path.join(fake, 'lz4'), `#!/bin/sh\nhead -c 2000000 | ${lz4} "$@"\nkill -KILL $$\n`, { mode: 0o755 });
  const dies = await backup('dies', `${fake}:${process.env.PATH ?? ''}`);
  assert.equal(dies.code, 1, dies.stderr);
  assert.match(dies.stderr, /cannot compress lz4 data: lz4 failed: killed by SIGKILL/);
  assert.deepEqual(statuses(storeDir, 'dies'), ['FAILED']);
  const list = await runCli('pgstow', ['backup-list', '--cloud-provider', 'file', '--format', 'json', url, 'dies']);
  assert.doesNotMatch(list.stdout, /"status":\s*"DONE"/, list.stdout);
});
