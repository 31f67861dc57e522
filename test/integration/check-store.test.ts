/**
 * `pgstow check-store` through the real CLI on real servers: what works says OK, what fails says why, and
 * the exit code tells a script whether archiving and backups can work. Secrets never appear in the output.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { runCli, type CliResult } from '../harness/cli.js';
import { requireServer, testEnv } from '../harness/test-env.js';
import { storeTarget, TEST_BUCKET, uniquePrefix } from '../harness/stores.js';

function assertNoSecret(r: CliResult, ...secrets: string[]): void {
  for (const s of secrets) {
    assert.ok(!r.stdout.includes(s), 'secret in stdout');
    assert.ok(!r.stderr.includes(s), 'secret in stderr');
  }
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

function stepLine(r: CliResult, step: string): string {
  return r.stdout.split('\n').find((l) => l.trimStart().startsWith(`${step} `)) ?? '';
}

describe('pgstow check-store', () => {
  for (const kind of ['fs', 'moto', 's3rver'] as const) {
    it(`${kind}: every step OK, exit 0, temporary key removed`, async (t) => {
      const target = storeTarget(t, kind, 'check-store');
      if (!target) return;
      const r = await runCli('pgstow', ['check-store', ...target.args, target.url, 'pg1'], { env: target.env });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      for (const step of ['list', 'put', 'get', 'delete']) assert.match(stepLine(r, step), /\bOK\b/, step);
      assert.match(r.stdout, /WAL archiving and backups can work/);
      assertNoSecret(r, ...Object.entries(target.env).filter(([k]) => /SECRET/.test(k)).map(([, v]) => v));
    });
  }

  it('moto, prefix-limited IAM user: OK inside its prefix, permission denied outside (exit 1)', async (t) => {
    const moto = requireServer(t, 'moto');
    if (!moto?.extra) return;
    const env = { AWS_ACCESS_KEY_ID: moto.extra.limitedAccessKeyId, AWS_SECRET_ACCESS_KEY: moto.extra.limitedSecretAccessKey, AWS_DEFAULT_REGION: moto.region };
    const args = ['--cloud-provider', 'aws-s3', '--endpoint-url', moto.endpoint];
    const inside = await runCli('pgstow', ['check-store', ...args, `s3://${TEST_BUCKET}/${moto.extra.limitedPrefix}/${uniquePrefix('cs')}`, 'pg1'], { env });
    assert.equal(inside.code, 0, inside.stdout + inside.stderr);
    const outside = await runCli('pgstow', ['check-store', ...args, `s3://${TEST_BUCKET}/${uniquePrefix('elsewhere')}`, 'pg1'], { env });
    assert.equal(outside.code, 1, outside.stdout + outside.stderr);
    assert.match(stepLine(outside, 'list'), /OK/);
    assert.match(stepLine(outside, 'put'), /FAILED\s+permission denied.*access denied: put on s3:\/\/pgstow-test\/elsewhere-[0-9a-f]+\/pg1\/\.pgstow-check-/);
    assert.match(stepLine(outside, 'get'), /SKIPPED/);
    assert.match(outside.stdout, /will NOT work: put failed/);
    assertNoSecret(outside, env.AWS_SECRET_ACCESS_KEY ?? '');
  });

  it('moto, wrong secret: credentials rejected, exit 1, secret never printed', async (t) => {
    const target = storeTarget(t, 'moto', 'check-store');
    if (!target) return;
    const wrong = randomBytes(30).toString('base64');
    const r = await runCli('pgstow', ['check-store', ...target.args, target.url, 'pg1'], { env: { ...target.env, AWS_SECRET_ACCESS_KEY: wrong } });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(stepLine(r, 'list'), /FAILED\s+credentials rejected: invalid credentials: the secret access key does not match access key/);
    assertNoSecret(r, wrong);
  });

  it('s3rver over HTTPS without the CA: TLS problem naming the endpoint, exit 2; with --endpoint-ca: exit 0', async (t) => {
    const info = requireServer(t, 's3rverTls');
    if (!info) return;
    const env = { AWS_ACCESS_KEY_ID: info.accessKeyId, AWS_SECRET_ACCESS_KEY: info.secretAccessKey, AWS_DEFAULT_REGION: info.region };
    const url = `s3://${TEST_BUCKET}/${uniquePrefix('cs-tls')}`;
    const args = ['--cloud-provider', 'aws-s3', '--endpoint-url', info.endpoint];
    const r = await runCli('pgstow', ['check-store', ...args, url, 'pg1'], { env });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(stepLine(r, 'list'), new RegExp(`FAILED\\s+TLS problem: TLS failure talking to ${info.endpoint.replace(/\./g, '\\.')}`));
    assertNoSecret(r, info.secretAccessKey);
    const ok = await runCli('pgstow', ['check-store', ...args, '--endpoint-ca', testEnv().tls.caFile, url, 'pg1'], { env });
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const viaEnv = await runCli('pgstow', ['check-store', ...args, url, 'pg1'], { env: { ...env, AWS_CA_BUNDLE: testEnv().tls.caFile } });
    assert.equal(viaEnv.code, 0, viaEnv.stdout + viaEnv.stderr);
  });

  it('s3rver, missing bucket: says the bucket is missing, exit 1', async (t) => {
    const target = storeTarget(t, 's3rver', 'check-store');
    if (!target) return;
    const r = await runCli('pgstow', ['check-store', ...target.args, 's3://pgstow-no-such-bucket/x', 'pg1'], { env: target.env });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(stepLine(r, 'list'), /FAILED\s+bucket or container missing: bucket does not exist: pgstow-no-such-bucket/);
  });
});
