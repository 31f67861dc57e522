/**
 * The Google SDK is loaded only by the GCS driver: opening a filesystem store (or starting the CLI) leaves it
 * unloaded; opening a GCS store loads it. Checked in a fresh process through the CommonJS module cache,
 * where @google-cloud/storage and google-auth-library land when imported.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { REPO_ROOT } from '../harness/postgres.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';

it('the Google SDK is imported only when a GCS store is opened', () => {
  const dir = makeTempDir('gcs-lazy');
  const registry = path.join(REPO_ROOT, 'dist', 'src', 'storage', 'registry.js');
  const script = `
    import { createRequire } from 'node:module';
    const { openStore } = await import(${JSON.stringify(registry)});
    const loaded = () => Object.keys(createRequire(import.meta.url).cache).filter((k) => /google-cloud|google-auth-library|gaxios/.test(k)).length;
    const fsStore = await openStore({ provider: 'file', destinationUrl: 'file://${dir}', env: {} });
    const afterFs = loaded();
    await fsStore.store.close();
    await openStore({ provider: 'google-cloud-storage', destinationUrl: 'gs://b/p', env: { STORAGE_EMULATOR_HOST: 'http://127.0.0.1:9' } });
    console.log(JSON.stringify({ afterFs, afterGcs: loaded() }));`;
  try {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    const { afterFs, afterGcs } = JSON.parse(out.trim()) as { afterFs: number; afterGcs: number };
    assert.equal(afterFs, 0, 'no Google module is loaded for a filesystem store');
    assert.ok(afterGcs > 0, 'the check sees the SDK once a GCS store is opened');
  } finally {
    removeDir(dir);
  }
});
