/**
 * The GCS driver on the emulator reached the way Google's libraries reach emulators (STORAGE_EMULATOR_HOST,
 * no credentials): the conformance suite with chunked resumable uploads, typed errors and exit codes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describeObjectStoreConformance } from '../conformance/object-store.suite.js';
import { requireServer } from '../harness/test-env.js';
import { ExitCode } from '../../src/errors.js';
import { ObjectNotFoundError, StorageUnavailableError } from '../../src/storage/errors.js';
import { readAll } from '../../src/storage/object-store-helpers.js';
import { openGcs } from './gcs-helpers.js';

describeObjectStoreConformance('gcs (emulator via STORAGE_EMULATOR_HOST)', async () => {
  const gcs = requireServer(undefined, 'gcs');
  if (!gcs) return undefined;
  return { store: await openGcs({ STORAGE_EMULATOR_HOST: gcs.endpoint }), prefix: 'conformance/' };
});

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

  it('an unreachable endpoint is StorageUnavailableError (exit 2) naming the endpoint', async () => {
    const store = await openGcs({ STORAGE_EMULATOR_HOST: 'http://127.0.0.1:9' }, { prefix: 'x' });
    const t0 = Date.now();
    const err = await store.put('x/y', Buffer.from('z')).catch((e: unknown) => e);
    assert.ok(err instanceof StorageUnavailableError, String(err));
    assert.equal(err.exitCode, ExitCode.NETWORK);
    assert.match(err.message, /127\.0\.0\.1:9/);
    assert.ok(Date.now() - t0 < 60_000);
    const e2 = await store.get('x/y').catch((e: unknown) => e);
    assert.ok(e2 instanceof StorageUnavailableError, String(e2));
    await store.close();
  });
});
