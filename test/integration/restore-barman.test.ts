/**
 * Restores backups made by the real barman-cloud 3.4 (to moto S3, copied into a file:// store) with
 * `pgstow restore` / `barman-cloud-restore` (pgstow's drop-in), starts PostgreSQL on them and compares
 * per-table checksums: at the backup end, at a time, at a restore point, at the end of the archive.
 * Also: tablespace relocation, gzip and plain and bzip2 tars, non-empty destination, corrupt and
 * truncated objects.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startPostgres, type PostgresServer } from '../harness/postgres.js';
import { binCommandLine, runCli } from '../harness/cli.js';
import { chownToPostgres, makeTempDir, removeDir } from '../harness/tmp.js';
import { skipUnlessInstalled } from '../harness/test-env.js';
import {
  BARMAN_BUCKET, barman, copyBucketPrefix, createTables, hasBarman, hasMotoServer, insertRows, startMoto, startRestored,
  switchAndArchive, tableChecksums, type Checksums, type Moto,
} from './restore-fixtures.js';

const SERVER = 'pg';

// Missing tools fail the file in CI (skipUnlessInstalled throws) instead of skipping it.
const skip = skipUnlessInstalled('barman-cloud 3.4 (/usr/bin/barman-cloud-*)', hasBarman()) || skipUnlessInstalled('moto_server (pip install "moto[server]")', hasMotoServer());

describe('restore barman-cloud 3.4 backups', { skip }, () => {
  let moto: Moto;
  let pg: PostgresServer;
  let work: string;
  let storeDir: string;
  const servers: PostgresServer[] = [];
  const states: Record<string, Checksums> = {};
  let gzipId = '';
  let plainId = '';
  let bzip2Id = '';
  let timeAfterBatch1 = '';

  before(async () => {
    moto = await startMoto();
    work = makeTempDir('restore-barman');
    fs.chmodSync(work, 0o755);
    const s3url = `s3://${BARMAN_BUCKET}/src`;
    const tsDir = path.join(work, 'ts1');
    fs.mkdirSync(tsDir);
    chownToPostgres(tsDir);
    pg = await startPostgres({
      env: moto.env,
      settings: { archive_mode: 'on', archive_command: `/usr/bin/barman-cloud-wal-archive --endpoint-url ${moto.endpoint} ${s3url} ${SERVER} %p`, archive_timeout: 0 },
    });
    await pg.query(`CREATE TABLESPACE ts1 LOCATION '${tsDir}'`);
    await createTables(pg, 'ts1');
    await insertRows(pg, 3000);
    const conn = ['--endpoint-url', moto.endpoint, '-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres'];
    states.backup = await tableChecksums(pg);
    barman('barman-cloud-backup', [...conn, '-z', '--immediate-checkpoint', '-n', 'first-gzip', s3url, SERVER], moto.env);
    await new Promise((r) => setTimeout(r, 1100)); // backup ids have 1 s resolution
    barman('barman-cloud-backup', [...conn, '--immediate-checkpoint', s3url, SERVER], moto.env);
    await new Promise((r) => setTimeout(r, 1100));
    barman('barman-cloud-backup', [...conn, '-j', '--immediate-checkpoint', s3url, SERVER], moto.env);
    const list = JSON.parse(barman('barman-cloud-backup-list', ['--endpoint-url', moto.endpoint, '--format', 'json', s3url, SERVER], moto.env)) as { backups_list: Array<{ backup_id: string }> };
    [gzipId, plainId, bzip2Id] = list.backups_list.map((b) => b.backup_id) as [string, string, string];

    await insertRows(pg, 500);
    states.batch1 = await tableChecksums(pg);
    timeAfterBatch1 = (await pg.query<{ t: string }>(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`))[0]?.t as string;
    await new Promise((r) => setTimeout(r, 1100));
    await insertRows(pg, 500);
    states.batch2 = await tableChecksums(pg);
    await pg.query(`SELECT pg_create_restore_point('before-batch3')`);
    await insertRows(pg, 500);
    states.batch3 = await tableChecksums(pg);
    await switchAndArchive(pg);

    storeDir = path.join(work, 'store');
    copyBucketPrefix(moto, 'src', storeDir);
  });

  after(async () => {
    for (const s of servers) await s.destroy();
    await pg?.destroy();
    await moto?.stop();
    if (work && !process.env.PGSTOW_KEEP_TMP) removeDir(work);
  });

  const url = (): string => `file://${storeDir}`;
  const newDirs = (label: string): { data: string; ts: string } => {
    const base = path.join(work, label);
    return { data: path.join(base, 'data'), ts: path.join(base, 'ts1') };
  };

  async function restoreAndCheck(label: string, backupId: string, pitr: string[], expected: Checksums): Promise<void> {
    const dirs = newDirs(label);
    const r = await runCli('pgstow', ['restore', '--cloud-provider', 'file', '--tablespace', `ts1:${dirs.ts}`, ...pitr, url(), SERVER, backupId, dirs.data]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fs.lstatSync(path.join(dirs.data, 'pg_tblspc')).isDirectory());
    const links = fs.readdirSync(path.join(dirs.data, 'pg_tblspc'));
    assert.equal(links.length, 1);
    assert.equal(fs.readlinkSync(path.join(dirs.data, 'pg_tblspc', links[0] as string)), dirs.ts);
    if (pitr.length === 0) {
      // Plain Barman-style restore: the user writes recovery settings; do what they would.
      const cmd = `${binCommandLine('barman-cloud-wal-restore')} --cloud-provider file ${url()} ${SERVER} %f %p`;
      fs.appendFileSync(path.join(dirs.data, 'postgresql.auto.conf'), `restore_command = '${cmd.replace(/'/g, "''")}'\nrecovery_target = 'immediate'\nrecovery_target_action = 'promote'\n`);
      fs.writeFileSync(path.join(dirs.data, 'recovery.signal'), '');
    }
    const server = await startRestored(dirs.data);
    servers.push(server);
    assert.deepEqual(await tableChecksums(server), expected);
    await server.destroy();
  }

  it('restores a gzip backup by name and recovers to the backup end (barman-cloud-restore drop-in + manual settings)', async () => {
    await restoreAndCheck('gzip-name', 'first-gzip', [], states.backup as Checksums);
  });

  it('PITR to a time (RFC 3339 Z) from an uncompressed backup', async () => {
    await restoreAndCheck('time', plainId, ['--recovery-target-time', timeAfterBatch1], states.batch1 as Checksums);
  });

  it('PITR to a restore point from a bzip2 backup', async () => {
    await restoreAndCheck('name', bzip2Id, ['--recovery-target-name', 'before-batch3'], states.batch2 as Checksums);
  });

  it('PITR to the end of the archive with backup "latest"', async () => {
    await restoreAndCheck('latest', 'latest', ['--recovery-target-latest'], states.batch3 as Checksums);
  });

  it('PITR to the backup end (immediate) from the gzip backup by id', async () => {
    await restoreAndCheck('immediate', gzipId, ['--recovery-target-immediate'], states.backup as Checksums);
  });

  it('restores straight from S3 (moto) and recovers with WAL that barman-cloud-wal-archive wrote there', async () => {
    const dirs = newDirs('s3-direct');
    const s3 = ['--cloud-provider', 'aws-s3', '--endpoint-url', moto.endpoint];
    const r = await runCli('pgstow', ['restore', ...s3, '--tablespace', `ts1:${dirs.ts}`, '--recovery-target-name', 'before-batch3',
      `s3://${BARMAN_BUCKET}/src`, SERVER, gzipId, dirs.data], { env: moto.env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`wal-restore --cloud-provider aws-s3 --endpoint-url ${moto.endpoint} s3://${BARMAN_BUCKET}/src ${SERVER} %f %p`));
    const server = await startRestored(dirs.data, moto.env);
    servers.push(server);
    assert.deepEqual(await tableChecksums(server), states.batch2);
    await server.destroy();
  });

  it('auto chooses the newest backup ending before the target time', async () => {
    const dirs = newDirs('auto');
    const r = await runCli('pgstow', ['restore', '-v', '--cloud-provider', 'file', '--tablespace', `ts1:${dirs.ts}`, '--target-time', timeAfterBatch1, url(), SERVER, 'auto', dirs.data]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`chose backup ${bzip2Id}`));
  });

  it('refuses a target time before the end of the chosen backup', async () => {
    const dirs = newDirs('too-early');
    const r = await runCli('pgstow', ['restore', '--cloud-provider', 'file', '--tablespace', `ts1:${dirs.ts}`, '--recovery-target-time', '2000-01-01 00:00:00', url(), SERVER, gzipId, dirs.data]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /after the recovery target time 2000-01-01 00:00:00\.000000\+00:00/);
    assert.equal(fs.existsSync(path.join(dirs.data, 'PG_VERSION')), false);
  });

  it('refuses a non-empty destination with exit 1 and leaves it untouched', async () => {
    const dirs = newDirs('nonempty');
    fs.mkdirSync(dirs.data, { recursive: true });
    fs.writeFileSync(path.join(dirs.data, 'keep-me'), 'x');
    const r = await runCli('barman-cloud-restore', ['--cloud-provider', 'file', '--tablespace', `ts1:${dirs.ts}`, url(), SERVER, gzipId, dirs.data]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already exists and it is not empty/);
    assert.deepEqual(fs.readdirSync(dirs.data), ['keep-me']);
  });

  it('a missing backup exits 1 naming it', async () => {
    const r = await runCli('barman-cloud-restore', ['--cloud-provider', 'file', url(), SERVER, '20000101T000000', path.join(work, 'missing')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /backup 20000101T000000 does not exist/);
  });

  it('a corrupt gzip object fails naming the object and cleans up', async () => {
    const copy = path.join(work, 'store-corrupt');
    fs.cpSync(storeDir, copy, { recursive: true });
    const key = `${SERVER}/base/${gzipId}/data.tar.gz`;
    const file = path.join(copy, key);
    const buf = fs.readFileSync(file);
    for (let i = Math.floor(buf.length / 2); i < Math.floor(buf.length / 2) + 64; i++) buf[i] = (buf[i] as number) ^ 0x5a;
    fs.writeFileSync(file, buf);
    const dirs = newDirs('corrupt');
    const r = await runCli('pgstow', ['restore', '--cloud-provider', 'file', '--tablespace', `ts1:${dirs.ts}`, `file://${copy}`, SERVER, gzipId, dirs.data]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`${key.replace(/\./g, '\\.')}.*(damaged|corrupt)`));
    assert.deepEqual(fs.readdirSync(dirs.data), []);
  });

  it('a truncated tar object fails naming the object', async () => {
    const copy = path.join(work, 'store-truncated');
    fs.cpSync(storeDir, copy, { recursive: true });
    const key = `${SERVER}/base/${plainId}/data.tar`;
    const file = path.join(copy, key);
    const size = fs.statSync(file).size;
    // Cut at a 512-byte boundary so only the end-of-archive check can notice.
    fs.truncateSync(file, Math.floor(size / 2 / 512) * 512);
    const dirs = newDirs('truncated');
    const r = await runCli('pgstow', ['restore', '--cloud-provider', 'file', '--tablespace', `ts1:${dirs.ts}`, `file://${copy}`, SERVER, plainId, dirs.data]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`${key.replace(/\./g, '\\.')}.*truncated`));
  });
});
