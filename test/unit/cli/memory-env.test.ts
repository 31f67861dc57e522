import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mallocEnvToAdd } from '../../../src/cli/memory-env.js';
import { binPath } from '../../harness/cli.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

test('backup, restore and the plugin get MALLOC_ARENA_MAX=2; WAL and other commands do not', () => {
  const env = { PATH: '/bin' };
  for (const [program, argv] of [['pgstow', ['backup']], ['pgstow', ['backup', '--jobs', '2']], ['pgstow', ['restore']], ['pgstow', ['plugin', 'instance']], ['barman-cloud-backup', []], ['barman-cloud-restore', []]] as const) {
    assert.deepEqual(mallocEnvToAdd(program, argv, env, 'linux'), { PATH: '/bin', MALLOC_ARENA_MAX: '2' }, `${program} ${argv.join(' ')}`);
  }
  for (const [program, argv] of [['pgstow', ['wal-archive']], ['pgstow', ['wal-restore']], ['pgstow', ['backup', 'list']], ['pgstow', ['backup', 'show']], ['pgstow', ['backup', 'delete']], ['pgstow', ['plugin', 'healthcheck']], ['pgstow', ['check-store']], ['pgstow', ['constructor']], ['pgstow', []], ['barman-cloud-wal-archive', []], ['barman-cloud-backup-list', []]] as const) {
    assert.equal(mallocEnvToAdd(program, argv, env, 'linux'), undefined, `${program} ${argv.join(' ')}`);
  }
  assert.equal(mallocEnvToAdd('pgstow', ['backup'], env, 'darwin'), undefined);
});

test('a variable the user set is kept as it is, and none missing means no restart', () => {
  assert.equal(mallocEnvToAdd('pgstow', ['restore'], { MALLOC_ARENA_MAX: '8' }, 'linux'), undefined);
  assert.equal(mallocEnvToAdd('pgstow', ['restore'], { MALLOC_ARENA_MAX: '' }, 'linux'), undefined);
  assert.deepEqual(mallocEnvToAdd('pgstow', ['restore'], { MALLOC_MMAP_THRESHOLD_: '65536' }, 'linux'), { MALLOC_MMAP_THRESHOLD_: '65536', MALLOC_ARENA_MAX: '2' });
});

test('the bin script restarts a backup in place (same pid) with MALLOC_ARENA_MAX=2, and runs wal-archive as it is', { skip: process.platform !== 'linux' }, () => {
  const dir = makeTempDir('memory-env');
  try {
    const probe = path.join(dir, 'probe.mjs');
    fs.writeFileSync(probe, "import * as fs from 'node:fs';\nfs.writeSync(2, `PROBE ${process.pid} ${process.env.MALLOC_ARENA_MAX ?? '-'} ${process.env.MALLOC_MMAP_THRESHOLD_ ?? '-'}\\n`);\n");
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: `--import ${probe}` };
    delete env.MALLOC_ARENA_MAX;
    delete env.MALLOC_MMAP_THRESHOLD_;
    const run = (args: string[]): string[] => {
      const r = spawnSync(process.execPath, [binPath('pgstow'), ...args], { env, encoding: 'utf8' });
      return r.stderr.split('\n').filter((l) => l.startsWith('PROBE '));
    };
    const backup = run(['backup', '--help']);
    assert.equal(backup.length, 2, backup.join('\n'));
    const [first, second] = backup.map((l) => l.split(' '));
    assert.deepEqual(first?.slice(2), ['-', '-']);
    assert.deepEqual(second?.slice(2), ['2', '-']);
    assert.equal(first?.[1], second?.[1], 'execve keeps the pid');
    assert.deepEqual(run(['wal-archive', '--help']).map((l) => l.split(' ').slice(2)), [['-', '-']]);
  } finally {
    removeDir(dir);
  }
});
