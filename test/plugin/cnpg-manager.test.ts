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
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startPostgres, type PostgresServer } from '../harness/postgres.js';
import { skipUnlessInstalled } from '../harness/test-env.js';
import { chownToPostgres } from '../harness/tmp.js';
import { openStoreFromEnv as openStore } from '../harness/store-options.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { readAll } from '../../src/storage/object-store-helpers.js';
import { startSidecar, type Sidecar } from './cnpg-harness.js';
import { canUseNetns, CNPG_MANAGER, cnpgManagerInstalled, startCnpgPod, type CnpgPod, type CnpgPodEnv } from './cnpg-pod.js';
import { CLUSTER, pluginEnv, type PluginEnv } from './plugin-env.js';

const canNetns = canUseNetns();
const skip = skipUnlessInstalled('ip netns (root)', canNetns) || skipUnlessInstalled(`CloudNativePG manager v1.30.0 (${CNPG_MANAGER})`, canNetns && cnpgManagerInstalled(true));

describe('CloudNativePG v1.30.0 instance manager against the plugin', { skip }, () => {
  let env: PluginEnv | undefined;
  let sidecar: Sidecar;
  let pod: CnpgPod | undefined;
  let podEnv: CnpgPodEnv;
  let pg: PostgresServer | undefined;
  let store: ObjectStore;

  before(async () => {
    env = await pluginEnv({ skip: () => undefined } as never, 'cnpg-manager');
    if (!env) return;
    env.putObjectStore('minio-store', { wal: { maxParallel: 2 } });
    const clusterFile = env.clusterFile('cluster', { plugin: { barmanObjectName: 'minio-store' }, withoutTypeMeta: true });
    pod = await startCnpgPod(path.join(env.dir, 'pod'), fs.readFileSync(clusterFile));
    sidecar = await startSidecar({ mode: 'instance', pluginPath: env.pluginPath, env: env.sidecarEnv({ PGSTOW_MAINTENANCE_DELAY_SECONDS: '3600' }) });
    // PostgreSQL inside the namespace (CNPG's archive_command must reach 127.0.0.1:8010 there); clients use its Unix socket.
    pg = await startPostgres({ label: 'cnpg-manager-pg', netns: pod.ns, settings: { archive_mode: 'on' } });
    podEnv = { podName: `${CLUSTER}-1`, pgdata: pg.dataDir, pluginSocketDir: env.pluginPath };
    await pg.query(`alter system set archive_command = '${pod.archiveCommand(podEnv).replace(/'/g, "''")}'`);
    await pg.query('select pg_reload_conf()');
    chownToPostgres(env.dir);
    store = (await openStore({ provider: 'aws-s3', destinationUrl: env.destination, endpointUrl: env.s3.endpoint, env: env.awsEnv(), s3: { region: env.s3.region } })).store;
  });
  after(async () => {
    // The servers close whatever the sidecar's exit code (an open API server kept the test process alive).
    let code: number | null | undefined;
    try {
      await pg?.destroy();
      await pod?.close();
      code = await sidecar?.stop();
    } finally {
      await store?.close();
      await env?.close();
    }
    if (code !== undefined) assert.equal(code, 0, 'the sidecar exited with an error');
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
    const r = await runAsync('psql', ['-h', (pg as PostgresServer).host, '-p', String((pg as PostgresServer).port), '-U', 'postgres', '-At', '-c', sql]);
    if (r.status !== 0) throw new Error(`psql: ${r.out}`);
    return r.out.trim();
  };
  const key = (wal: string): string => `${(env as PluginEnv).destination.replace(/^s3:\/\/[^/]+\//, '')}/${CLUSTER}/wals/${wal.slice(0, 16)}/${wal}`;

  test('archive_command = manager wal-archive: every segment lands in the store through the plugin, byte-identical; the condition endpoint hears success', async (t) => {
    if (!env || !pg || !pod) return t.skip();
    const pgLog = (): string => `${pg?.log.slice(-3000)}\n--- manager ---\n${fs.existsSync(pod?.managerLog ?? '') ? fs.readFileSync(pod?.managerLog ?? '', 'utf8').slice(-3000) : ''}`;
    await psql('CREATE TABLE t AS SELECT g, md5(g::text) FROM generate_series(1, 200000) g');
    const names: string[] = [];
    for (let i = 0; i < 3; i++) {
      names.push(await psql('SELECT pg_walfile_name(pg_current_wal_lsn())'));
      await psql(`INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g; SELECT pg_switch_wal()`);
    }
    const last = names.at(-1) as string;
    const deadline = Date.now() + 120_000;
    while (await psql('SELECT coalesce(last_archived_wal, \'\') FROM pg_stat_archiver') < last) {
      assert.ok(Date.now() < deadline, `archiving through the manager stalled:\n${pgLog()}\n${sidecar.log.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(await psql('SELECT failed_count FROM pg_stat_archiver'), '0', pgLog());
    for (const name of names) {
      const local = path.join(pg.dataDir, 'pg_wal', name);
      if (fs.existsSync(local)) assert.ok((await readAll(store, key(name))).equals(fs.readFileSync(local)), `${name} byte-identical`);
      else assert.ok(await store.exists(key(name)), `${name} stored`);
    }
    const requests = fs.readFileSync(pod.requestsLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { method: string; url: string; body: string });
    assert.ok(requests.some((r) => r.method === 'GET' && r.url === '/cache/cluster'));
    assert.ok(requests.some((r) => r.method === 'POST' && r.url.startsWith('/cluster/status/condition/wal/archive') && ((JSON.parse(r.body) as { error?: string }).error ?? '') === ''), 'success reported (error omitted)');
    // The manager loaded the plugin through its socket: metadata, capabilities, then Archive.
    assert.ok(sidecar.logLines().some((l) => /archived [0-9A-F]{24}/.test(String(l.msg))));
  });

  test('manager wal-restore brings a segment back through the plugin; a missing one fails', async (t) => {
    if (!env || !pod) return t.skip();
    const restorer = pod;
    const wal = await psql('SELECT last_archived_wal FROM pg_stat_archiver');
    const dest = path.join(env.dir, 'restore-dest');
    fs.mkdirSync(path.join(dest, 'pg_wal'), { recursive: true });
    chownToPostgres(dest);
    const run = async (name: string): Promise<{ status: number | null; out: string }> => {
      const [cmd, ...args] = restorer.asPostgres({ podName: `${CLUSTER}-2`, pgdata: dest, pluginSocketDir: podEnv.pluginSocketDir },
        [restorer.manager, 'wal-restore', '--log-level', 'debug', name, 'pg_wal/RECOVERYXLOG']);
      const r = await runAsync(cmd as string, args, { cwd: dest, timeoutMs: 60_000 });
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

