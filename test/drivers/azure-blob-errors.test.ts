/**
 * What a DBA sees when an Azure destination is misconfigured: the typed error, its exit code and a message
 * naming the cause, on a real Azurite. Also tuning (blocks, concurrency) and tags/metadata round trips.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AccessDeniedError, BucketNotFoundError, InvalidCredentialsError, ObjectExistsError, StorageUnavailableError, TlsError,
} from '../../src/storage/errors.js';
import { ConfigError, ExitCode } from '../../src/errors.js';
import { readAll } from '../../src/storage/object-store-helpers.js';
import { requireServer } from '../harness/test-env.js';
import { AZURITE_KEY, createContainer } from '../harness/servers/azurite.js';
import { containerSas, openAzure } from './azure-helpers.js';

const WRONG_KEY = Buffer.from('not the key '.repeat(6)).toString('base64');

describe('azure-blob errors', () => {
  it('a wrong account key fails with a typed auth error naming AZURE_STORAGE_KEY, exit 1, key not printed', async (t) => {
    const az = requireServer(t, 'azurite'); if (!az) return;
    const { store, prefix } = await openAzure(az, { AZURE_STORAGE_KEY: WRONG_KEY });
    try {
      const err = await store.put(`${prefix}wal/000000010000000000000001`, Buffer.from('x')).then(() => undefined, (e: unknown) => e);
      // Real Azure answers 403 AuthenticationFailed (InvalidCredentialsError); Azurite answers 403
      // AuthorizationFailure, which is indistinguishable from a missing permission (AccessDeniedError).
      assert.ok(err instanceof InvalidCredentialsError || err instanceof AccessDeniedError, String(err));
      assert.equal(err.exitCode, ExitCode.OPERATION);
      assert.match(err.message, /AZURE_STORAGE_KEY for account devstoreaccount1/);
      if (err instanceof AccessDeniedError) assert.match(err.message, /the account key is wrong/);
      assert.match(err.message, /put on pgstow-test\/.*000000010000000000000001/);
      assert.ok(!err.message.includes(WRONG_KEY) && !err.message.includes(AZURITE_KEY));
    } finally { await store.close(); }
  });

  it('a SAS for another container gives AccessDeniedError naming the operation and key', async (t) => {
    const az = requireServer(t, 'azurite'); if (!az) return;
    await createContainer(az, 'other-container');
    const sas = await containerSas(az, 'other-container');
    const { store, prefix } = await openAzure(az, { AZURE_STORAGE_SAS_TOKEN: sas });
    try {
      const err = await store.put(`${prefix}base/backup.info`, Buffer.from('x')).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof AccessDeniedError, String(err));
      assert.equal(err.exitCode, ExitCode.OPERATION);
      assert.match(err.message, /access denied: put on pgstow-test\/.*base\/backup\.info with AZURE_STORAGE_SAS_TOKEN/);
      assert.match(err.message, /the SAS token does not cover this container or permission/);
      assert.ok(!err.message.includes(sas.slice(-20)), 'the SAS signature is not printed');
      await assert.rejects(store.get(`${prefix}base/backup.info`), AccessDeniedError);
    } finally { await store.close(); }
  });

  it('a missing container gives BucketNotFoundError for put, get, stat, exists and list', async (t) => {
    const az = requireServer(t, 'azurite'); if (!az) return;
    const { store, prefix } = await openAzure(az, { AZURE_STORAGE_CONNECTION_STRING: az.connectionString }, { container: 'no-such-container' });
    try {
      await assert.rejects(store.put(`${prefix}a`, Buffer.from('x')), (e: unknown) => e instanceof BucketNotFoundError && /container "no-such-container" does not exist/.test(e.message));
      await assert.rejects(store.get(`${prefix}a`), BucketNotFoundError);
      await assert.rejects(store.stat(`${prefix}a`), BucketNotFoundError);
      await assert.rejects(store.exists(`${prefix}a`), BucketNotFoundError);
      await assert.rejects((async () => { for await (const _ of store.list(prefix)) { /* drain */ } })(), BucketNotFoundError);
    } finally { await store.close(); }
  });

  it('HTTPS with a private CA that is not trusted gives TlsError naming the endpoint, exit 2', async (t) => {
    const az = requireServer(t, 'azuriteTls'); if (!az) return;
    const { store, prefix } = await openAzure(az, { AZURE_STORAGE_KEY: az.accountKey });
    try {
      const err = await store.put(`${prefix}a`, Buffer.from('x')).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof TlsError, String(err));
      assert.equal(err.exitCode, ExitCode.NETWORK);
      assert.match(err.message, new RegExp(`TLS failure talking to ${az.accountUrl.replace(/[.]/g, '\\.')}`));
      assert.match(err.message, /REQUESTS_CA_BUNDLE/);
    } finally { await store.close(); }
  });

  it('an unreachable endpoint gives StorageUnavailableError, exit 2, within seconds', async () => {
    const port = await new Promise<number>((resolve) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); }); });
    const { store, prefix } = await openAzure({ accountUrl: `http://127.0.0.1:${port}/devstoreaccount1`, account: 'devstoreaccount1', accountKey: AZURITE_KEY, connectionString: '' },
      { AZURE_STORAGE_KEY: AZURITE_KEY });
    const t0 = Date.now();
    try {
      const err = await store.stat(`${prefix}a`).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof StorageUnavailableError, String(err));
      assert.equal(err.exitCode, ExitCode.NETWORK);
      assert.match(err.message, new RegExp(`cannot reach Azure Blob Storage at http://127\\.0\\.0\\.1:${port}/devstoreaccount1`));
      assert.ok(Date.now() - t0 < 20_000);
    } finally { await store.close(); }
  });

  it('Entra ID credentials over plain http are refused up front with a ConfigError', async (t) => {
    const az = requireServer(t, 'azurite'); if (!az) return;
    await assert.rejects(openAzure(az, {}, { azure: { credential: 'managed-identity' } }),
      (e: unknown) => e instanceof ConfigError && /only accepts over https/.test(e.message));
  });
});

