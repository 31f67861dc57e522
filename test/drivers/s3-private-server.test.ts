/** startPrivateS3rver(): the "store goes away mid-load" helper other suites use keeps port and data across restart. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { startPrivateS3rver } from '../harness/servers/s3rver.js';
import { StorageUnavailableError } from '../../src/storage/errors.js';
import { readAll, streamToBuffer } from '../../src/storage/object-store-helpers.js';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { makeTempDir, removeDir } from '../harness/tmp.js';
import { openS3 } from './s3-helpers.js';

describe('private s3rver', () => {
  it('goes away (exit 2 class error) and comes back on the same port with its data', async () => {
    const dir = makeTempDir('private-s3rver');
    const server = await startPrivateS3rver(path.join(dir, 'data'));
    const { store, prefix } = await openS3(server.info, { s3: {} });
    try {
      await store.put(`${prefix}/before`, Buffer.from('kept'));
      await server.stop();
      const err = await store.get(`${prefix}/before`).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof StorageUnavailableError, `got ${String(err)}`);
      await server.restart();
      assert.equal((await readAll(store, `${prefix}/before`)).toString(), 'kept');
    } finally {
      await store.close();
      await server.stop();
      removeDir(dir);
    }
  });

  it('a download cut off mid-stream fails with a typed, retryable error (never a short object)', async () => {
    const dir = makeTempDir('private-s3rver-cut');
    const server = await startPrivateS3rver(path.join(dir, 'data'));
    const { store, prefix } = await openS3(server.info, { s3: {} });
    try {
      const body = randomBytes(48 * 1024 * 1024);
      await store.put(`${prefix}/big`, body);
      const stream = await store.get(`${prefix}/big`);
      stream.pause();
      await once(stream, 'readable');
      await server.stop();
      const err = await streamToBuffer(stream).then((b) => `completed with ${b.length} bytes`, (e: unknown) => e);
      assert.ok(err instanceof StorageUnavailableError, `got ${String(err)}`);
      assert.equal(err.retryable, true);
    } finally {
      await store.close();
      await server.stop();
      removeDir(dir);
    }
  });
});
