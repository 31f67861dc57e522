/**
 * What a DBA sees when S3 is misconfigured: each failure is a typed error with the right exit code and a
 * message naming the cause (endpoint, key, operation, credential). Real servers only (moto with IAM, s3rver).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as net from 'node:net';
import { S3Client, ListMultipartUploadsCommand, GetObjectTaggingCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import {
  AccessDeniedError, BucketNotFoundError, InvalidCredentialsError, StorageUnavailableError, TlsError,
} from '../../src/storage/errors.js';
import { ExitCode } from '../../src/errors.js';
import { readAll } from '../../src/storage/object-store-helpers.js';
import { requireServer } from '../harness/test-env.js';
import { TEST_BUCKET } from '../harness/stores.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';
import type { S3ServerInfo } from '../harness/test-env.js';
import { openS3, s3Env } from './s3-helpers.js';

function sdk(info: S3ServerInfo): S3Client {
  return new S3Client({ region: info.region, endpoint: info.endpoint, forcePathStyle: true,
    credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
}

describe('S3 errors on real servers', () => {
  it('HTTPS without the CA: TlsError naming the endpoint, exit 2', async (t) => {
    const info = requireServer(t, 's3rverTls');
    if (!info) return;
    const { store, prefix } = await openS3(info);
    try {
      const err = await store.put(`${prefix}/x`, Buffer.from('x')).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof TlsError, `got ${String(err)}`);
      assert.equal(err.exitCode, ExitCode.NETWORK);
      assert.ok(err.message.includes(info.endpoint), err.message);
      assert.match(err.message, /CA|certificate/);
    } finally { await store.close(); }
  });

  it('moto: wrong secret and unknown key give InvalidCredentialsError (exit 1), secret not in the message', async (t) => {
    const info = requireServer(t, 'moto');
    if (!info) return;
    const wrong = randomBytes(30).toString('base64');
    for (const env of <Array<Record<string, string>>>[
      { ...s3Env(info), AWS_SECRET_ACCESS_KEY: wrong },
      { ...s3Env(info), AWS_ACCESS_KEY_ID: 'AKIANOSUCHKEY0000000', AWS_SECRET_ACCESS_KEY: wrong },
    ]) {
      const { store, prefix } = await openS3(info, { env });
      try {
        const err = await store.put(`${prefix}/x`, Buffer.from('x')).then(() => undefined, (e: unknown) => e);
        assert.ok(err instanceof InvalidCredentialsError, `got ${String(err)}`);
        assert.equal(err.exitCode, ExitCode.OPERATION);
        assert.ok(err.message.includes(env.AWS_ACCESS_KEY_ID ?? "?"), err.message);
        assert.ok(!err.message.includes(wrong));
      } finally { await store.close(); }
    }
  });

  it('moto: an operation the IAM policy denies gives AccessDeniedError naming the operation and key', async (t) => {
    const info = requireServer(t, 'moto');
    if (!info?.extra) return;
    const env = { ...s3Env(info), AWS_ACCESS_KEY_ID: info.extra.limitedAccessKeyId, AWS_SECRET_ACCESS_KEY: info.extra.limitedSecretAccessKey };
    // Allowed below the limited prefix…
    const ok = await openS3(info, { env, prefix: `${info.extra.limitedPrefix}/denied-test` });
    await ok.store.put(`${ok.prefix}/allowed`, Buffer.from('ok'));
    assert.equal((await readAll(ok.store, `${ok.prefix}/allowed`)).toString(), 'ok');
    await ok.store.delete([`${ok.prefix}/allowed`]);
    await ok.store.close();
    // …denied elsewhere.
    const { store, prefix } = await openS3(info, { env, prefix: 'outside-policy' });
    try {
      const err = await store.put(`${prefix}/wal`, Buffer.from('x')).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof AccessDeniedError, `got ${String(err)}`);
      assert.equal(err.exitCode, ExitCode.OPERATION);
      assert.match(err.message, /access denied: put on s3:\/\/pgstow-test\/outside-policy\/wal/);
      const getErr = await store.get(`${prefix}/wal`).then(() => undefined, (e: unknown) => e);
      assert.ok(getErr instanceof AccessDeniedError);
      assert.match(getErr.message, /get on s3:\/\/pgstow-test\/outside-policy\/wal/);
    } finally { await store.close(); }
  });

  for (const server of ['moto', 's3rver'] as const) {
    it(`${server}: a missing bucket gives BucketNotFoundError (exit 1) for put, get and stat`, async (t) => {
      const info = requireServer(t, server);
      if (!info) return;
      const { store } = await openS3(info, { bucket: 'pgstow-no-such-bucket', prefix: 'p' });
      try {
        for (const op of [() => store.put('p/x', Buffer.from('x')), () => store.get('p/x'), () => store.stat('p/x')]) {
          const err = await op().then(() => undefined, (e: unknown) => e);
          assert.ok(err instanceof BucketNotFoundError, `got ${String(err)}`);
          assert.equal(err.exitCode, ExitCode.OPERATION);
          assert.match(err.message, /pgstow-no-such-bucket/);
        }
      } finally { await store.close(); }
    });
  }

  it('unreachable endpoint: StorageUnavailableError, exit 2, retryable', async (t) => {
    const info = requireServer(t, 's3rver');
    if (!info) return;
    const { store, prefix } = await openS3(info, { endpoint: 'http://127.0.0.1:9' });
    try {
      const err = await store.put(`${prefix}/x`, Buffer.from('x')).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof StorageUnavailableError, `got ${String(err)}`);
      assert.equal(err.exitCode, ExitCode.NETWORK);
      assert.equal(err.retryable, true);
      assert.match(err.message, /127\.0\.0\.1:9/);
    } finally { await store.close(); }
  });

  it('a server that accepts but never answers: read timeout → StorageUnavailableError, exit 2', async (t) => {
    const info = requireServer(t, 's3rver');
    if (!info) return;
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => { sockets.push(s); });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    const { store, prefix } = await openS3(info, { endpoint: `http://127.0.0.1:${port}`, readTimeoutSeconds: 1 });
    const t0 = Date.now();
    try {
      const err = await store.stat(`${prefix}/x`).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof StorageUnavailableError, `got ${String(err)}`);
      assert.equal(err.exitCode, ExitCode.NETWORK);
      assert.ok(Date.now() - t0 < 15_000, 'gave up in bounded time');
    } finally {
      await store.close();
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('moto: a failed one-shot stream upload aborts its multipart upload (none left dangling)', async (t) => {
    const info = requireServer(t, 'moto');
    if (!info) return;
    const { store, prefix } = await openS3(info, { s3: { partSize: 5 * 1024 * 1024 } });
    let sent = 0;
    const failing = new Readable({
      read() {
        sent += 1024 * 1024;
        if (sent > 13 * 1024 * 1024) this.destroy(new Error('tar pipeline failed'));
        else this.push(randomBytes(1024 * 1024));
      },
    });
    try {
      await assert.rejects(store.put(`${prefix}/base/data.tar`, failing), /tar pipeline failed/);
      assert.equal(await store.exists(`${prefix}/base/data.tar`), false);
      const client = sdk(info);
      try {
        const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: TEST_BUCKET, Prefix: prefix }));
        assert.deepEqual(uploads.Uploads ?? [], [], 'no multipart upload left');
      } finally { client.destroy(); }
    } finally { await store.close(); }
  });

  it('moto: tags, SSE AES256 and equal-size parts', async (t) => {
    const info = requireServer(t, 'moto');
    if (!info) return;
    const { store, prefix } = await openS3(info, { s3: { partSize: 5 * 1024 * 1024, encryption: 'AES256' } });
    const client = sdk(info);
    try {
      const body = randomBytes(16 * 1024 * 1024 + 7);
      const res = await store.put(`${prefix}/tagged`, Readable.from([body]), { tags: { 'pgstow-kind': 'wal', 'a b': 'c=d/e' }, sizeHint: body.length });
      assert.equal(res.size, body.length);
      // 16 MiB + 7 in 5 MiB parts: 3 full parts and one of 1 MiB + 7 bytes → multipart ETag "-4".
      assert.match(res.etag ?? '', /-4"?$/);
      const tags = await client.send(new GetObjectTaggingCommand({ Bucket: TEST_BUCKET, Key: `${prefix}/tagged` }));
      assert.deepEqual(Object.fromEntries((tags.TagSet ?? []).map((x) => [x.Key, x.Value])), { 'pgstow-kind': 'wal', 'a b': 'c=d/e' });
      const head = await client.send(new HeadObjectCommand({ Bucket: TEST_BUCKET, Key: `${prefix}/tagged` }));
      assert.equal(head.ServerSideEncryption, 'AES256');
      assert.deepEqual(await readAll(store, `${prefix}/tagged`), body);
      await store.delete([`${prefix}/tagged`]);
    } finally { client.destroy(); await store.close(); }
  });

  it('moto: SSE aws:kms with a key id', async (t) => {
    const info = requireServer(t, 'moto');
    if (!info) return;
    const keyId = 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555';
    const { store, prefix } = await openS3(info, { s3: { encryption: 'aws:kms', sseKmsKeyId: keyId } });
    const client = sdk(info);
    try {
      await store.put(`${prefix}/kms`, Buffer.from('encrypted at rest'));
      const head = await client.send(new HeadObjectCommand({ Bucket: TEST_BUCKET, Key: `${prefix}/kms` }));
      assert.equal(head.ServerSideEncryption, 'aws:kms');
      assert.equal(head.SSEKMSKeyId, keyId);
      await store.delete([`${prefix}/kms`]);
    } finally { client.destroy(); await store.close(); }
  });

  it('moto: IRSA web identity (AWS_ROLE_ARN + token file, STS at AWS_ENDPOINT_URL_STS) gives working credentials', async (t) => {
    const info = requireServer(t, 'moto');
    if (!info?.extra) return;
    const dir = makeTempDir('irsa');
    try {
      const tokenFile = path.join(dir, 'token');
      // A projected service-account token is a JWT; moto does not verify it, AWS would.
      fs.writeFileSync(tokenFile, 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDpwZ3N0b3cifQ.c2ln');
      const env = {
        AWS_ROLE_ARN: info.extra.roleArn, AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
        AWS_ENDPOINT_URL_STS: info.extra.stsEndpoint, AWS_REGION: info.region,
      };
      const { store, prefix } = await openS3(info, { env });
      try {
        await store.put(`${prefix}/irsa-object`, Buffer.from('via web identity'));
        assert.equal((await readAll(store, `${prefix}/irsa-object`)).toString(), 'via web identity');
        await store.delete([`${prefix}/irsa-object`]);
      } finally { await store.close(); }
    } finally { removeDir(dir); }
  });
});
