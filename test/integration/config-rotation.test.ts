/**
 * Credential rotation on a running process against moto (IAM authentication on: a wrong key is refused).
 * 1. A running `pgstow backup --config … --secrets-dir …` (slowed with --max-bandwidth) has its mounted Secret
 *    rotated to another IAM user's key mid-run: later requests are signed with the new key, the old key is not
 *    used again, and the backup completes and restores.
 * 2. The library level: a loop archiving through an engine that ConfigWatcher reconfigures (as a command does),
 *    including a rotation to a wrong secret.
 * 3. CA rotation over TLS (s3rver over HTTPS with the harness CA): the engine `pgstow backup` opens, with endpointCA
 *    first a wrong CA (refused: TlsError) and then the right one: the next request succeeds on the same engine.
 * A transparent recording proxy in front of moto shows which access key signed each request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { requireServer } from '../harness/test-env.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';
import { chownToPostgres, makeTempDir, removeDir } from '../harness/tmp.js';
import { binPath, runCli } from '../harness/cli.js';
import { createPostgres } from '../harness/postgres.js';
import { startArchivingPostgres, tableChecksums } from './backup-fixtures.js';
import { generateTls } from '../harness/ca.js';
import { testEnv } from '../harness/test-env.js';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseCommandArgs } from '../../src/cli/common-options.js';
import { openCommandEngine } from '../../src/cli/command-engine.js';
import { openEngine } from '../../src/engine/open-engine.js';
import { settingsFromResolvedConfig } from '../../src/config/settings-from-config.js';
import { command as backupCommand } from '../../src/cli/commands/backup.js';
import { createLogger } from '../../src/cli/logger.js';
import type { CommandContext } from '../../src/cli/command.js';
import { TlsError } from '../../src/storage/errors.js';
import { ConfigWatcher } from '../../src/config/config-watcher.js';
import { isPgstowError } from '../../src/errors.js';
import { syntheticSegment } from '../harness/wal-segments.js';

/** Forwards every request to moto unchanged and records the access key id of its SigV4 Authorization header. */
interface Recorded { key: string; method: string; path: string }

