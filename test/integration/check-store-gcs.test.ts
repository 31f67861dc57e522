/**
 * `pgstow check-store` on Google Cloud Storage through the real CLI, with each credential method (a
 * service-account key, the metadata server for GKE workload identity, no credentials for an emulator) and the
 * misconfigurations a DBA meets: exit code, the reason in words, no key material printed. Also HTTPS with a
 * private CA (--endpoint-ca).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli, type CliResult } from '../harness/cli.js';
import { requireServer, testEnv } from '../harness/test-env.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';
import { startGcsEmulator, type GcsEmulator } from '../harness/servers/gcs.js';
import { writeServiceAccountKey } from '../drivers/gcs-helpers.js';

const GS = ['--cloud-provider', 'google-cloud-storage'];
const TOKEN = 'pgstow-cli-token';
/** No Google settings leak in from the environment running the tests. */
const CLEAN: Record<string, undefined> = {
  GOOGLE_APPLICATION_CREDENTIALS: undefined, STORAGE_EMULATOR_HOST: undefined, GCE_METADATA_HOST: undefined,
  GOOGLE_CLOUD_PROJECT: undefined, GCLOUD_PROJECT: undefined,
};

function line(r: CliResult, step: string): string {
  return r.stdout.split('\n').find((l) => l.trimStart().startsWith(`${step} `)) ?? '';
}
function allOk(r: CliResult): void {
  assert.equal(r.code, 0, r.stdout + r.stderr);
  for (const step of ['list', 'put', 'get', 'delete']) assert.match(line(r, step), /\bOK\b/, step);
}
function assertClean(r: CliResult, ...secrets: string[]): void {
  for (const s of secrets) assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s), 'secret printed');
  assert.doesNotMatch(r.stdout + r.stderr, /PRIVATE KEY/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

describe('pgstow check-store on GCS', () => {
  let em: GcsEmulator | undefined;
  let dir = '';
  let keyFile = '';
  before(async () => {
    if (!requireServer(undefined, 'gcs')) return;
    dir = makeTempDir('gcs-cli');
    keyFile = path.join(dir, 'sa.json');
    em = await startGcsEmulator({ requireToken: TOKEN, saKeyFile: keyFile });
    fs.renameSync(writeServiceAccountKey(dir, 'pgstow-cli', `${em.endpoint}/oauth2/token`), keyFile);
  });
  after(async () => { await em?.stop(); if (dir) removeDir(dir); });

  const url = (): string => `gs://${TEST_BUCKET}/${uniquePrefix('cli')}`;
  const check = (env: Record<string, string | undefined>, extra: string[] = []): Promise<CliResult> =>
    runCli('pgstow', ['check-store', ...GS, ...extra, url(), 'pg1'], { env: { ...CLEAN, ...env } });

  it('service-account key (GOOGLE_APPLICATION_CREDENTIALS) with --endpoint-url: every step OK, exit 0', async (t) => {
    if (!em) { t.skip('gcs not available'); return; }
    const r = await check({ GOOGLE_APPLICATION_CREDENTIALS: keyFile }, ['--endpoint-url', em.endpoint]);
    allOk(r);
    assert.match(r.stdout, /credential: service_account credentials .*sa\.json \(pgstow-cli@pgstow-test\.iam\.gserviceaccount\.com\)/);
    assertClean(r, TOKEN);
  });

  it('GKE workload identity (metadata server, no key file): every step OK, exit 0', async (t) => {
    if (!em) { t.skip('gcs not available'); return; }
    const r = await check({ GCE_METADATA_HOST: em.metadataHost }, ['--endpoint-url', em.endpoint]);
    allOk(r);
    assert.match(r.stdout, /credential: Application Default Credentials/);
    assertClean(r, TOKEN);
  });

  it('emulator through STORAGE_EMULATOR_HOST, no credentials: every step OK, exit 0', async (t) => {
    const gcs = requireServer(t, 'gcs');
    if (!gcs) return;
    allOk(await check({ STORAGE_EMULATOR_HOST: gcs.endpoint }));
  });

  it('no credentials where they are required: exit 1, "credentials rejected"', async (t) => {
    if (!em) { t.skip('gcs not available'); return; }
    const r = await check({ STORAGE_EMULATOR_HOST: em.endpoint });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(line(r, 'put'), /FAILED\s+credentials rejected/);
  });

  it('an empty key file: exit 3, the message names the file and the GKE fix', async (t) => {
    if (!em) { t.skip('gcs not available'); return; }
    const empty = path.join(dir, 'empty.json');
    fs.writeFileSync(empty, '');
    const r = await check({ GOOGLE_APPLICATION_CREDENTIALS: empty }, ['--endpoint-url', em.endpoint]);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stderr, /empty\.json is empty/);
    assert.match(r.stderr, /gkeEnvironment/);
    assertClean(r);
  });

  it('HTTPS with a private CA: untrusted → exit 2 "TLS problem"; with --endpoint-ca → exit 0', async (t) => {
    if (!em) { t.skip('gcs not available'); return; }
    const tls = testEnv().tls;
    const secure = await startGcsEmulator({ tls: { certFile: tls.certFile, keyFile: tls.keyFile } });
    try {
      const bad = await check({ STORAGE_EMULATOR_HOST: secure.endpoint });
      assert.equal(bad.code, 2, bad.stdout + bad.stderr);
      assert.match(line(bad, 'list'), /FAILED\s+TLS problem: .*127\.0\.0\.1/);
      allOk(await check({ STORAGE_EMULATOR_HOST: secure.endpoint }, ['--endpoint-ca', tls.caFile]));
    } finally {
      await secure.stop();
    }
  });

  it('an unreachable endpoint: exit 2, "network problem"', async (t) => {
    if (!em) { t.skip('gcs not available'); return; }
    const r = await check({ GOOGLE_APPLICATION_CREDENTIALS: keyFile }, ['--endpoint-url', 'http://127.0.0.1:9']);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assertClean(r);
  });
});
