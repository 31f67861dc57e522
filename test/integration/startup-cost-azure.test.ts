/**
 * Start-up cost on Azure: an Azure command loads neither the AWS nor the Google SDK; with an account key or a
 * SAS not the Azure SDK either (the lean store), and @azure/identity (the slowest part to import) only when an
 * Entra ID credential is used. Same probe as startup-cost.test.ts:
 * a loader hook records every ESM module resolved, plus the CommonJS require cache at exit.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { binPath } from '../harness/cli.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';
import { requireServer, testEnv } from '../harness/test-env.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';
import { startTokenServer, type TokenServer } from '../harness/servers/azure-token-server.js';

const OTHER_SDKS = /[/\\]@aws-sdk[/\\]|[/\\]@smithy[/\\]|[/\\]@google-cloud[/\\]|[/\\]google-auth-library[/\\]|[/\\]gaxios[/\\]/;
const IDENTITY = /[/\\]@azure[/\\](identity|msal-node)[/\\]/;
/** The blob SDK from node_modules (…/@azure/storage-blob/…) or as the build bundles it (dist/src/vendor/@azure/storage-blob.cjs). */
const BLOB_SDK = /[/\\]@azure[/\\]storage-blob([/\\]|\.cjs$)/;
const BUNDLED_BLOB_SDK = path.join(path.dirname(binPath('pgstow')), '..', '..', 'vendor', '@azure', 'storage-blob.cjs');

let dir: string;
let hookFile: string;
let tokens: TokenServer | undefined;

before(() => {
  dir = makeTempDir('startup-azure');
  const hooks = path.join(dir, 'hooks.mjs');
  fs.writeFileSync(hooks, `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.PGSTOW_LOAD_LOG, r.url + '\\n');
  return r;
}
`);
  hookFile = path.join(dir, 'register.mjs');
  fs.writeFileSync(hookFile, `import { register, createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
register(pathToFileURL(${JSON.stringify(hooks)}));
const require = createRequire(import.meta.url);
process.on('exit', () => { appendFileSync(process.env.PGSTOW_LOAD_LOG, Object.keys(require('node:module')._cache).join('\\n') + '\\n'); });
`);
});
after(async () => { await tokens?.close(); removeDir(dir); });

async function loadedBy(args: string[], env: Record<string, string>): Promise<{ code: number; modules: string[]; out: string }> {
  const log = path.join(dir, `load-${Math.random().toString(36).slice(2)}.log`);
  fs.writeFileSync(log, '');
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(AZURE_|IDENTITY_|MSI_|REQUESTS_CA_BUNDLE)/.test(k)) clean[k] = v;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', hookFile, binPath('pgstow'), ...args], {
      env: { ...clean, ...env, PGSTOW_LOAD_LOG: log }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, modules: fs.readFileSync(log, 'utf8').split('\n').filter(Boolean), out }));
  });
}

describe('start-up cost on Azure', () => {
  it('with an account key: check-store goes through the lean store (drivers/azure-blob/lean-store.ts): no Azure SDK, no @azure/identity, no AWS or Google SDK', async (t) => {
    const az = requireServer(t, 'azurite'); if (!az) return;
    const r = await loadedBy(['check-store', '--cloud-provider', 'azure-blob-storage', `${az.accountUrl}/${TEST_BUCKET}/${uniquePrefix('startup')}`, 'pg1'],
      { AZURE_STORAGE_KEY: az.accountKey });
    assert.equal(r.code, 0, r.out);
    assert.ok(r.modules.some((m) => /azure-blob[/\\]lean-store\.js$/.test(m)), `the probe sees the Azure driver:\n${r.modules.filter((m) => m.includes('azure')).join('\n')}`);
    assert.deepEqual(r.modules.filter((m) => BLOB_SDK.test(m) || OTHER_SDKS.test(m) || IDENTITY.test(m)), []);
  });

  it('with --credential managed-identity: @azure/identity is loaded, still no AWS or Google SDK', async (t) => {
    const az = requireServer(t, 'azuriteOauth'); if (!az) return;
    tokens = await startTokenServer(testEnv().tls);
    const r = await loadedBy(['check-store', '--cloud-provider', 'azure-blob-storage', '--credential', 'managed-identity',
      `${az.accountUrl}/${TEST_BUCKET}/${uniquePrefix('startup')}`, 'pg1'],
    { IDENTITY_ENDPOINT: `${tokens.url}/msi/token`, IDENTITY_HEADER: tokens.identityHeader, REQUESTS_CA_BUNDLE: testEnv().tls.caFile });
    assert.equal(r.code, 0, r.out);
    assert.ok(r.modules.some((m) => IDENTITY.test(m)));
    assert.ok(r.modules.some((m) => BLOB_SDK.test(m)), 'Entra ID credentials use the SDK store');
    // The build bundles the SDK; when it did, that one file is what a command loads, not ~270 from node_modules.
    if (fs.existsSync(BUNDLED_BLOB_SDK)) {
      assert.ok(r.modules.includes(BUNDLED_BLOB_SDK), `the bundled SDK ${BUNDLED_BLOB_SDK} is loaded`);
      assert.deepEqual(r.modules.filter((m) => /[/\\]node_modules[/\\]@azure[/\\]storage-blob[/\\]/.test(m)), [], 'not also the node_modules copy');
    }
    assert.deepEqual(r.modules.filter((m) => OTHER_SDKS.test(m)), []);
  });
});
