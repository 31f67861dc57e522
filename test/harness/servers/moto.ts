/**
 * moto_server (moto 5.x, Python) as the strict S3 peer: real SigV4 checks and IAM policies. Started via
 * test/servers/moto-server.py (fixes moto's canonical query string) on the venv's Python that scripts/setup.mjs
 * installs moto into (PGSTOW_MOTO_PYTHON picks another interpreter).
 * It starts with INITIAL_NO_AUTH_ACTION_COUNT=N: the first N IAM actions are let through unauthenticated,
 * which the harness spends on creating users, access keys, policies and the IRSA role; from then on every
 * request is authenticated and authorised. The harness then proves it (unknown key and wrong secret → 403)
 * and fails loudly if not, so no test can pass against an open server.
 *
 * servers.moto.extra: limited user (only <TEST_BUCKET>/limited/*), a user that may do everything but create buckets
 * (noCreate…), role ARN for web identity, STS endpoint.
 */
import { randomBytes } from 'node:crypto';
import { S3Client, CreateBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { GlobalServerStarter } from '../global-setup.js';
import type { S3ServerInfo } from '../test-env.js';
import { TEST_BUCKET } from '../stores.js';
import * as path from 'node:path';
import { SERVERS_DIR } from '../postgres.js';
import { startProcess } from './process.js';
import { INSTALL_HINT, PEER_PYTHON } from '../peers.js';

export const MOTO_LIMITED_PREFIX = 'limited';
const REGION = 'us-east-1';
/** IAM actions the setup sends before authentication switches on (must match setup() exactly). */
const SETUP_ACTIONS = 11;

interface Keys { accessKeyId: string; secretAccessKey: string }

/** An IAM query call during the unauthenticated window. The fake scope tells moto which service it is for. */
async function iam(endpoint: string, params: Record<string, string>): Promise<string> {
  const res = await fetch(`${endpoint}/`, {
    method: 'POST',
    body: new URLSearchParams({ Version: '2010-05-08', ...params }).toString(),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: 'AWS4-HMAC-SHA256 Credential=AKIAHARNESSSETUP/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0',
    },
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`moto IAM ${params.Action} failed: HTTP ${res.status} ${text.slice(0, 300)}`);
  return text;
}

function tag(xml: string, name: string): string {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  if (!m?.[1]) throw new Error(`moto answer has no <${name}>: ${xml.slice(0, 300)}`);
  return m[1];
}

async function userWithPolicy(endpoint: string, name: string, policy: object): Promise<Keys> {
  await iam(endpoint, { Action: 'CreateUser', UserName: name });
  const key = await iam(endpoint, { Action: 'CreateAccessKey', UserName: name });
  await iam(endpoint, { Action: 'PutUserPolicy', UserName: name, PolicyName: `${name}-policy`, PolicyDocument: JSON.stringify(policy) });
  return { accessKeyId: tag(key, 'AccessKeyId'), secretAccessKey: tag(key, 'SecretAccessKey') };
}

function s3(endpoint: string, keys: Keys): S3Client {
  return new S3Client({ region: REGION, endpoint, forcePathStyle: true, credentials: keys, maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
}

async function expectRefused(client: S3Client, code: string): Promise<void> {
  try {
    await client.send(new ListObjectsV2Command({ Bucket: TEST_BUCKET, MaxKeys: 1 }));
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.$metadata?.httpStatusCode === 403 && e.name === code) return;
    throw new Error(`moto authentication check: expected 403 ${code}, got ${e.name} ${e.$metadata?.httpStatusCode}`, { cause: err });
  } finally {
    client.destroy();
  }
  throw new Error(`moto authentication is NOT on: a request with ${code === 'InvalidAccessKeyId' ? 'an unknown key' : 'a wrong secret'} was accepted`);
}

export const startMoto: GlobalServerStarter = async () => {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  let proc;
  try {
    // Through test/servers/moto-server.py: moto_server plus a fix for its SigV4 query canonicalisation.
    proc = await startProcess(process.env.PGSTOW_MOTO_PYTHON ?? PEER_PYTHON, [path.join(SERVERS_DIR, 'moto-server.py'), '-H', '127.0.0.1', '-p', '0'], /Running on (http:\/\/127\.0\.0\.1:\d+)/, {
      name: 'moto_server', timeoutMs: 60_000,
      env: { ...process.env, INITIAL_NO_AUTH_ACTION_COUNT: String(SETUP_ACTIONS), MOTO_ALLOW_NONEXISTENT_REGION: 'true' },
    });
  } catch (err) {
    throw new Error(`moto_server is not usable on this machine (${INSTALL_HINT}): ${(err as Error).message}`, { cause: err });
  }
  const endpoint = proc.match[1] ?? '';
  try {
    const full = await userWithPolicy(endpoint, 'pgstow-full', {
      Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:*', 'sts:*'], Resource: '*' }],
    });
    const limited = await userWithPolicy(endpoint, 'pgstow-limited', {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
          Resource: `arn:aws:s3:::${TEST_BUCKET}/${MOTO_LIMITED_PREFIX}/*` },
        // moto authorises a whole DeleteObjects request as s3:DeleteObject on the bucket ARN before its per-key
        // check; on AWS this statement grants nothing (DeleteObject applies to object ARNs only).
        { Effect: 'Allow', Action: ['s3:ListBucket', 's3:DeleteObject'], Resource: `arn:aws:s3:::${TEST_BUCKET}` },
      ],
    });
    // Everything but creating buckets: a new cluster's destination must exist beforehand.
    const noCreate = await userWithPolicy(endpoint, 'pgstow-nocreate', {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }, { Effect: 'Deny', Action: 's3:CreateBucket', Resource: '*' }],
    });
    const role = await iam(endpoint, {
      Action: 'CreateRole', RoleName: 'pgstow-irsa',
      AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow',
        Principal: { Federated: 'arn:aws:iam::123456789012:oidc-provider/oidc.eks.example.com/id/TEST' },
        Action: 'sts:AssumeRoleWithWebIdentity' }] }),
    });
    await iam(endpoint, { Action: 'PutRolePolicy', RoleName: 'pgstow-irsa', PolicyName: 'pgstow-irsa-s3',
      PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] }) });
    // Belt and braces: whatever the count, authentication is on from here.
    const reset = await fetch(`${endpoint}/moto-api/reset-auth`, { method: 'POST', body: '0' });
    if (reset.status !== 200) throw new Error(`moto reset-auth failed: HTTP ${reset.status}`);

    const admin = s3(endpoint, full);
    try { await admin.send(new CreateBucketCommand({ Bucket: TEST_BUCKET })); } finally { admin.destroy(); }
    await expectRefused(s3(endpoint, { accessKeyId: 'AKIAUNKNOWNKEY000000', secretAccessKey: 'x'.repeat(40) }), 'InvalidAccessKeyId');
    await expectRefused(s3(endpoint, { accessKeyId: full.accessKeyId, secretAccessKey: randomBytes(30).toString('base64') }), 'SignatureDoesNotMatch');

    const info: S3ServerInfo = {
      endpoint, region: REGION, ...full,
      extra: {
        limitedAccessKeyId: limited.accessKeyId,
        limitedSecretAccessKey: limited.secretAccessKey,
        limitedPrefix: MOTO_LIMITED_PREFIX,
        noCreateAccessKeyId: noCreate.accessKeyId,
        noCreateSecretAccessKey: noCreate.secretAccessKey,
        roleArn: tag(role, 'Arn'),
        stsEndpoint: endpoint,
      },
    };
    return { servers: { moto: info }, stop: () => proc.stop() };
  } catch (err) {
    await proc.stop();
    throw new Error(`moto_server started but its setup failed: ${(err as Error).message}\n${proc.output().slice(-2000)}`, { cause: err });
  }
};
