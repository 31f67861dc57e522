/**
 * The Google SDK is loaded only by the GCS driver, and there only when a request needs it: opening a filesystem
 * store (or starting the CLI) leaves it unloaded, so does opening a GCS store (its common requests go out on
 * node:http, lean-reads.ts); a request the lean path does not take (here: a refused connection) loads it, and the
 * SDK's error is the one reported. Checked in a fresh process through the CommonJS module cache, where
 * @google-cloud/storage and google-auth-library land when imported.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { REPO_ROOT } from '../harness/postgres.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';

it('the Google SDK is imported only when a GCS request needs it, not when a GCS store is opened', () => {
  const dir = makeTempDir('gcs-lazy');
  const registry = path.join(REPO_ROOT, 'dist', 'src', 'storage', 'registry.js');
  const script = `
    import { createRequire } from 'node:module';
    const { openStore } = await import(${JSON.stringify(registry)});
    const loaded = () => Object.keys(createRequire(import.meta.url).cache).filter((k) => /google-cloud|google-auth-library|gaxios/.test(k)).length;
    const fsStore = await openStore({ provider: 'file', destinationUrl: 'file://${dir}', env: {} });
    const afterFs = loaded();
    await fsStore.store.close();
    const gcs = await openStore({ provider: 'google-cloud-storage', destinationUrl: 'gs://b/p', endpointUrl: 'http://127.0.0.1:9', gcs: { emulator: true }, credentials: { kind: 'gcs-anonymous' }, readTimeoutSeconds: 5 });
    const afterGcs = loaded();
    const failed = await gcs.store.stat('p/x').then(() => 'no error', (err) => err.code);
    console.log(JSON.stringify({ afterFs, afterGcs, afterRequest: loaded(), failed }));`;
  try {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    const { afterFs, afterGcs, afterRequest, failed } = JSON.parse(out.trim()) as { afterFs: number; afterGcs: number; afterRequest: number; failed: string };
    assert.equal(afterFs, 0, 'no Google module is loaded for a filesystem store');
    assert.equal(afterGcs, 0, 'opening a GCS store loads no Google module');
    assert.ok(afterRequest > 0, 'a request the lean path could not complete went through the SDK (the check sees it)');
    assert.equal(failed, 'ERR_STORAGE_UNAVAILABLE', 'and failed as the SDK path does (the store cannot be reached)');
  } finally {
    removeDir(dir);
  }
});
