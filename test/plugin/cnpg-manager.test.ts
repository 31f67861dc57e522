/**
 * The real client: CloudNativePG's own instance manager (v1.30.0, built from the Go module proxy by
 * scripts/install-cnpg-manager.sh) drives the plugin exactly as in a pod. PostgreSQL 15 runs with CNPG's
 * archive_command (`manager wal-archive --log-destination … %p`) inside a network namespace of the test's own,
 * where a stand-in for the instance manager's local web server listens on the manager's fixed port 8010 and
 * serves the Cluster JSON. The plugin sidecar is outside the namespace (Unix sockets cross it; it reaches the
 * loopback Kubernetes API and S3 server). `manager wal-restore` then brings the segments back.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createPostgres, REPO_ROOT, type PostgresServer } from '../harness/postgres.js';
import { skipUnlessInstalled } from '../harness/test-env.js';
import { chownToPostgres } from '../harness/tmp.js';
import { openStoreFromEnv as openStore } from '../harness/store-options.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { readAll } from '../../src/storage/object-store-helpers.js';
import { startSidecar, type Sidecar } from './cnpg-harness.js';
import { CLUSTER, pluginEnv, type PluginEnv } from './plugin-env.js';

const MANAGER = process.env.PGSTOW_CNPG_MANAGER ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'pgstow', 'cnpg-manager-v1.30.0', 'manager');
const WEBSERVER = path.join(REPO_ROOT, 'dist', 'test', 'plugin', 'fake-cnpg-webserver.js');

/** Builds the manager when missing (scripts/install-cnpg-manager.sh); false when that cannot work here. */
function ensureManager(): boolean {
  if (fs.existsSync(MANAGER)) return true;
  if (process.env.PGSTOW_CNPG_MANAGER) return false;
  const r = spawnSync('bash', [path.join(REPO_ROOT, 'scripts', 'install-cnpg-manager.sh')], { stdio: 'inherit', timeout: 1_800_000 });
  return r.status === 0 && fs.existsSync(MANAGER);
}

const canNetns = process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list']).status === 0;
const skip = skipUnlessInstalled('ip netns (root)', canNetns) || skipUnlessInstalled(`CloudNativePG manager v1.30.0 (${MANAGER})`, canNetns && ensureManager());

