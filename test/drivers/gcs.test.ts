/**
 * The GCS driver on the emulator reached the way Google's libraries reach emulators (STORAGE_EMULATOR_HOST,
 * no credentials): the conformance suite with chunked resumable uploads, typed errors and exit codes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describeObjectStoreConformance } from '../conformance/object-store.suite.js';
import { requireServer } from '../harness/test-env.js';
import { ExitCode } from '../../src/errors.js';
import { ObjectExistsError, ObjectNotFoundError, StorageUnavailableError } from '../../src/storage/errors.js';
import { readAll } from '../../src/storage/object-store-helpers.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';
import { startGcsEmulator } from '../harness/servers/gcs.js';
import { openGcs } from './gcs-helpers.js';

describeObjectStoreConformance('gcs (emulator via STORAGE_EMULATOR_HOST)', async () => {
  const gcs = requireServer(undefined, 'gcs');
  if (!gcs) return undefined;
  return { store: await openGcs({ STORAGE_EMULATOR_HOST: gcs.endpoint }), prefix: 'conformance/' };
}, { contentMd5: true });

describe('gcs driver', () => {
  it('reports a missing object as ObjectNotFoundError (exit 1) naming the key', async (t) => {
    const gcs = requireServer(t, 'gcs');
    if (!gcs) return;
    const store = await openGcs({ STORAGE_EMULATOR_HOST: gcs.endpoint }, { prefix: 'missing' });
    const err = await store.get('missing/00000001000000000000000A').catch((e: unknown) => e);
    assert.ok(err instanceof ObjectNotFoundError);
    assert.equal(err.exitCode, ExitCode.OPERATION);
    assert.match(err.message, /missing\/00000001000000000000000A/);
    await assert.rejects(store.stat('missing/x'), ObjectNotFoundError);
    await store.close();
  });

  it('stores tags and metadata as custom metadata, and the emulator capability is honest', async (t) => {
    const gcs = requireServer(t, 'gcs');
    if (!gcs) return;
    const store = await openGcs({ STORAGE_EMULATOR_HOST: gcs.endpoint });
    assert.equal(store.capabilities.conditionalCreate, false, 'emulators are not trusted with preconditions');
    await store.put('tags/obj', Buffer.from('x'), { tags: { cluster: 'pg-main' }, metadata: { origin: 'test' } });
    const info = await store.stat('tags/obj');
    assert.deepEqual(info.metadata, { cluster: 'pg-main', origin: 'test' });
    await store.delete(['tags/obj']);
    await store.close();
  });

  it('an emulator that enforces ifGenerationMatch=0 is trusted after the first create-only put (probe); one that ignores it is not', async (t) => {
    if (!requireServer(t, 'gcs')) return;
    const stock = await startGcsEmulator({ ignorePreconditions: true });
    try {
      for (const [endpoint, enforces] of [[requireServer(t, 'gcs')?.endpoint ?? '', true], [stock.endpoint, false]] as const) {
        const prefix = uniquePrefix('probe');
        const store = await openGcs({ STORAGE_EMULATOR_HOST: endpoint }, { prefix });
        assert.equal(store.capabilities.conditionalCreate, false, 'not trusted before the probe');
        await store.put(`${prefix}/wal/1`, Buffer.from('one'), { ifAbsent: true });
        assert.equal(store.capabilities.conditionalCreate, enforces, endpoint);
        const second = store.put(`${prefix}/wal/1`, Buffer.from('two'), { ifAbsent: true });
        if (enforces) await assert.rejects(second, ObjectExistsError);
        else await second;
        const keys: string[] = [];
        for await (const e of store.list(`${prefix}/`)) if ('key' in e) keys.push(e.key);
        assert.deepEqual(keys, [`${prefix}/wal/1`], 'the probe object was deleted again');
        await store.close();
      }
    } finally {
      await stock.stop();
    }
  });

  it('uploads carry the KMS key name (single request and resumable session), as GCS reports it back', async (t) => {
    const gcs = requireServer(t, 'gcs');
    if (!gcs) return;
    const kmsKeyName = 'projects/p/locations/europe-west1/keyRings/pg/cryptoKeys/backups';
    const prefix = uniquePrefix('kms');
    const store = await openGcs({ STORAGE_EMULATOR_HOST: gcs.endpoint }, { prefix, gcs: { chunkSize: 256 * 1024, kmsKeyName } });
    await store.put(`${prefix}/wal`, Buffer.from('small'));
    await store.put(`${prefix}/base.tar`, Readable.from([randomBytes(600 * 1024)]));
    for (const key of [`${prefix}/wal`, `${prefix}/base.tar`]) {
      const res = await fetch(`${gcs.endpoint}/storage/v1/b/${TEST_BUCKET}/o/${encodeURIComponent(key)}`);
      assert.equal(((await res.json()) as { kmsKeyName?: string }).kmsKeyName, kmsKeyName, key);
    }
    await store.delete([`${prefix}/wal`, `${prefix}/base.tar`]);
    await store.close();
  });

  it('an upload larger than one chunk with an exact content length reads back intact', async (t) => {
    const gcs = requireServer(t, 'gcs');
    if (!gcs) return;
    const store = await openGcs({ STORAGE_EMULATOR_HOST: gcs.endpoint }, { gcs: { chunkSize: 256 * 1024 } });
    const body = randomBytes(256 * 1024 * 3 + 17);
    const res = await store.put('chunks/exact', body, { contentLength: body.length });
    assert.equal(res.size, body.length);
    assert.deepEqual(await readAll(store, 'chunks/exact'), body);
    await store.delete(['chunks/exact']);
    await store.close();
  });

  it('a source failing after several chunks were sent leaves no object (the session is never finalized)', async (t) => {
    const gcs = requireServer(t, 'gcs');
    if (!gcs) return;
    const store = await openGcs({ STORAGE_EMULATOR_HOST: gcs.endpoint }, { gcs: { chunkSize: 256 * 1024 } });
    let sent = 0;
    const failing = new Readable({
      read() {
        if (sent >= 1024 * 1024) { this.destroy(new Error('tar stream failed')); return; }
        sent += 64 * 1024;
        this.push(randomBytes(64 * 1024));
      },
    });
    await assert.rejects(store.put('partial/base.tar', failing), /tar stream failed/);
    assert.equal(sent, 1024 * 1024, 'the whole megabyte was produced, so chunks went out before the failure');
    assert.equal(await store.exists('partial/base.tar'), false);
    await store.close();
  });

  it('chunks whose response is lost (503 after the server stored them) are resumed: more failures than one request may retry', async (t) => {
    if (!requireServer(t, 'gcs')) return;
    const flaky = await startGcsEmulator({ failChunkEvery: 4 });
    try {
      const store = await openGcs({ STORAGE_EMULATOR_HOST: flaky.endpoint }, { gcs: { chunkSize: 256 * 1024 } });
      const body = randomBytes(12 * 256 * 1024 + 99); // 13 chunks → 3 injected failures, more than a request's 2 retries
      const res = await store.put('flaky/base.tar', Readable.from([body.subarray(0, 1_000_000), body.subarray(1_000_000)]));
      assert.equal(res.size, body.length);
      assert.deepEqual(await readAll(store, 'flaky/base.tar'), body);
      await store.close();
    } finally {
      await flaky.stop();
    }
  });

  it('an unreachable endpoint is StorageUnavailableError (exit 2) naming the endpoint', async () => {
    const store = await openGcs({ STORAGE_EMULATOR_HOST: 'http://127.0.0.1:9' }, { prefix: 'x' });
    const t0 = Date.now();
    const err = await store.put('x/y', Buffer.from('z')).catch((e: unknown) => e);
    assert.ok(err instanceof StorageUnavailableError, String(err));
    assert.equal(err.exitCode, ExitCode.NETWORK);
    assert.match(err.message, /127\.0\.0\.1:9/);
    assert.ok(Date.now() - t0 < 60_000);
    await store.close();
  });
});
