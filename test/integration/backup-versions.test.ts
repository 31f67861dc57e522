import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli } from '../harness/cli.js';
import { availableVersions, type PgVersion } from '../harness/postgres.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';
import { plainTar, readInfo, removePlainTars, restoreByHand, startArchivingPostgres, tableChecksums, tarMembers } from './backup-fixtures.js';

// PostgreSQL 13 uses pg_start_backup/pg_stop_backup(false); 15+ pg_backup_start/stop. Each version backs up a
// server with a tablespace, with a different compression, and the hand-restored copy has equal data.
const MATRIX: { version: PgVersion; flag: string[]; suffix: string }[] = [
  { version: 13, flag: ['--snappy'], suffix: '.snappy' },
  { version: 16, flag: ['--zstd'], suffix: '.zst' },
  { version: 17, flag: ['--lz4'], suffix: '.lz4' },
  { version: 18, flag: ['-j'], suffix: '.bz2' },
];

for (const { version, flag, suffix } of MATRIX) {
  test(`PostgreSQL ${version}: backup with ${flag.join(' ')} and a tablespace restores equal data`, async (t) => {
    if (!availableVersions().includes(version)) { t.skip(`PostgreSQL ${version} is not installed`); return; }
    const fx = await startArchivingPostgres(version);
    t.after(() => fx.cleanup());
    t.after(() => removePlainTars());
    const storeDir = makeTempDir(`backup-pg${version}`);
    t.after(() => removeDir(storeDir));
    const before = await tableChecksums(fx.pg);
    const r = await runCli('pgstow', ['backup', '--cloud-provider', 'file', ...flag, '--immediate-checkpoint', `file://${storeDir}`, 'pg'], { env: fx.pg.libpqEnv });
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
    await fx.pg.query('SELECT pg_switch_wal()');
    const restored = await restoreByHand(version, dir, fx.walDir, [{ oid: Number(oid) }]);
    t.after(() => restored.cleanup());
    assert.deepEqual(await tableChecksums(restored.pg), before);
  });
}
