/**
 * S3 credentials from every source CloudNativePG users rely on, through the real CLI against moto (IAM on):
 * a named profile (-P), container credentials (EKS Pod Identity / ECS: AWS_CONTAINER_CREDENTIALS_FULL_URI
 * + authorization token file) and instance metadata (IMDSv2 at AWS_EC2_METADATA_SERVICE_ENDPOINT).
 * The credential servers are small local HTTP servers speaking the documented protocols.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { runCli } from '../harness/cli.js';
import { requireServer, type S3ServerInfo } from '../harness/test-env.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';

/** Nothing from the test runner's own environment may supply credentials. */
function cleanEnv(dir: string): Record<string, string | undefined> {
  return {
    AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined, AWS_PROFILE: undefined,
    AWS_ROLE_ARN: undefined, AWS_WEB_IDENTITY_TOKEN_FILE: undefined, AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined, AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'no-credentials'), AWS_CONFIG_FILE: path.join(dir, 'no-config'),
    AWS_DEFAULT_REGION: 'us-east-1',
  };
}

async function serve(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void>; hits: string[] }> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => { hits.push(`${req.method} ${req.url}`); handler(req, res); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, hits, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

interface SessionCredentials { accessKeyId: string; secretAccessKey: string; sessionToken: string }

/** Real temporary credentials from moto's STS (what a container or instance credential endpoint hands out). */
async function sessionCredentials(moto: S3ServerInfo): Promise<SessionCredentials> {
  const res = await fetch(`${moto.extra?.stsEndpoint}/`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ Action: 'AssumeRoleWithWebIdentity', Version: '2011-06-15', RoleArn: moto.extra?.roleArn ?? '',
      RoleSessionName: 'pgstow-test', WebIdentityToken: 'header.payload.signature' }).toString(),
  });
  const xml = await res.text();
  const tag = (n: string): string => new RegExp(`<${n}>([^<]*)</${n}>`).exec(xml)?.[1] ?? '';
  assert.equal(res.status, 200, xml);
  return { accessKeyId: tag('AccessKeyId'), secretAccessKey: tag('SecretAccessKey'), sessionToken: tag('SessionToken') };
}

function credentialJson(c: SessionCredentials): string {
  return JSON.stringify({ AccessKeyId: c.accessKeyId, SecretAccessKey: c.secretAccessKey, Token: c.sessionToken,
    Expiration: new Date(Date.now() + 3600_000).toISOString(), Code: 'Success', Type: 'AWS-HMAC', LastUpdated: new Date().toISOString() });
}

describe('S3 credential sources (CLI, moto with IAM)', () => {
  let dir: string;
  before(() => { dir = makeTempDir('s3-creds'); });
  after(() => removeDir(dir));

  async function check(moto: S3ServerInfo, env: Record<string, string | undefined>, extra: string[] = []): Promise<{ code: number; out: string }> {
    const r = await runCli('pgstow', ['check-store', '--endpoint-url', moto.endpoint, ...extra, `s3://${TEST_BUCKET}/${uniquePrefix('creds')}`, 'pg1'],
      { env: { ...cleanEnv(dir), ...env } });
    assert.ok(!r.stdout.includes(moto.secretAccessKey) && !r.stderr.includes(moto.secretAccessKey), 'secret printed');
    return { code: r.code, out: r.stdout + r.stderr };
  }

  it('named profile with -P from the shared credentials file', async (t) => {
    const moto = requireServer(t, 'moto');
    if (!moto) return;
    const file = path.join(dir, 'credentials');
    fs.writeFileSync(file, `[default]\naws_access_key_id = AKIAWRONGDEFAULT0000\naws_secret_access_key = wrong\n\n[pgstow]\naws_access_key_id = ${moto.accessKeyId}\naws_secret_access_key = ${moto.secretAccessKey}\n`);
    const r = await check(moto, { AWS_SHARED_CREDENTIALS_FILE: file }, ['-P', 'pgstow']);
    assert.equal(r.code, 0, r.out);
    const missing = await check(moto, { AWS_SHARED_CREDENTIALS_FILE: file }, ['-P', 'no-such-profile']);
    assert.equal(missing.code, 1, missing.out);
    assert.match(missing.out, /no usable AWS credentials/);
  });

  it('container credentials (EKS Pod Identity / ECS) with an authorization token file', async (t) => {
    const moto = requireServer(t, 'moto');
    if (!moto) return;
    const token = 'pod-identity-token-value';
    const tokenFile = path.join(dir, 'eks-pod-identity-token');
    fs.writeFileSync(tokenFile, token);
    const creds = await sessionCredentials(moto);
    const srv = await serve((req, res) => {
      if (req.headers.authorization !== token) { res.writeHead(401).end(); return; }
      res.writeHead(200, { 'content-type': 'application/json' }).end(credentialJson(creds));
    });
    try {
      const r = await check(moto, { AWS_CONTAINER_CREDENTIALS_FULL_URI: `${srv.url}/v1/credentials`, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile });
      assert.equal(r.code, 0, r.out);
      assert.ok(srv.hits.length >= 1, 'credentials were fetched from the container endpoint');
      assert.ok(!r.out.includes(token), 'authorization token printed');
    } finally { await srv.close(); }
  });

  it('instance metadata (IMDSv2)', async (t) => {
    const moto = requireServer(t, 'moto');
    if (!moto) return;
    const creds = await sessionCredentials(moto);
    const srv = await serve((req, res) => {
      if (req.method === 'PUT' && req.url === '/latest/api/token') { res.writeHead(200).end('imds-session-token'); return; }
      if (req.headers['x-aws-ec2-metadata-token'] !== 'imds-session-token') { res.writeHead(401).end(); return; }
      if (req.url === '/latest/meta-data/iam/security-credentials/') { res.writeHead(200).end('pgstow-node-role'); return; }
      if (req.url === '/latest/meta-data/iam/security-credentials/pgstow-node-role') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(credentialJson(creds));
        return;
      }
      res.writeHead(404).end();
    });
    try {
      const r = await check(moto, { AWS_EC2_METADATA_DISABLED: undefined, AWS_EC2_METADATA_SERVICE_ENDPOINT: srv.url });
      assert.equal(r.code, 0, r.out);
      assert.ok(srv.hits.some((h) => h.startsWith('PUT /latest/api/token')), 'IMDSv2 session token used');
    } finally { await srv.close(); }
  });

  it('no credentials anywhere: one clear failure naming the ways to provide them, exit 1', async (t) => {
    const moto = requireServer(t, 'moto');
    if (!moto) return;
    const r = await check(moto, {});
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /no usable AWS credentials .*AWS_ACCESS_KEY_ID/);
  });
});
