/**
 * pgstow used as a library from another project: `npm pack` of this repository, installed into a scratch
 * project outside it, compiled with strict TypeScript against the shipped declarations, then run: the
 * smallest use (file://, CLI defaults), WAL archived to file:// and to moto and restored byte-identical, and a
 * base backup of a real PostgreSQL taken to moto and restored, which PostgreSQL then starts from with the
 * same data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { requireServer } from '../harness/test-env.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';
import { chownToPostgres, makeTempDir, removeDir } from '../harness/tmp.js';
import { createPostgres, REPO_ROOT } from '../harness/postgres.js';
import { startArchivingPostgres, tableChecksums } from './backup-fixtures.js';
import { syntheticSegment } from '../harness/wal-segments.js';

const run = promisify(execFile);
const SEGMENT = 1024 * 1024;

/** The program of the scratch project: only the package's public entry, with types checked (strict). */
const MAIN_TS = `import { openEngine, isPgstowError, type EngineSettings, type Engine } from 'pgstow';
import { withFaults } from 'pgstow/testing';
import * as fs from 'node:fs';

interface Args { fileStore: string; walPath: string; restoreDir: string; moto: { endpoint: string; keyId: string; secret: string; region: string; url: string };
  pg: { host: string; port: string; user: string }; pgRestoreDir: string }
const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const walName = '000000010000000000000001';
const out: Record<string, unknown> = {};

// The smallest use: destination and server name, everything else the CLI's defaults.
const e = await openEngine({ destination: 'file://' + args.fileStore, serverName: 'srv' });
await e.archiveWal(args.walPath);
await e.restoreWal(walName, args.restoreDir + '/from-file');
await e.close();
out.fileIdentical = fs.readFileSync(args.restoreDir + '/from-file').equals(fs.readFileSync(args.walPath));

// moto, with typed credentials; the same engine archives, restores, backs up and restores the backup.
const settings: EngineSettings = {
  destination: args.moto.url, serverName: 'pg', endpointUrl: args.moto.endpoint,
  credentials: { kind: 's3-access-key', accessKeyId: args.moto.keyId, secretAccessKey: args.moto.secret },
  s3: { region: args.moto.region }, wal: { compression: 'zstd' }, data: { compression: 'gzip', jobs: 2, immediateCheckpoint: true },
  postgres: { host: args.pg.host, port: args.pg.port, user: args.pg.user },
};
const s3: Engine = await openEngine(settings, { log: { debug() {}, info() {}, error() {}, warning(code, message) { console.error(code, message); } } });
try {
  const archived = await s3.archiveWal(args.walPath);
  out.s3Key = archived.key;
  await s3.restoreWal(walName, args.restoreDir + '/from-s3');
  out.s3Identical = fs.readFileSync(args.restoreDir + '/from-s3').equals(fs.readFileSync(args.walPath));
  const missing = await s3.restoreWal('000000010000000000000099', args.restoreDir + '/missing').then(() => 'restored', (err: unknown) => isPgstowError(err) ? err.code : String(err));
  out.missingWal = missing;
  const backup = await s3.takeBackup({ name: 'from-the-library' });
  out.backup = { id: backup.backupId, name: backup.backupName, beginWal: backup.beginWal, endWal: backup.endWal, objects: backup.stats.objects };
  const list = await s3.listBackups();
  out.listed = list.backups.map((b) => b.id);
  out.firstRecoverabilityPoint = list.recoveryWindow.firstRecoverabilityPoint?.toISOString() ?? null;
  const restored = await s3.restoreBackup({ backupId: 'latest', destination: args.pgRestoreDir });
  out.restored = { id: restored.backupId, objects: restored.objects };
} finally {
  await s3.close();
}

// pgstow/testing: the fault-injecting store, through openEngine's wrapStore.
const faulty = await openEngine({ destination: 'memory://scratch', serverName: 'srv' }, {
  wrapStore: (store) => withFaults(store, [{ operations: ['put'], action: { type: 'unavailable' } }]),
});
out.faultCode = await faulty.archiveWal(args.walPath).then(() => 'archived', (err: unknown) => isPgstowError(err) ? err.code : String(err));
await faulty.close();
console.log(JSON.stringify(out));
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true, skipLibCheck: false, types: ['node'], outDir: 'dist', rootDir: 'src',
  },
  include: ['src'],
};

test('the packed tarball, installed in a project outside the repository: strict types, file:// and moto WAL, a backup of PostgreSQL restored', async (t) => {
  const moto = requireServer(t, 'moto');
  if (!moto) return;
  const work = makeTempDir('tarball');
  t.after(() => removeDir(work));
  const npm = 'npm';
  const env = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
  const packed = await run(npm, ['pack', '--pack-destination', work, '--silent'], { cwd: REPO_ROOT, env, maxBuffer: 1 << 24 });
  const tarball = path.join(work, packed.stdout.trim().split('\n').at(-1) ?? '');
  assert.ok(fs.existsSync(tarball), `npm pack wrote ${tarball}`);

  const app = path.join(work, 'app');
  fs.mkdirSync(path.join(app, 'src'), { recursive: true });
  const repoPkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({
    name: 'pgstow-scratch', private: true, type: 'module',
    dependencies: { pgstow: `file:${tarball}`, typescript: repoPkg.devDependencies.typescript, '@types/node': repoPkg.devDependencies['@types/node'] },
  }, null, 2));
  fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
  fs.writeFileSync(path.join(app, 'src', 'main.ts'), MAIN_TS);
  await run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app, env, maxBuffer: 1 << 24, timeout: 600_000 });
  assert.ok(!fs.existsSync(path.join(app, 'node_modules', 'pgstow', 'src')), 'the package ships its build, not the sources');
  assert.ok(fs.existsSync(path.join(app, 'node_modules', 'pgstow', 'dist', 'src', 'engine', 'index.d.ts')), 'the declarations are in the tarball');
  const tsc = await run(process.execPath, [path.join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], { cwd: app }).catch((err: { stdout?: string }) => err);
  assert.equal('code' in tsc ? tsc.code : 0, 0, `strict type check against the shipped declarations: ${(tsc as { stdout?: string }).stdout ?? ''}`);

  const fx = await startArchivingPostgres(15, { rows: 3000, tablespace: false });
  t.after(() => fx.cleanup());
  const before = await tableChecksums(fx.pg);
  const walPath = path.join(work, 'pg_wal', '000000010000000000000001');
  fs.mkdirSync(path.dirname(walPath));
  fs.writeFileSync(walPath, syntheticSegment(path.basename(walPath), { segmentSize: SEGMENT, randomPayloadUntil: SEGMENT }));
  const restoreDir = makeTempDir('tarball-restore');
  const pgRestoreDir = path.join(makeTempDir('tarball-pg'), 'data');
  const args = {
    fileStore: makeTempDir('tarball-store'), walPath, restoreDir, pgRestoreDir,
    moto: { endpoint: moto.endpoint, keyId: moto.accessKeyId, secret: moto.secretAccessKey, region: moto.region, url: `s3://${TEST_BUCKET}/${uniquePrefix('tarball')}` },
    pg: { host: fx.pg.libpqEnv.PGHOST ?? '', port: fx.pg.libpqEnv.PGPORT ?? '', user: fx.pg.libpqEnv.PGUSER ?? 'postgres' },
  };
  const r = await run(process.execPath, [path.join(app, 'dist', 'main.js'), JSON.stringify(args)], { cwd: app, maxBuffer: 1 << 24, timeout: 600_000 });
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
  assert.equal(out.fileIdentical, true, 'file:// restore is byte-identical');
  assert.equal(out.s3Identical, true, 'moto restore is byte-identical');
  assert.match(String(out.s3Key), /\/pg\/wals\/0000000100000000\/000000010000000000000001\.zst$/);
  assert.equal(out.missingWal, 'ERR_WAL_NOT_FOUND');
  const backup = out.backup as { id: string; name: string; objects: number };
  assert.equal(backup.name, 'from-the-library');
  assert.deepEqual(out.listed, [backup.id]);
  assert.ok(typeof out.firstRecoverabilityPoint === 'string');
  assert.equal((out.restored as { id: string }).id, backup.id);
  assert.equal(out.faultCode, 'ERR_STORAGE_UNAVAILABLE', 'a 503 on every put is retried, then reported with its code');

  // PostgreSQL starts from what the library restored and has the data of the backup.
  await fx.pg.query('SELECT pg_switch_wal()');
  fs.mkdirSync(path.join(pgRestoreDir, 'pg_wal', 'archive_status'), { recursive: true });
  fs.writeFileSync(path.join(pgRestoreDir, 'recovery.signal'), '');
  fs.appendFileSync(path.join(pgRestoreDir, 'postgresql.conf'), `\nrestore_command = 'cp ${fx.walDir}/%f %p'\narchive_mode = off\nrecovery_target_action = 'promote'\n`);
  chownToPostgres(path.dirname(pgRestoreDir));
  const restored = await createPostgres({ version: 15, dataDir: pgRestoreDir });
  t.after(() => restored.destroy());
  await restored.start();
  await restored.waitFor('recovery to finish', async () => (await restored.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r === false, 120_000);
  assert.deepEqual(await tableChecksums(restored), before);
});