async function recordingProxy(target: string): Promise<{ url: string; keys: string[]; requests: Recorded[]; close(): Promise<void> }> {
  const t = new URL(target);
  const keys: string[] = [];
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const m = /Credential=([^/]+)\//.exec(req.headers.authorization ?? '');
    keys.push(m?.[1] ?? '(unsigned)');
    requests.push({ key: m?.[1] ?? '(unsigned)', method: req.method ?? '', path: req.url ?? '' });
    const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      pipeline(r, res).catch(() => res.destroy());
    });
    up.on('error', () => { res.statusCode = 502; res.end(); });
    pipeline(req, up).catch(() => up.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, keys, requests,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

function mountSecret(root: string, name: string, data: Record<string, string>): void {
  const sdir = path.join(root, name);
  fs.mkdirSync(sdir, { recursive: true });
  const ts = path.join(sdir, `..${process.hrtime.bigint()}`);
  fs.mkdirSync(ts);
  for (const [k, v] of Object.entries(data)) fs.writeFileSync(path.join(ts, k), v);
  fs.symlinkSync(path.basename(ts), path.join(sdir, '..data_tmp'));
  fs.renameSync(path.join(sdir, '..data_tmp'), path.join(sdir, '..data'));
  for (const k of Object.keys(data)) if (!fs.existsSync(path.join(sdir, k))) fs.symlinkSync(path.join('..data', k), path.join(sdir, k));
}

function clusterManifest(name: string, destinationPath: string, endpointURL: string): string {
  return `apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: ${name}}
spec:
  backup:
    barmanObjectStore:
      destinationPath: ${destinationPath}
      endpointURL: ${endpointURL}
      s3Credentials:
        accessKeyId: {name: aws-creds, key: ACCESS_KEY_ID}
        secretAccessKey: {name: aws-creds, key: ACCESS_SECRET_KEY}
`;
}

type Key = { ACCESS_KEY_ID: string; ACCESS_SECRET_KEY: string };

/** moto with its second IAM user; a harness without it is broken, not a reason to skip. */
function motoWithTwoUsers(t: Parameters<typeof requireServer>[0]): { moto: NonNullable<ReturnType<typeof requireServer<'moto'>>>; keyA: Key; keyB: Key } | undefined {
  const moto = requireServer(t, 'moto');
  if (!moto) return undefined;
  const { limitedAccessKeyId, limitedSecretAccessKey } = moto.extra ?? {};
  if (!limitedAccessKeyId || !limitedSecretAccessKey) assert.fail('the moto harness must provide the limited IAM user (servers.moto.extra.limited*)');
  return {
    moto,
    keyA: { ACCESS_KEY_ID: moto.accessKeyId, ACCESS_SECRET_KEY: moto.secretAccessKey },
    keyB: { ACCESS_KEY_ID: limitedAccessKeyId, ACCESS_SECRET_KEY: limitedSecretAccessKey },
  };
}

test('pgstow backup --config --secrets-dir: rotating the mounted key mid-run switches later requests to the new key; the backup completes and restores', async (t) => {
  const users = motoWithTwoUsers(t);
  if (!users) return;
  const { moto, keyA, keyB } = users;
  const dir = makeTempDir('rotation-cli');
  t.after(() => removeDir(dir));
  const proxy = await recordingProxy(moto.endpoint);
  t.after(() => proxy.close());
  const prefix = `${moto.extra?.limitedPrefix ?? 'limited'}/${uniquePrefix('rotation-cli')}`;
  const cfg = path.join(dir, 'cluster.yaml');
  fs.writeFileSync(cfg, clusterManifest('pg-rot', `s3://${TEST_BUCKET}/${prefix}`, proxy.url));
  const secrets = path.join(dir, 'secrets');
  mountSecret(secrets, 'aws-creds', keyA);

  const fx = await startArchivingPostgres(15, { rows: 20000, tablespace: false });
  t.after(() => fx.cleanup());
  const before = await tableChecksums(fx.pg);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...fx.pg.libpqEnv, PGSTOW_RUNTIME_DIR: path.join(dir, 'run'), AWS_DEFAULT_REGION: moto.region })) if (v !== undefined) env[k] = v;
  const common = ['--config', cfg, '--secrets-dir', secrets, '--kubernetes-secrets', 'never'];

  // About 30 MB at 4 MB/s in 2 MB volumes: several seconds and a dozen uploads, so a rotation lands mid-run.
  const child = spawn(process.execPath, [binPath('pgstow'), 'backup', '-v', ...common, '--max-bandwidth', '4MB', '-S', '2MB', '--immediate-checkpoint'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  child.stdout.resume();
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });

  const dataPuts = (): Recorded[] => proxy.requests.filter((r) => r.method === 'PUT' && /\/data(_\d{4})?\.tar/.test(r.path));
  const deadline = Date.now() + 60_000;
  while (dataPuts().length < 2) {
    assert.ok(child.exitCode === null, `the backup ended before the rotation (exit ${child.exitCode}):\n${stderr}`);
    assert.ok(Date.now() < deadline, `no data upload seen within 60 s:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const rotatedAt = proxy.requests.length;
  assert.deepEqual([...new Set(proxy.requests.map((r) => r.key))], [keyA.ACCESS_KEY_ID], 'before the rotation every request is signed with the first key');
  mountSecret(secrets, 'aws-creds', keyB);

  const code = await exited;
  assert.equal(code, 0, stderr);
  const after = proxy.requests.slice(rotatedAt);
  const firstB = after.findIndex((r) => r.key === keyB.ACCESS_KEY_ID);
  assert.ok(firstB >= 0, `no request signed with the new key after the rotation:\n${stderr}`);
  const sinceB = after.slice(firstB);
  // The switch is one-way: once the new key signs, the old one never does again (requests in flight and the
  // watcher's debounce explain the few old-key requests between the rotation and the switch).
  assert.deepEqual([...new Set(sinceB.map((r) => r.key))], [keyB.ACCESS_KEY_ID]);
  assert.ok(sinceB.filter((r) => r.method === 'PUT' && /\/data(_\d{4})?\.tar/.test(r.path)).length >= 2, `data volumes uploaded with the new key: ${JSON.stringify(sinceB.map((r) => `${r.method} ${r.path.split('?')[0]}`))}`);
  assert.ok(sinceB.some((r) => r.method === 'PUT' && r.path.includes('backup.info')), 'backup.info written with the new key');
  assert.ok(firstB <= 20, `the new key took ${firstB} requests to take over`);
  assert.match(stderr, /configuration changed \(generation 2\)/);
  assert.ok(!stderr.includes(keyA.ACCESS_SECRET_KEY) && !stderr.includes(keyB.ACCESS_SECRET_KEY), 'no secret in the output');

  // The backup restores (with the new key) and recovers to equal data.
  await fx.pg.query('SELECT pg_switch_wal()');
  const base = makeTempDir('rotation-restore');
  t.after(() => removeDir(base));
  const dataDir = path.join(base, 'data');
  const rr = await runCli('pgstow', ['restore', ...common, 'latest', dataDir], { env });
  assert.equal(rr.code, 0, rr.stderr);
  fs.mkdirSync(path.join(dataDir, 'pg_wal', 'archive_status'), { recursive: true });
  fs.writeFileSync(path.join(dataDir, 'recovery.signal'), '');
  fs.appendFileSync(path.join(dataDir, 'postgresql.conf'), `\nrestore_command = 'cp ${fx.walDir}/%f %p'\narchive_mode = off\nrecovery_target_action = 'promote'\n`);
  chownToPostgres(base);
  const restored = await createPostgres({ version: 15, dataDir });
  t.after(() => restored.destroy());
  await restored.start();
  await restored.waitFor('recovery to finish', async () => (await restored.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r === false, 120_000);
  assert.deepEqual(await tableChecksums(restored), before);
});

test('rotating the S3 key on a running process: the next upload uses the new key, the old one is no longer used', async (t) => {
  const users = motoWithTwoUsers(t);
  if (!users) return;
  const { moto } = users;
  const dir = makeTempDir('rotation');
  const proxy = await recordingProxy(moto.endpoint);
  const prefix = `${moto.extra?.limitedPrefix ?? 'limited'}/${uniquePrefix('rotation')}`;
  const cfg = path.join(dir, 'cluster.yaml');
  fs.writeFileSync(cfg, clusterManifest('pg-rotation', `s3://${TEST_BUCKET}/${prefix}`, proxy.url));
  const secrets = path.join(dir, 'secrets');
  const { keyA, keyB } = users;
  mountSecret(secrets, 'aws-creds', keyA);
  const env = { PGSTOW_RUNTIME_DIR: path.join(dir, 'run'), HOME: dir, AWS_DEFAULT_REGION: moto.region };
  const watcher = await ConfigWatcher.start({ configFile: cfg, secretsDir: secrets, kubernetes: 'never', ttlMs: 0, debounceMs: 50, env });
  const engine = await openEngine(settingsFromResolvedConfig(watcher.current, env));
  // As a command does: every new configuration becomes the engine's settings (calls in flight keep theirs).
  const reconfigured: Array<Promise<void>> = [];
  watcher.on('change', (config) => { reconfigured.push(engine.reconfigure(settingsFromResolvedConfig(config, env))); });
  const changedAndApplied = async (p: Promise<unknown>): Promise<void> => { await p; await Promise.all(reconfigured); };
  const walDir = path.join(dir, 'pg_wal');
  fs.mkdirSync(walDir);
  let n = 0;
  const upload = async (): Promise<string> => {
    const name = `0000000100000000000000${(++n).toString(16).toUpperCase().padStart(2, '0')}`;
    fs.writeFileSync(path.join(walDir, name), syntheticSegment(name)); // wal-archive refuses what is not a WAL segment
    return (await engine.archiveWal(path.join(walDir, name))).key;
  };
  try {
    await upload();
    // The upload must have gone through the proxy, signed: anything else is a failure, never a skip.
    assert.ok(proxy.keys.length > 0, 'the upload made no request through the recording proxy');
    assert.equal(proxy.keys.at(-1), keyA.ACCESS_KEY_ID);

    // Rotate to a wrong secret for the same key id: moto refuses, which proves the new value is what signs.
    let changed = once(watcher, 'change');
    mountSecret(secrets, 'aws-creds', { ACCESS_KEY_ID: keyA.ACCESS_KEY_ID, ACCESS_SECRET_KEY: 'x'.repeat(40) });
    await changedAndApplied(changed);
    await assert.rejects(upload(), (err: unknown) => isPgstowError(err) && err.exitCode === 1 && !String((err as Error).message).includes(keyA.ACCESS_SECRET_KEY));

    // Rotate to another user's key: the next upload works and is signed with it; the old key is never used again.
    changed = once(watcher, 'change');
    mountSecret(secrets, 'aws-creds', keyB);
    await changedAndApplied(changed);
    const before = proxy.keys.length;
    for (let i = 0; i < 3; i++) await upload();
    const after = proxy.keys.slice(before);
    assert.ok(after.length >= 3);
    assert.deepEqual([...new Set(after)], [keyB.ACCESS_KEY_ID]);
    assert.equal(watcher.generation, 3);
  } finally {
    await watcher.close();
    await engine.close();
    await proxy.close();
  }
});


