/**
 * Base backups between pgstow and Barman 3.19.1 (PyPI, in the test venv: what plugin-barman-cloud ships),
 * both ways, on S3 (moto), Azure (Azurite) and GCS (the emulator), for every tar compression both write
 * (none, gzip, bzip2, snappy, lz4):
 * - Barman 3.19 backs up → pgstow restores it and Barman 3.19 restores it; the two restored trees are identical
 *   (every file's bytes, mode and type; the tablespace too);
 * - pgstow backs up → Barman 3.19 restores it and pgstow restores it; identical likewise;
 * - a pgstow zstd backup (.tar.zst, pgstow's own codec): Barman 3.19 refuses it, naming the suffix, and restores
 *   nothing silently (it knows no zstd tar; pgstow restores it);
 * - per store and direction, PostgreSQL starts on one restored tree and has the original data;
 * - the backup.info 3.19 writes carries keys 3.4 does not know; pgstow reads every one of them and writes the
 *   file back byte for byte.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { runCli } from '../harness/cli.js';
import { createPostgres } from '../harness/postgres.js';
import { storeTarget, type StoreKind, type StoreTarget } from '../harness/stores.js';
import { chownToPostgres, makeTempDir, removeDir } from '../harness/tmp.js';
import { skipUnlessInstalled } from '../harness/test-env.js';
import { barmanCommand, hasBarman, INSTALL_HINT } from '../harness/peers.js';
import { BARMAN_34_KEYS, readInfo, startArchivingPostgres, tableChecksums, type BackupFixture } from '../integration/backup-fixtures.js';
import { parseBackupInfo, serializeBackupInfo } from '../../src/domain/backup/backup-info.js';
import { BarmanLayout } from '../../src/repository/barman-layout.js';
import { openStoreFromEnv } from '../harness/store-options.js';
import { readAll } from '../../src/storage/object-store-helpers.js';
import type { CloudProvider } from '../../src/storage/store-options.js';

const run = promisify(execFile);
const KINDS: StoreKind[] = ['moto', 'azurite', 'gcs'];
const CODECS: Array<{ name: string; flags: string[] }> = [
  { name: 'none', flags: [] }, { name: 'gzip', flags: ['--gzip'] }, { name: 'bzip2', flags: ['--bzip2'] },
  { name: 'snappy', flags: ['--snappy'] }, { name: 'lz4', flags: ['--lz4'] },
];
/** The codec whose restored tree PostgreSQL starts on, per store and direction. */
const STARTED_CODEC = 'gzip';

const skip = skipUnlessInstalled(`Barman 3.19 (${INSTALL_HINT})`, hasBarman('3.19'));

async function barman(command: string, args: string[], env: Record<string, string>): Promise<string> {
  try {
    const r = await run(barmanCommand('3.19', command), args, { env: { ...process.env, ...env }, maxBuffer: 1 << 26, timeout: 300_000 });
    return r.stdout;
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} exited ${e.code}\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: err });
  }
}

async function pgstow(args: string[], env: Record<string, string>): Promise<void> {
  const r = await runCli('pgstow', args, { env, timeoutMs: 300_000 });
  assert.equal(r.code, 0, `pgstow ${args.join(' ')}: ${r.stderr}`);
}

interface Entry { type: string; mode: number; size: number; digest: string }

/** Every entry below `dir` (relative path → type, permission bits, size, SHA-256 or link target). */
function tree(dir: string): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const walk = (d: string, rel: string): void => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(p);
      const mode = st.mode & 0o7777;
      if (st.isSymbolicLink()) out.set(r, { type: 'link', mode: 0, size: 0, digest: fs.readlinkSync(p) });
      else if (st.isDirectory()) { out.set(r, { type: 'dir', mode, size: 0, digest: '' }); walk(p, r); }
      else out.set(r, { type: 'file', mode, size: st.size, digest: createHash('sha256').update(fs.readFileSync(p)).digest('hex') });
    }
  };
  walk(dir, '');
  return out;
}