describe('azure-blob uploads', () => {
  it('streams in blocks of the configured size with bounded concurrency; tags and metadata are stored', async (t) => {
    const az = requireServer(t, 'azurite'); if (!az) return;
    const blockSize = 256 * 1024;
    const { store, prefix } = await openAzure(az, { AZURE_STORAGE_CONNECTION_STRING: az.connectionString },
      { azure: { maxBlockSize: blockSize, maxConcurrency: 3, maxSinglePutSize: 100 * 1024 } });
    try {
      const body = randomBytes(5 * blockSize + 1234);
      const key = `${prefix}base/20261125T120000/data.tar`;
      const res = await store.put(key, Readable.from([body.subarray(0, 700_000), body.subarray(700_000)]),
        { tags: { backup: 'yes' }, metadata: { origin: 'pgstow' } });
      assert.equal(res.size, body.length);
      assert.equal(createHash('sha256').update(await readAll(store, key)).digest('hex'), createHash('sha256').update(body).digest('hex'));
      assert.equal((await store.stat(key)).metadata?.origin, 'pgstow');
      const { BlobServiceClient } = await import('@azure/storage-blob');
      const blob = BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('pgstow-test').getBlockBlobClient(key);
      const blocks = await blob.getBlockList('committed');
      assert.equal(blocks.committedBlocks?.length, 6, 'five full blocks and the remainder');
      assert.deepEqual((await blob.getTags()).tags, { backup: 'yes' });
      // Bytes above the single-put size go through blocks too; below it, one Put Blob.
      await store.put(`${prefix}small`, randomBytes(50_000), { tags: { k: 'v' } });
      const small = BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('pgstow-test').getBlockBlobClient(`${prefix}small`);
      assert.deepEqual((await small.getTags()).tags, { k: 'v' });
      // A one-shot stream of known length under the single-put size is one Put Blob, not blocks.
      const wal = randomBytes(90 * 1024);
      await store.put(`${prefix}wals/000000010000000000000001`, Readable.from([wal.subarray(0, 40_000), wal.subarray(40_000)]), { contentLength: wal.length });
      const walBlob = BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('pgstow-test').getBlockBlobClient(`${prefix}wals/000000010000000000000001`);
      assert.equal((await walBlob.getBlockList('committed')).committedBlocks?.length ?? 0, 0);
      assert.deepEqual(await readAll(store, `${prefix}wals/000000010000000000000001`), wal);
      await store.delete([`${prefix}wals/000000010000000000000001`]);
      // Create-if-absent holds on the block path too (If-None-Match: * on Put Block List).
      await assert.rejects(store.put(key, Readable.from([randomBytes(3 * blockSize)]), { ifAbsent: true }), ObjectExistsError);
      assert.equal((await store.stat(key)).size, body.length, 'the existing object is untouched');
      await store.delete([key, `${prefix}small`]);
    } finally { await store.close(); }
  });

  it('a stream failing after blocks were staged leaves neither a blob nor uncommitted blocks', async (t) => {
    const az = requireServer(t, 'azurite'); if (!az) return;
    const { store, prefix } = await openAzure(az, { AZURE_STORAGE_CONNECTION_STRING: az.connectionString }, { azure: { maxBlockSize: 64 * 1024, maxConcurrency: 2 } });
    const { BlobServiceClient } = await import('@azure/storage-blob');
    const container = BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('pgstow-test');
    try {
      // Control: staged, uncommitted blocks are visible through Get Block List.
      const control = container.getBlockBlobClient(`${prefix}control`);
      await control.stageBlock(Buffer.from('000001').toString('base64'), Buffer.alloc(10), 10);
      assert.equal((await control.getBlockList('uncommitted')).uncommittedBlocks?.length, 1);

      let sent = 0;
      const failing = new Readable({
        read() {
          this.push(randomBytes(64 * 1024));
          if (++sent >= 6) this.destroy(new Error('tar producer died'));
        },
      });
      await assert.rejects(store.put(`${prefix}base/data.tar`, failing), /tar producer died/);
      assert.equal(await store.exists(`${prefix}base/data.tar`), false);
      const left = await container.getBlockBlobClient(`${prefix}base/data.tar`).getBlockList('all').then((l) => (l.uncommittedBlocks?.length ?? 0) + (l.committedBlocks?.length ?? 0), (e: { statusCode?: number }) => (e.statusCode === 404 ? 0 : -1));
      assert.equal(left, 0, 'no staged block is left behind');

      // Replacing an existing object: a failed upload leaves the old version readable.
      await store.put(`${prefix}base/backup.info`, Buffer.from('old version'));
      sent = 0;
      const failingAgain = new Readable({
        read() {
          this.push(randomBytes(64 * 1024));
          if (++sent >= 4) this.destroy(new Error('tar producer died'));
        },
      });
      await assert.rejects(store.put(`${prefix}base/backup.info`, failingAgain), /tar producer died/);
      assert.equal((await readAll(store, `${prefix}base/backup.info`)).toString(), 'old version');
    } finally { await store.close(); }
  });

  it('the encryption scope is sent on every write (Put Blob, Put Block, Put Block List)', async (t) => {
    const az = requireServer(t, 'azurite'); if (!az) return;
    // Azurite accepts but ignores encryption scopes, so a recording pass-through proxy shows what was sent.
    const target = new URL(az.accountUrl);
    const seen: Array<{ method: string; comp: string | null; scope: string | undefined }> = [];
    const proxy = http.createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      seen.push({ method: req.method ?? '', comp: u.searchParams.get('comp'), scope: req.headers['x-ms-encryption-scope'] as string | undefined });
      const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        pipeline(r, res).catch(() => res.destroy());
      });
      up.on('error', () => res.destroy());
      pipeline(req, up).catch(() => up.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const port = (proxy.address() as net.AddressInfo).port;
    try {
      const { store, prefix } = await openAzure({ ...az, accountUrl: `http://127.0.0.1:${port}/${az.account}` }, { AZURE_STORAGE_KEY: az.accountKey },
        { azure: { encryptionScope: 'pg-scope', maxBlockSize: 64 * 1024, maxSinglePutSize: 32 * 1024 } });
      try {
        await store.put(`${prefix}small`, Buffer.from('x'));
        await store.put(`${prefix}big`, Readable.from([randomBytes(200 * 1024)]));
      } finally { await store.close(); }
      const writes = seen.filter((r) => r.method === 'PUT');
      assert.deepEqual([...new Set(writes.map((w) => w.comp ?? 'blob'))].sort(), ['blob', 'block', 'blocklist']);
      assert.ok(writes.every((w) => w.scope === 'pg-scope'), JSON.stringify(writes));
    } finally {
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });

  it('rejects tuning values Azure cannot take', async (t) => {
    const az = requireServer(t, 'azurite'); if (!az) return;
    await assert.rejects(openAzure(az, { AZURE_STORAGE_KEY: az.accountKey }, { azure: { maxConcurrency: 0 } }), ConfigError);
  });
});


