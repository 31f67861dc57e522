/** Bad input through the real CLI: one clear line on stderr naming the cause, the right exit code, no stack trace, no secret. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli, type CliResult } from '../harness/cli.js';
import { requireServer } from '../harness/test-env.js';
import { makeTempDir } from '../harness/tmp.js';
import { syntheticSegment } from '../harness/wal-segments.js';

function oneLine(r: CliResult): string {
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${r.stderr}`);
  return lines[0] ?? '';
}

describe('CLI bad input', () => {
  it('a URL that parses to nothing known: exit 3', async () => {
    const r = await runCli('pgstow', ['check-store', 'ftp://host/x', 'pg1']);
    assert.equal(r.code, 3);
    assert.match(oneLine(r), /unsupported destination scheme "ftp:"/);
    const r2 = await runCli('pgstow', ['check-store', 'bucket-without-scheme', 'pg1']);
    assert.equal(r2.code, 3);
    assert.match(oneLine(r2), /is not a URL/);
  });

  it('an unknown provider: exit 3', async () => {
    const r = await runCli('pgstow', ['check-store', '--cloud-provider', 'dropbox', 's3://b/p', 'pg1']);
    assert.equal(r.code, 3);
    assert.match(oneLine(r), /dropbox/);
  });

  it('an S3 URL with an empty bucket: exit 3', async () => {
    const r = await runCli('pgstow', ['check-store', 's3:///prefix', 'pg1']);
    assert.equal(r.code, 3);
    assert.match(oneLine(r), /bucket name is empty/);
  });

  it('only half of the key pair: exit 3 naming the missing variable, secret not printed', async (t) => {
    const s3 = requireServer(t, 's3rver');
    if (!s3) return;
    const secret = 'half-pair-secret-value-123';
    const r = await runCli('pgstow', ['check-store', '--endpoint-url', s3.endpoint, 's3://pgstow-test/x', 'pg1'],
      { env: { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: secret } });
    assert.equal(r.code, 3);
    assert.match(oneLine(r), /AWS_ACCESS_KEY_ID/);
    assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret));
  });

  it('an unreadable --endpoint-ca file: exit 3 naming the file', async () => {
    const r = await runCli('pgstow', ['check-store', '--endpoint-url', 'https://127.0.0.1:1', '--endpoint-ca', '/nonexistent/ca.pem', 's3://b/p', 'pg1'],
      { env: { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'x'.repeat(40) } });
    assert.equal(r.code, 3);
    assert.match(oneLine(r), /\/nonexistent\/ca\.pem/);
  });
});

describe('CLI unreachable store', () => {
  it('check-store on an endpoint nobody listens on: network problem named, exit 2, secret not printed', async () => {
    const secret = 'unreachable-secret-value-456';
    const r = await runCli('pgstow', ['check-store', '--endpoint-url', 'http://127.0.0.1:9', 's3://pgstow-test/x', 'pg1'],
      { env: { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: secret } });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /list\s+FAILED\s+network problem: cannot reach the object store at http:\/\/127\.0\.0\.1:9 \(ECONNREFUSED\)/);
    assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret));
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
});

describe('barman-cloud-wal-archive bad input: one line naming the cause, no stack trace unless --debug', () => {
  const SEGMENT = '000000010000000000000001';
  const walFile = (): string => {
    const file = path.join(makeTempDir('wal-bad-input'), SEGMENT);
    fs.writeFileSync(file, syntheticSegment(SEGMENT));
    return file;
  };
  // Not even a trusted CA from the test environment: the untrusted-certificate case must stay untrusted.
  const noCa = { AWS_CA_BUNDLE: undefined, NODE_EXTRA_CA_CERTS: undefined, REQUESTS_CA_BUNDLE: undefined };
  const noStack = (r: CliResult): void => assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');

  it('a missing bucket the credentials may not create: exit 4 naming the bucket; --debug adds the stack', async (t) => {
    const moto = requireServer(t, 'moto');
    if (!moto?.extra?.noCreateAccessKeyId || !moto.extra.noCreateSecretAccessKey) return;
    const env = { ...noCa, AWS_ACCESS_KEY_ID: moto.extra.noCreateAccessKeyId, AWS_SECRET_ACCESS_KEY: moto.extra.noCreateSecretAccessKey, AWS_DEFAULT_REGION: moto.region };
    // A name no other test uses: check-wal-archive and wal-archive create missing buckets where credentials allow.
    const bucket = `pgstow-no-such-bucket-${Date.now().toString(36)}`;
    const args = ['--cloud-provider', 'aws-s3', '--endpoint-url', moto.endpoint, `s3://${bucket}/p`, 'srv', walFile()];
    const r = await runCli('barman-cloud-wal-archive', args, { env });
    assert.equal(r.code, 4, r.stderr);
    assert.ok(oneLine(r).includes(bucket), r.stderr);
    assert.match(r.stderr, /bucket/i);
    noStack(r);
    assert.ok(!r.stderr.includes(env.AWS_SECRET_ACCESS_KEY));
    const d = await runCli('barman-cloud-wal-archive', ['--debug', ...args], { env });
    assert.equal(d.code, 4, d.stderr);
    assert.ok(d.stderr.includes(bucket), d.stderr);
    assert.match(d.stderr, /^\s+at .*\.js:\d+/m, `--debug prints a stack:\n${d.stderr}`);
    assert.ok(!d.stderr.includes(env.AWS_SECRET_ACCESS_KEY), 'no secret even with --debug');
  });

  it('a wrong secret: exit 4 naming the credentials, the secret never printed', async (t) => {
    const moto = requireServer(t, 'moto');
    if (!moto) return;
    const wrong = 'wrongWRONGwrongWRONGwrongWRONGwrong1111';
    const r = await runCli('barman-cloud-wal-archive', ['--cloud-provider', 'aws-s3', '--endpoint-url', moto.endpoint, 's3://pgstow-test/bad-secret', 'srv', walFile()],
      { env: { ...noCa, AWS_ACCESS_KEY_ID: moto.accessKeyId, AWS_SECRET_ACCESS_KEY: wrong, AWS_DEFAULT_REGION: moto.region } });
    assert.equal(r.code, 4, r.stderr);
    assert.match(oneLine(r), /credentials/i);
    noStack(r);
    assert.ok(!r.stderr.includes(wrong) && !r.stdout.includes(wrong));
  });

  it('an HTTPS endpoint whose CA is not given: exit 2 naming the endpoint and the certificate', async (t) => {
    const tls = requireServer(t, 's3rverTls');
    if (!tls) return;
    const r = await runCli('barman-cloud-wal-archive', ['--cloud-provider', 'aws-s3', '--endpoint-url', tls.endpoint, 's3://pgstow-test/no-ca', 'srv', walFile()],
      { env: { ...noCa, AWS_ACCESS_KEY_ID: tls.accessKeyId, AWS_SECRET_ACCESS_KEY: tls.secretAccessKey, AWS_DEFAULT_REGION: tls.region } });
    assert.equal(r.code, 2, r.stderr);
    const line = oneLine(r);
    assert.ok(line.includes(tls.endpoint.replace(/\/$/, '')), `names the endpoint ${tls.endpoint}: ${line}`);
    assert.match(line, /certificate|TLS/i);
    noStack(r);
  });
});