/** Asserts two restored trees are identical; tablespace links may point to each restore's own location. */
function assertSameTree(a: string, b: string, what: string): void {
  const ta = tree(a);
  const tb = tree(b);
  assert.ok(ta.size > 0, `${what}: ${a} is not empty`);
  assert.deepEqual([...ta.keys()], [...tb.keys()], `${what}: same entries`);
  for (const [k, ea] of ta) {
    if (k.startsWith('pg_tblspc/')) continue;
    assert.deepEqual(tb.get(k), ea, `${what}: ${k}`);
  }
}

describe('base backups between pgstow and Barman 3.19, both ways, on S3, Azure and GCS', { skip, timeout: 1_800_000 }, () => {
  let fx: BackupFixture;
  let work: string;
  let expected: Record<string, string>;
  const infos: string[] = [];

  before(async () => {
    fx = await startArchivingPostgres(15);
    expected = await tableChecksums(fx.pg);
    work = makeTempDir('barman-319-backup');
    fs.chmodSync(work, 0o755);
  });
  after(async () => {
    await fx?.cleanup();
    if (work && !process.env.PGSTOW_KEEP_TMP) removeDir(work);
  });

  const pgArgs = (): string[] => ['-h', '127.0.0.1', '-p', String(fx.pg.port), '-U', 'postgres'];

  /** Restores `id` with both tools into fresh directories; returns the two data directories. */
  async function restoreBoth(target: StoreTarget, server: string, id: string, label: string): Promise<[string, string]> {
    const dirs = ['barman', 'pgstow'].map((tool) => {
      const base = path.join(work, `${label}-${tool}`);
      return { data: path.join(base, 'data'), ts: path.join(base, 'ts1') };
    }) as [{ data: string; ts: string }, { data: string; ts: string }];
    await barman('barman-cloud-restore', [...target.args, '--tablespace', `ts1:${dirs[0].ts}`, target.url, server, id, dirs[0].data], target.env);
    await pgstow(['restore', ...target.args, '--tablespace', `ts1:${dirs[1].ts}`, target.url, server, id, dirs[1].data], target.env);
    assertSameTree(dirs[0].data, dirs[1].data, `${label} data`);
    assert.ok(fs.existsSync(path.join(dirs[1].data, 'PG_VERSION')) && fs.existsSync(path.join(dirs[1].data, 'backup_label')), `${label}: a data directory`);
    assertSameTree(dirs[0].ts, dirs[1].ts, `${label} tablespace`);
    return [dirs[0].data, dirs[1].data];
  }

  /** Starts PostgreSQL on a restored tree (WAL from the fixture's archive) and compares the data. */
  async function startAndCompare(dataDir: string): Promise<void> {
    fs.writeFileSync(path.join(dataDir, 'recovery.signal'), '');
    fs.mkdirSync(path.join(dataDir, 'pg_wal', 'archive_status'), { recursive: true });
    fs.appendFileSync(path.join(dataDir, 'postgresql.conf'), `\nrestore_command = 'cp ${fx.walDir}/%f %p'\narchive_mode = off\nrecovery_target_action = 'promote'\n`);
    chownToPostgres(path.dirname(dataDir));
    const restored = await createPostgres({ version: 15, dataDir });
    try {
      await restored.start();
      await restored.waitFor('recovery to finish', async () => (await restored.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r === false);
      assert.deepEqual(await tableChecksums(restored), expected);
    } finally {
      await restored.destroy();
    }
  }

  async function backupId(target: StoreTarget, server: string): Promise<string> {
    const list = JSON.parse(await barman('barman-cloud-backup-list', [...target.args, '--format', 'json', target.url, server], target.env)) as { backups_list: Array<{ backup_id: string; status: string }> };
    assert.deepEqual(list.backups_list.map((b) => b.status), ['DONE'], `one DONE backup of ${server}`);
    return list.backups_list[0]!.backup_id;
  }

  for (const kind of KINDS) {
    test(`${kind}: pgstow restores what Barman 3.19 backed up, for ${CODECS.map((c) => c.name).join('/')}`, async (t) => {
      const target = storeTarget(t, kind, `b319-from-barman-${kind}`);
      if (!target) return;
      for (const codec of CODECS) {
        const server = `barman-${codec.name}`;
        await barman('barman-cloud-backup', [...target.args, ...codec.flags, '--immediate-checkpoint', ...pgArgs(), target.url, server], target.env);
        const id = await backupId(target, server);
        const [, ours] = await restoreBoth(target, server, id, `${kind}-barman-${codec.name}`);
        if (codec.name === STARTED_CODEC) await startAndCompare(ours);
        infos.push(await readStoredInfo(target, server, id));
      }
    });

    test(`${kind}: Barman 3.19 restores what pgstow backed up, for ${CODECS.map((c) => c.name).join('/')}`, async (t) => {
      const target = storeTarget(t, kind, `b319-from-pgstow-${kind}`);
      if (!target) return;
      for (const codec of CODECS) {
        const server = `pgstow-${codec.name}`;
        await pgstow(['backup', ...codec.flags, '--immediate-checkpoint', ...target.args, target.url, server], { ...target.env, ...fx.pg.libpqEnv });
        const id = await backupId(target, server);
        const [theirs] = await restoreBoth(target, server, id, `${kind}-pgstow-${codec.name}`);
        if (codec.name === STARTED_CODEC) await startAndCompare(theirs);
      }
    });
  }

  test('moto: a pgstow zstd backup is one Barman 3.19 cannot restore (no .tar.zst reader), and says so; pgstow restores it', async (t) => {
    const target = storeTarget(t, 'moto', 'b319-zstd');
    if (!target) return;
    const server = 'pgstow-zstd';
    await pgstow(['backup', '--zstd', '--immediate-checkpoint', ...target.args, target.url, server], { ...target.env, ...fx.pg.libpqEnv });
    const id = await backupId(target, server);
    const theirs = path.join(work, 'moto-pgstow-zstd-barman');
    const r = await run(barmanCommand('3.19', 'barman-cloud-restore'), [...target.args, '--tablespace', `ts1:${theirs}-ts1`, target.url, server, id, theirs],
      { env: { ...process.env, ...target.env }, maxBuffer: 1 << 26, timeout: 300_000 }).then(() => ({ code: 0, stderr: '' }), (err: { code?: number; stderr?: string }) => ({ code: err.code ?? -1, stderr: err.stderr ?? '' }));
    assert.notEqual(r.code, 0, 'Barman 3.19 fails on a .tar.zst backup');
    assert.match(r.stderr, /Skipping unknown extension: tar\.zst/);
    assert.ok(!fs.existsSync(path.join(theirs, 'PG_VERSION')), 'no data directory left looking restored');
    const ours = path.join(work, 'moto-pgstow-zstd-pgstow');
    await pgstow(['restore', ...target.args, '--tablespace', `ts1:${ours}-ts1`, target.url, server, id, ours], target.env);
    assert.ok(fs.existsSync(path.join(ours, 'PG_VERSION')) && fs.existsSync(path.join(ours, 'backup_label')));
  });

  /** backup.info as stored (read through pgstow's driver for the target's provider). */
  async function readStoredInfo(target: StoreTarget, server: string, id: string): Promise<string> {
    const opt = (name: string): string | undefined => (target.args.includes(name) ? target.args[target.args.indexOf(name) + 1] : undefined);
    const endpointUrl = opt('--endpoint-url');
    const { store, destination } = await openStoreFromEnv({
      provider: opt('--cloud-provider') as CloudProvider, destinationUrl: target.url, ...(endpointUrl ? { endpointUrl } : {}), env: { ...process.env, ...target.env },
    });
    try {
      return (await readAll(store, new BarmanLayout(destination.prefix, server).backupInfoKey(id))).toString('utf8');
    } finally {
      await store.close();
    }
  }

  test('backup.info written by 3.19: keys 3.4 does not know are read and written back byte for byte', (t) => {
    if (infos.length === 0) return t.skip('no Barman 3.19 backup was made (see the tests above)');
    for (const text of infos) {
      const newer = Object.keys(readInfo(text)).filter((k) => !BARMAN_34_KEYS.includes(k) && k !== 'backup_name');
      assert.ok(newer.includes('cluster_size') && newer.includes('data_checksums'), `3.19 wrote newer keys: ${newer.join(', ')}`);
      const { info, warnings } = parseBackupInfo(text);
      assert.deepEqual(warnings, [], 'every key is known');
      assert.equal(info.dataChecksums, readInfo(text).data_checksums);
      assert.equal(String(info.clusterSize), readInfo(text).cluster_size);
      assert.equal(serializeBackupInfo(info, { includeNewerKeys: true }), text);
    }
  });
});
