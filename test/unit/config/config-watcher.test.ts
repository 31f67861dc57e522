/**
 * Rotation on a running process: the watcher notices a rotated mounted Secret (file watch), a rotated Secret in
 * the Kubernetes API (short TTL re-read) and a rotated CA, starts a new generation; the engine's store
 * generations (src/engine/store-generations.ts, fed as a command feeds Engine.reconfigure) never pull the store
 * from under a transfer in flight, and the superseded store is closed when that transfer ends.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { once } from 'node:events';
import { makeTempDir, removeDir } from '../../harness/tmp.js';
import { startFakeKubernetesApi, type FakeKubernetesApi } from '../../harness/fake-kubernetes-api.js';
import { ConfigWatcher } from '../../../src/config/config-watcher.js';
import type { ResolvedConfig } from '../../../src/config/resolved-config.js';
import { StoreGenerations } from '../../../src/engine/store-generations.js';
import { manifestView, type ManifestView } from '../../harness/store-options.js';
import type { StoreOptions } from '../../../src/storage/store-options.js';
import type { ObjectStore } from '../../../src/storage/object-store.js';

let dir: string;
let api: FakeKubernetesApi;

const CLUSTER = `apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: pg, namespace: prod}
spec:
  backup:
    barmanObjectStore:
      destinationPath: s3://bucket/prefix
      endpointURL: https://127.0.0.1:9000
      endpointCA: {name: store-ca, key: ca.crt}
      s3Credentials:
        accessKeyId: {name: aws-creds, key: ACCESS_KEY_ID}
        secretAccessKey: {name: aws-creds, key: ACCESS_SECRET_KEY}
`;

/** Writes a Secret the way kubelet updates a Secret volume: new timestamped dir, atomic ..data symlink swap. */
function mountSecret(root: string, name: string, data: Record<string, string>): void {
  const sdir = path.join(root, name);
  fs.mkdirSync(sdir, { recursive: true });
  const ts = path.join(sdir, `..${process.hrtime.bigint()}`);
  fs.mkdirSync(ts);
  for (const [k, v] of Object.entries(data)) fs.writeFileSync(path.join(ts, k), v);
  const old = fs.existsSync(path.join(sdir, '..data')) ? fs.readlinkSync(path.join(sdir, '..data')) : undefined;
  fs.symlinkSync(path.basename(ts), path.join(sdir, '..data_tmp'));
  fs.renameSync(path.join(sdir, '..data_tmp'), path.join(sdir, '..data'));
  for (const k of Object.keys(data)) if (!fs.existsSync(path.join(sdir, k))) fs.symlinkSync(path.join('..data', k), path.join(sdir, k));
  if (old) fs.rmSync(path.join(sdir, old), { recursive: true });
}

before(async () => {
  dir = makeTempDir('config-watcher');
  api = await startFakeKubernetesApi(dir);
});
after(async () => {
  await api.close();
  removeDir(dir);
});

