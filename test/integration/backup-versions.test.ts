/**
 * PostgreSQL 13 uses pg_start_backup/pg_stop_backup(false); 15+ pg_backup_start/stop. Each version archives
 * its WAL with `pgstow wal-archive` and is backed up (with a tablespace and a different compression) into a
 * file:// store; `pgstow restore --recovery-target-name` restores it with the tablespace relocated, the same
 * PostgreSQL version replays the WAL to the restore point, and the data equals what it was there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { binCommandLine, runCli } from '../harness/cli.js';
import { availableVersions, type PgVersion } from '../harness/postgres.js';
import { requireInstalled } from '../harness/test-env.js';
import { chownToPostgres, makeTempDir, removeDir } from '../harness/tmp.js';
import { plainTar, readInfo, removePlainTars, startArchivingPostgres, tableChecksums, tarMembers } from './backup-fixtures.js';
import { startRestored, switchAndArchive } from './restore-fixtures.js';

const MATRIX: { version: PgVersion; flag: string[]; suffix: string }[] = [
  { version: 13, flag: ['--snappy'], suffix: '.snappy' },
  { version: 16, flag: ['--zstd'], suffix: '.zst' },
  { version: 17, flag: ['--lz4'], suffix: '.lz4' },
  { version: 18, flag: ['-j'], suffix: '.bz2' },
];

for (const { version, flag, suffix } of MATRIX) {
  test(`PostgreSQL ${version}: backup with ${flag.join(' ')} and a tablespace, pgstow restore to a restore point, equal data`, async (t) => {
    if (!requireInstalled(t, `PostgreSQL ${version} (cd test/servers && npm ci)`, availableVersions().includes(version))) return;
    const storeDir = makeTempDir(`backup-pg${version}`);
    t.after(() => removeDir(storeDir));
    // archive_command runs as the postgres OS user and must be able to write the store.
    chownToPostgres(storeDir);
    const store = ['--cloud-provider', 'file'];
    const url = `file://${storeDir}`;
    const fx = await startArchivingPostgres(version, { archiveCommand: `${binCommandLine('pgstow')} wal-archive ${store.join(' ')} ${url} pg %p` });
    t.after(() => fx.cleanup());
    t.after(() => removePlainTars());
    // The first archived segment creates pg/ and pg/wals/ as postgres before the backup (run as this user) adds pg/base/.
    await switchAndArchive(fx.pg);
    const r = await runCli('pgstow', ['backup', ...store, ...flag, '--immediate-checkpoint', '--progress', 'off', url, 'pg'], { env: fx.pg.libpqEnv });
    assert.equal(r.code, 0, r.stderr);
    const id = fs.readdirSync(path.join(storeDir, 'pg', 'base'))[0] as string;
    const dir = path.join(storeDir, 'pg', 'base', id);
    const info = readInfo(fs.readFileSync(path.join(dir, 'backup.info'), 'utf8'));
    assert.equal(info.status, 'DONE');
    assert.equal(Math.floor(Number(info.version) / 10000), version);
    assert.ok(fs.existsSync(path.join(dir, `data.tar${suffix}`)));
    const oid = (await fx.pg.query<{ oid: string }>("SELECT oid::text AS oid FROM pg_tablespace WHERE spcname = 'ts1'"))[0]?.oid as string;
    const tsNames = tarMembers(await plainTar(path.join(dir, `${oid}.tar${suffix}`))).map((m) => m.name);
    for (const n of tsNames) assert.match(n, new RegExp(`^PG_${version}_\\d+(/|$)`));
    assert.equal(tarMembers(await plainTar(path.join(dir, `data.tar${suffix}`))).at(-1)?.name, 'backup_label');

    // Writes after the backup, in both the main and the relocated tablespace, then a restore point and more.
    await fx.pg.query('INSERT INTO t_random SELECT g, md5(g::text), random(), md5(random()::text) FROM generate_series(100001, 100500) g');
    await fx.pg.query('INSERT INTO t_ts SELECT g, md5(random()::text) FROM generate_series(100001, 100500) g');
    const atPoint = await tableChecksums(fx.pg);
    await fx.pg.query(`SELECT pg_create_restore_point('rp-${version}')`);
    await fx.pg.query('INSERT INTO t_ts SELECT g, md5(random()::text) FROM generate_series(200001, 200500) g');
    await switchAndArchive(fx.pg);

    const restoreBase = makeTempDir(`restored-pg${version}`);
    t.after(() => removeDir(restoreBase));
    fs.chmodSync(restoreBase, 0o755); // the postgres OS user must reach the data directory inside
    const dataDir = path.join(restoreBase, 'data');
    const tsDir = path.join(restoreBase, 'ts1');
    const rr = await runCli('pgstow', ['restore', ...store, '--tablespace', `ts1:${tsDir}`, '--recovery-target-name', `rp-${version}`, url, 'pg', 'latest', dataDir], { timeoutMs: 300_000 });
    assert.equal(rr.code, 0, rr.stderr);
    assert.match(rr.stdout, /recovery settings written/);
    assert.equal(fs.readlinkSync(path.join(dataDir, 'pg_tblspc', oid)), tsDir);
    chownToPostgres(tsDir); // the data directory itself is handed over by startRestored; the tablespace lives outside it
    const restored = await startRestored(dataDir, {}, version);
    t.after(() => restored.destroy());
    assert.equal((await restored.query<{ v: string }>("SELECT current_setting('server_version_num') AS v"))[0]?.v.slice(0, 2), String(version));
    assert.deepEqual(await tableChecksums(restored), atPoint);
  });
}
