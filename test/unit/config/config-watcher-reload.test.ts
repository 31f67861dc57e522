/**
 * A change signalled while a load runs is not folded into that load: the load may have read the Secrets before
 * the change, so the watcher loads again once it ends. The load is held at a chosen point (after it read every
 * value) by a secret source that waits on a gate, so the order "read, change, signal, load ends" is the same on
 * every run.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTempDir, removeDir } from '../../harness/tmp.js';
import { manifestView } from '../../harness/store-options.js';
import { ConfigWatcher } from '../../../src/config/config-watcher.js';
import type { ResolvedConfig } from '../../../src/config/resolved-config.js';
import type { LookupResult, SecretSource } from '../../../src/config/secrets.js';

let dir: string;
before(() => { dir = makeTempDir('config-watcher-reload'); });
after(() => { removeDir(dir); });

const CLUSTER = `apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: pg, namespace: prod}
spec:
  backup:
    barmanObjectStore:
      destinationPath: s3://bucket/prefix
      s3Credentials:
        accessKeyId: {name: aws-creds, key: ACCESS_KEY_ID}
        secretAccessKey: {name: aws-creds, key: ACCESS_SECRET_KEY}
      endpointCA: {name: store-ca, key: ca.crt}
`;

/** Secret values the test changes; a lookup of `ca.crt` (the last one a load makes) waits while a gate is set. */
class GatedSource implements SecretSource {
  readonly description = 'the test source';
  values: Record<string, string> = { ACCESS_KEY_ID: 'AKIA1', ACCESS_SECRET_KEY: 'secret-1', 'ca.crt': 'CA' };
  gate: Promise<void> | undefined;
  entered: (() => void) | undefined;

  async lookup(_namespace: string, _name: string, key: string): Promise<LookupResult> {
    const value = this.values[key];
    if (value === undefined) return { found: false, secretExists: false, looked: this.description };
    if (key === 'ca.crt' && this.gate) {
      this.entered?.();
      await this.gate;
    }
    return { found: true, value, origin: this.description };
  }
}

const keys = async (c: ResolvedConfig): Promise<[string | undefined, string | undefined]> => {
  const { env } = await manifestView(c, {});
  return [env.AWS_ACCESS_KEY_ID, env.AWS_SECRET_ACCESS_KEY];
};

test('a change signalled while a load runs (after it read the Secrets) is loaded by another load once it ends', { timeout: 10_000 }, async () => {
  const cfg = path.join(dir, 'cluster.yaml');
  fs.writeFileSync(cfg, CLUSTER);
  const source = new GatedSource();
  const watcher = await ConfigWatcher.start({ configFile: cfg, kubernetes: 'never', env: { HOME: dir }, sources: [source], ttlMs: 0 });
  watcher.on('error', () => undefined);
  try {
    assert.deepEqual(await keys(watcher.current), ['AKIA1', 'secret-1']);

    // Load A reads version 2 and is held before it ends.
    source.values = { ...source.values, ACCESS_KEY_ID: 'AKIA2', ACCESS_SECRET_KEY: 'secret-2' };
    let open!: () => void;
    source.gate = new Promise<void>((resolve) => { open = resolve; });
    const entered = new Promise<void>((resolve) => { source.entered = resolve; });
    const loadA = watcher.reload();
    await entered;

    // Version 3 arrives and is signalled (as the file watch does) while load A runs.
    source.values = { ...source.values, ACCESS_KEY_ID: 'AKIA3', ACCESS_SECRET_KEY: 'secret-3' };
    source.gate = undefined;
    const signalled = watcher.reload();
    const third = new Promise<[ResolvedConfig, number]>((resolve) => {
      watcher.on('change', (c, generation) => { if (generation === 3) resolve([c, generation]); });
    });
    open();

    assert.equal(await loadA, true);
    assert.equal(await signalled, true, 'the signal during a load waits for it');
    assert.equal(watcher.generation, 2);
    // No further signal, no TTL: only the watcher's own second load can bring version 3.
    const [config] = await third;
    assert.deepEqual(await keys(config), ['AKIA3', 'secret-3']);
    assert.deepEqual(await keys(watcher.current), ['AKIA3', 'secret-3']);
  } finally {
    await watcher.close();
  }
});
