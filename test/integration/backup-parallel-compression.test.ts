/**
 * Backups compressed on several cores (-J 3: gzip as one pigz-style member, bzip2 as one spliced stream,
 * snappy chunks, zstd frames, lz4 as one frame) restore with barman-cloud-restore (3.4 from Debian: gzip, bzip2;
 * 3.19 from the test venv: gzip, bzip2, snappy, lz4) and with pgstow (every codec), and PostgreSQL starts on each
 * with equal data. The tables hold ~40 MB of
 * random and text rows, so every volume spans many compression blocks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { runCli } from '../harness/cli.js';
import { createPostgres } from '../harness/postgres.js';
import { storeTarget, type StoreTarget } from '../harness/stores.js';
import { chownToPostgres, makeTempDir, removeDir } from '../harness/tmp.js';
import { requireInstalled, skipUnlessInstalled } from '../harness/test-env.js';
import { barmanCommand, hasBarman, INSTALL_HINT } from '../harness/peers.js';
import { startArchivingPostgres, tableChecksums, type BackupFixture } from './backup-fixtures.js';

/** The barman-cloud installations to check (test/harness/peers.ts) and the codecs each restores. */
function barmans(): Array<{ label: string; restore: string; codecs: string[] }> {
  // snappy: Debian's python3-snappy cannot compute CRC32C on Python 3.11, so barman-cloud 3.4 cannot restore any
  // snappy backup there (codecs.test.ts checks the framing with a patch); lz4 backups came with later Barmans.
  return [
    { label: 'barman-cloud 3.4', version: '3.4' as const, codecs: ['gzip', 'bzip2'] },
    { label: 'barman-cloud 3.19', version: '3.19' as const, codecs: ['gzip', 'bzip2', 'snappy', 'lz4'] },
  ].filter((b) => hasBarman(b.version)).map((b) => ({ label: b.label, restore: barmanCommand(b.version, 'barman-cloud-restore'), codecs: b.codecs }));
}

function run(program: string, args: string[], env: Record<string, string>): string {
  return execFileSync(program, args, { env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000, maxBuffer: 64 << 20 });
}

async function startsWithEqualData(fx: BackupFixture, dataDir: string, base: string, expected: Record<string, string>): Promise<void> {
  fs.writeFileSync(path.join(dataDir, 'recovery.signal'), '');
  fs.mkdirSync(path.join(dataDir, 'pg_wal', 'archive_status'), { recursive: true });
  fs.appendFileSync(path.join(dataDir, 'postgresql.conf'), `\nrestore_command = 'cp ${fx.walDir}/%f %p'\narchive_mode = off\nrecovery_target_action = 'promote'\n`);
  chownToPostgres(base);
  const restored = await createPostgres({ version: 15, dataDir });
  try {
    await restored.start();
    await restored.waitFor('recovery to finish', async () => (await restored.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r === false);
    assert.deepEqual(await tableChecksums(restored), expected);
  } finally {
    await restored.destroy();
  }
}

async function backup(target: StoreTarget, fx: BackupFixture, server: string, flags: string[]): Promise<string> {
  const r = await runCli('pgstow', ['backup', ...target.args, ...flags, '-J', '3', '--immediate-checkpoint', target.url, server], { env: { ...target.env, ...fx.pg.libpqEnv } });
  assert.equal(r.code, 0, r.stderr);
  return /backup (\d{8}T\d{6})/.exec(r.stderr)?.[1] as string;
}

test('backups compressed on 3 cores restore with barman-cloud-restore and pgstow; PostgreSQL starts with equal data', async (t) => {
  const target = storeTarget(t, 's3rver', 'parallel-compression');
  if (!target) return;
  if (!requireInstalled(t, 'barman-cloud 3.4 (/usr/bin/barman-cloud-restore)', fs.existsSync('/usr/bin/barman-cloud-restore'))) return;
  const fx = await startArchivingPostgres(15, { rows: 60_000, tablespace: false });
  t.after(() => fx.cleanup());
  const before = await tableChecksums(fx.pg);
  const ids: Record<string, string> = {};
  for (const codec of ['gzip', 'bzip2', 'snappy', 'zstd', 'lz4']) ids[codec] = await backup(target, fx, `par-${codec}`, [`--${codec}`]);
  await fx.pg.query('SELECT pg_switch_wal()');

  // Barman reads the codecs it knows.
  skipUnlessInstalled(`barman-cloud 3.19 (${INSTALL_HINT})`, hasBarman('3.19')); // in CI a missing one fails
  for (const barman of barmans()) {
    for (const codec of barman.codecs) {
      const base = makeTempDir(`par-barman-${codec}`);
      t.after(() => removeDir(base));
      const dataDir = path.join(base, 'data');
      run(barman.restore, [...target.args, target.url, `par-${codec}`, ids[codec] as string, dataDir], target.env);
      await startsWithEqualData(fx, dataDir, base, before);
    }
  }
  // pgstow restores every codec.
  for (const codec of ['gzip', 'bzip2', 'snappy', 'zstd', 'lz4']) {
    const base = makeTempDir(`par-pgstow-${codec}`);
    t.after(() => removeDir(base));
    const dataDir = path.join(base, 'data');
    const r = await runCli('pgstow', ['restore', ...target.args, target.url, `par-${codec}`, ids[codec] as string, dataDir], { env: target.env });
    assert.equal(r.code, 0, `${codec}: ${r.stderr}`);
    await startsWithEqualData(fx, dataDir, base, before);
  }
});

test('a parallel gzip volume is one gzip member spanning many blocks, read whole by a raw inflate of its first member', async (t) => {
  const target = storeTarget(t, 'fs', 'parallel-gzip-member');
  if (!target) return;
  const fx = await startArchivingPostgres(15, { rows: 20_000, tablespace: false });
  t.after(() => fx.cleanup());
  const id = await backup(target, fx, 'member', ['--gzip']);
  const file = path.join(target.url.slice('file://'.length), 'member', 'base', id, 'data.tar.gz');
  const gz = fs.readFileSync(file);
  const tar = zlib.gunzipSync(gz);
  assert.ok(tar.length > 8 * 1024 * 1024, `${tar.length} bytes of tar: several 1 MiB blocks`);
  // A second member would be left out by inflateRaw, which stops at the first final block.
  assert.ok(zlib.inflateRawSync(gz.subarray(10, gz.length - 8)).equals(tar));
});