test('a rotated mounted Secret and CA are picked up without restart; in-flight work keeps its store', async () => {
  const root = path.join(dir, 'mounted');
  const storeDir = makeTempDir('watcher-store');
  mountSecret(root, 'aws-creds', { ACCESS_KEY_ID: 'AKIAOLD', ACCESS_SECRET_KEY: 'old-secret' });
  mountSecret(root, 'store-ca', { 'ca.crt': 'CA-ONE' });
  const cfg = path.join(dir, 'cluster.yaml');
  fs.writeFileSync(cfg, CLUSTER);
  const env = { PGSTOW_RUNTIME_DIR: path.join(dir, 'run'), HOME: dir };
  const watcher = await ConfigWatcher.start({ configFile: cfg, secretsDir: root, kubernetes: 'never', env, ttlMs: 0, debounceMs: 50 });
  const view = (): Promise<ManifestView> => manifestView(watcher.current, env);
  // The real driver for these credentials is S3 (tested against moto in test/integration/config-rotation.test.ts);
  // here the store is a local directory so the lease/close behaviour can be observed without a server.
  const fileOptions = (_c: ResolvedConfig): StoreOptions => ({ provider: 'file', destinationUrl: `file://${storeDir}` });
  const generations = new StoreGenerations(fileOptions(watcher.current));
  watcher.on('change', (c) => { void generations.update(fileOptions(c)); });
  const withStore = async <T>(fn: (store: ObjectStore) => Promise<T>): Promise<T> => {
    const lease = await generations.acquire();
    try { return await fn(lease.store); } finally { await lease.release(); }
  };
  try {
    assert.equal(watcher.generation, 1);
    assert.equal((await view()).env.AWS_SECRET_ACCESS_KEY, 'old-secret');
    assert.equal((await view()).ca, 'CA-ONE');

    // A transfer in flight holds generation 1's store across the rotation.
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    let closedOld = false;
    let oldStore: unknown;
    const inFlight = withStore(async (store) => {
      oldStore = store;
      const close = store.close.bind(store);
      store.close = async () => { closedOld = true; await close(); };
      await gate;
      await store.put('during-rotation', new TextEncoder().encode('still works'));
      return watcher.generation;
    });
    await new Promise((r) => setTimeout(r, 20));

    const changed = once(watcher, 'change');
    mountSecret(root, 'aws-creds', { ACCESS_KEY_ID: 'AKIANEW', ACCESS_SECRET_KEY: 'new-secret' });
    await changed;
    assert.equal(watcher.generation, 2);
    assert.equal(generations.generation, 2);
    assert.equal((await view()).env.AWS_ACCESS_KEY_ID, 'AKIANEW');
    assert.equal((await view()).env.AWS_SECRET_ACCESS_KEY, 'new-secret');
    assert.equal(closedOld, false, 'the store of a transfer in flight is not closed by rotation');

    const newStore = await withStore(async (store) => store);
    assert.notEqual(newStore, oldStore, 'new work gets a store built from the new generation');
    release();
    assert.equal(await inFlight, 2);
    assert.ok(fs.existsSync(path.join(storeDir, 'during-rotation')), 'the in-flight transfer completed');
    assert.equal(closedOld, true, 'the superseded store is closed once its last transfer ends');

    const caChanged = once(watcher, 'change');
    mountSecret(root, 'store-ca', { 'ca.crt': 'CA-TWO' });
    await caChanged;
    assert.equal((await view()).ca, 'CA-TWO');
    assert.equal(watcher.generation, 3);

    // A half-rotated Secret (key missing) keeps the last good configuration and reports the error.
    const errored = once(watcher, 'error');
    mountSecret(root, 'aws-creds', { ACCESS_KEY_ID: 'AKIABROKEN' });
    const [err] = await errored as [Error];
    assert.match(err.message, /has no key "ACCESS_SECRET_KEY"/);
    assert.equal(watcher.generation, 3);
    assert.equal((await view()).env.AWS_SECRET_ACCESS_KEY, 'new-secret');
  } finally {
    await watcher.close();
    await generations.close();
  }
});

test('a Secret rotated in the Kubernetes API is picked up by the TTL re-read', async () => {
  api.setSecret('prod', 'aws-creds', { ACCESS_KEY_ID: 'AKIAAPI1', ACCESS_SECRET_KEY: 'api-one' });
  api.setSecret('prod', 'store-ca', { 'ca.crt': 'CA' });
  const cfg = path.join(dir, 'api-cluster.yaml');
  fs.writeFileSync(cfg, CLUSTER);
  const env = { PGSTOW_RUNTIME_DIR: path.join(dir, 'run'), HOME: dir };
  const watcher = await ConfigWatcher.start({ configFile: cfg, kubeconfig: api.kubeconfig, env, ttlMs: 150 });
  watcher.on('error', () => undefined);
  const view = (): Promise<ManifestView> => manifestView(watcher.current, env);
  try {
    assert.equal((await view()).env.AWS_SECRET_ACCESS_KEY, 'api-one');
    const t0 = Date.now();
    const changed = once(watcher, 'change');
    api.setSecret('prod', 'aws-creds', { ACCESS_KEY_ID: 'AKIAAPI2', ACCESS_SECRET_KEY: 'api-two' });
    await changed;
    assert.ok(Date.now() - t0 < 5000);
    assert.equal((await view()).env.AWS_ACCESS_KEY_ID, 'AKIAAPI2');
    assert.equal((await view()).env.AWS_SECRET_ACCESS_KEY, 'api-two');
    // Unchanged Secrets do not start new generations.
    const gen = watcher.generation;
    assert.equal(await watcher.reload(), false);
    assert.equal(watcher.generation, gen);
  } finally {
    await watcher.close();
  }
});
