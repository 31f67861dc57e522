/** Bad input through the real CLI: one clear line on stderr naming the cause, the right exit code, no stack trace, no secret. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, type CliResult } from '../harness/cli.js';
import { requireServer } from '../harness/test-env.js';

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