describe('CloudNativePG v1.30.0 instance manager against the plugin', { skip }, () => {
  const ns = `pgstow-${randomBytes(3).toString('hex')}`;
  let env: PluginEnv | undefined;
  let sidecar: Sidecar;
  let webserver: ChildProcess;
  let pg: PostgresServer;
  let pgProc: ChildProcess | undefined;
  let store: ObjectStore;
  let requestsLog: string;
  let pgLog = '';
  let manager = MANAGER;

  before(async () => {
    env = await pluginEnv({ skip: () => undefined } as never, 'cnpg-manager');
    if (!env) return;
    // The cache may sit under a home directory the postgres user cannot enter: run a copy from the test's dir.
    manager = path.join(env.dir, 'manager');
    fs.copyFileSync(MANAGER, manager);
    fs.chmodSync(manager, 0o755);
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    env.putObjectStore('minio-store', { wal: { maxParallel: 2 } });
    const clusterFile = env.clusterFile('cluster', { plugin: { barmanObjectName: 'minio-store' }, withoutTypeMeta: true });
    requestsLog = path.join(env.dir, 'webserver.log');
    webserver = spawn('ip', ['netns', 'exec', ns, process.execPath, WEBSERVER, clusterFile, requestsLog], { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      webserver.stdout?.once('data', () => resolve());
      webserver.once('exit', (c) => reject(new Error(`the fake web server exited with ${c}`)));
    });
    sidecar = await startSidecar({ mode: 'instance', pluginPath: env.pluginPath, env: env.sidecarEnv({ PGSTOW_MAINTENANCE_DELAY_SECONDS: '3600' }) });
    pg = await createPostgres({
      label: 'cnpg-manager-pg',
      settings: { archive_mode: 'on', listen_addresses: '', archive_command: `${manager} wal-archive --log-destination ${env.dir}/postgres.json %p` },
    });
    chownToPostgres(env.dir);
    // PostgreSQL inside the namespace (CNPG's archive_command must reach 127.0.0.1:8010 there); clients use its Unix socket.
    pgProc = spawn('ip', ['netns', 'exec', ns, 'runuser', '-u', 'postgres', '--', 'env', `POD_NAME=${CLUSTER}-1`, `PGDATA=${pg.dataDir}`, `PLUGIN_SOCKET_DIR=${env.pluginPath}`,
      path.join(pg.binDir, 'postgres'), '-D', pg.dataDir, '-p', String(pg.port), '-k', pg.socketDir], { stdio: ['ignore', 'pipe', 'pipe'], cwd: pg.dataDir });
    pgProc.stderr?.on('data', (d: Buffer) => { pgLog += d.toString(); });
    pgProc.stdout?.on('data', (d: Buffer) => { pgLog += d.toString(); });
    const deadline = Date.now() + 60_000;
    while (!/ready to accept connections/.test(pgLog)) {
      if (Date.now() > deadline || pgProc.exitCode !== null) throw new Error(`PostgreSQL did not start:\n${pgLog}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    store = (await openStore({ provider: 'aws-s3', destinationUrl: env.destination, endpointUrl: env.s3.endpoint, env: env.awsEnv(), s3: { region: env.s3.region } })).store;
  });
  after(async () => {
    // runuser does not pass signals on: stop the postmaster itself (fast shutdown).
    const pidFile = pg ? path.join(pg.dataDir, 'postmaster.pid') : '';
    if (pgProc && pgProc.exitCode === null && fs.existsSync(pidFile)) {
      process.kill(Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]), 'SIGINT');
      await new Promise((r) => pgProc?.once('exit', r));
    }
    webserver?.kill('SIGTERM');
    spawnSync('ip', ['netns', 'delete', ns]);
    await pg?.destroy();
    assert.equal(await sidecar?.stop(), 0);
    await store?.close();
    await env?.close();
  });

  // Never a synchronous child process here: this process also serves the Kubernetes API the sidecar reads.
  const runAsync = (cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<{ status: number | null; out: string }> => new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('close', (status) => { clearTimeout(timer); resolve({ status, out }); });
  });
  const psql = async (sql: string): Promise<string> => {
    const r = await runAsync('psql', ['-h', pg.socketDir, '-p', String(pg.port), '-U', 'postgres', '-At', '-c', sql]);
    if (r.status !== 0) throw new Error(`psql: ${r.out}`);
    return r.out.trim();
  };
  const key = (wal: string): string => `${(env as PluginEnv).destination.replace(/^s3:\/\/[^/]+\//, '')}/${CLUSTER}/wals/${wal.slice(0, 16)}/${wal}`;

  test('archive_command = manager wal-archive: every segment lands in the store through the plugin, byte-identical; the condition endpoint hears success', async (t) => {
    if (!env) return t.skip();
    await psql('CREATE TABLE t AS SELECT g, md5(g::text) FROM generate_series(1, 200000) g');
    const names: string[] = [];
    for (let i = 0; i < 3; i++) {
      names.push(await psql('SELECT pg_walfile_name(pg_current_wal_lsn())'));
      await psql(`INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g; SELECT pg_switch_wal()`);
    }
    const last = names.at(-1) as string;
    const deadline = Date.now() + 120_000;
    while (await psql('SELECT coalesce(last_archived_wal, \'\') FROM pg_stat_archiver') < last) {
      assert.ok(Date.now() < deadline, `archiving through the manager stalled:\n${pgLog.slice(-3000)}\n${sidecar.log.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(await psql('SELECT failed_count FROM pg_stat_archiver'), '0', pgLog.slice(-3000));
    for (const name of names) {
      const local = path.join(pg.dataDir, 'pg_wal', name);
      if (fs.existsSync(local)) assert.ok((await readAll(store, key(name))).equals(fs.readFileSync(local)), `${name} byte-identical`);
      else assert.ok(await store.exists(key(name)), `${name} stored`);
    }
    const requests = fs.readFileSync(requestsLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { method: string; url: string; body: string });
    assert.ok(requests.some((r) => r.method === 'GET' && r.url === '/cache/cluster'));
    assert.ok(requests.some((r) => r.method === 'POST' && r.url.startsWith('/cluster/status/condition/wal/archive') && ((JSON.parse(r.body) as { error?: string }).error ?? '') === ''), 'success reported (error omitted)');
    // The manager loaded the plugin through its socket: metadata, capabilities, then Archive.
    assert.ok(sidecar.logLines().some((l) => /archived [0-9A-F]{24}/.test(String(l.msg))));
  });

  test('manager wal-restore brings a segment back through the plugin; a missing one fails', async (t) => {
    if (!env) return t.skip();
    const wal = await psql('SELECT last_archived_wal FROM pg_stat_archiver');
    const dest = path.join(env.dir, 'restore-dest');
    fs.mkdirSync(path.join(dest, 'pg_wal'), { recursive: true });
    chownToPostgres(dest);
    const run = async (name: string): Promise<{ status: number | null; out: string }> => {
      const r = await runAsync('ip', ['netns', 'exec', ns, 'runuser', '-u', 'postgres', '--', 'env', `POD_NAME=${CLUSTER}-2`, `PGDATA=${dest}`, `PLUGIN_SOCKET_DIR=${env?.pluginPath}`,
        manager, 'wal-restore', '--log-level', 'debug', name, 'pg_wal/RECOVERYXLOG'], { cwd: dest, timeoutMs: 60_000 });
      const log = fs.existsSync(path.join(dest, 'log.json')) ? fs.readFileSync(path.join(dest, 'log.json'), 'utf8') : '';
      return { status: r.status, out: `${r.out}\n${log.slice(-4000)}\n--- sidecar ---\n${sidecar.log.slice(-3000)}` };
    };
    const ok = await run(wal);
    assert.equal(ok.status, 0, ok.out);
    assert.ok(fs.readFileSync(path.join(dest, 'pg_wal', 'RECOVERYXLOG')).equals(await readAll(store, key(wal))));
    const missing = await run('0000000100000000000000FE');
    assert.notEqual(missing.status, 0, 'a WAL not in the archive is reported as not restored');
  });
});