test('rotating endpointCA under a watching command: with a wrong CA TLS fails, after the CA Secret is fixed the next request succeeds', async (t) => {
  const s3 = requireServer(t, 's3rverTls');
  if (!s3) return;
  const dir = makeTempDir('rotation-ca');
  t.after(() => removeDir(dir));
  const wrong = generateTls(path.join(dir, 'wrong-ca'));
  const cfg = path.join(dir, 'cluster.yaml');
  fs.writeFileSync(cfg, `${clusterManifest('pg-ca', `s3://${TEST_BUCKET}/${uniquePrefix('rotation-ca')}`, s3.endpoint)}      endpointCA: {name: store-ca, key: ca.crt}\n`);
  const secrets = path.join(dir, 'secrets');
  mountSecret(secrets, 'aws-creds', { ACCESS_KEY_ID: s3.accessKeyId, ACCESS_SECRET_KEY: s3.secretAccessKey });
  mountSecret(secrets, 'store-ca', { 'ca.crt': fs.readFileSync(wrong.caFile, 'utf8') });

  // The engine exactly as `pgstow backup --config … --secrets-dir …` opens it, watching its configuration.
  const env = { ...process.env, PGSTOW_RUNTIME_DIR: path.join(dir, 'run'), AWS_DEFAULT_REGION: s3.region };
  const stderr = new PassThrough();
  let log = '';
  stderr.on('data', (d: Buffer) => { log += d.toString(); });
  const secretList: string[] = [];
  const ctx: CommandContext = {
    invokedAs: 'pgstow backup', barmanMode: false, env, stdout: new PassThrough(), stderr,
    log: createLogger(stderr, 'info', secretList), secrets: secretList, signal: new AbortController().signal,
  };
  const spec = backupCommand.spec('pgstow backup');
  const argv = ['--config', cfg, '--secrets-dir', secrets, '--kubernetes-secrets', 'never'];
  const c = await openCommandEngine('backup', parseCommandArgs(spec, argv, env, false), ctx);
  t.after(() => c.close());
  const walDir = path.join(dir, 'pg_wal');
  fs.mkdirSync(walDir);
  // A history file: any size is valid (a segment would have to be a WAL segment's size to be restored).
  const wal = path.join(walDir, '00000002.history');
  fs.writeFileSync(wal, 'trusted at last');

  await assert.rejects(c.engine.archiveWal(wal), (err: unknown) => err instanceof TlsError);

  mountSecret(secrets, 'store-ca', { 'ca.crt': fs.readFileSync(testEnv().tls.caFile, 'utf8') });
  const deadline = Date.now() + 15_000;
  while (!log.includes('configuration changed (generation 2)') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  // The request itself is the check: it must now be trusted, on the same engine, without reopening anything.
  await c.engine.archiveWal(wal);
  assert.match(log, /configuration changed \(generation 2\)/);
  const back = path.join(dir, 'restored-wal');
  await c.engine.restoreWal('00000002.history', back);
  assert.equal(fs.readFileSync(back, 'utf8'), 'trusted at last');
});
