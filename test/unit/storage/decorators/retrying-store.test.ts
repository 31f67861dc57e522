/**
 * withRetry() around the real fs store, with a small faulty decorator that makes chosen calls fail the
 * way a flaky object store does (retryable StorageUnavailableError) or a misconfigured one does (AccessDenied).
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { FsObjectStore } from '../../../../src/storage/drivers/fs/fs-store.js';
import { withRetry } from '../../../../src/storage/decorators/retrying-store.js';
import { AccessDeniedError, StorageUnavailableError } from '../../../../src/storage/errors.js';
import type { CommonPrefix, ObjectInfo, ObjectStore } from '../../../../src/storage/object-store.js';
import { isCommonPrefix } from '../../../../src/storage/object-store.js';
import { readAll } from '../../../../src/storage/object-store-helpers.js';
import { makeTempDir, removeDir } from '../../../harness/tmp.js';

type Op = 'put' | 'get' | 'stat' | 'list' | 'delete';

/** Fails the next `failures[op]` calls of op with `error()`, then behaves; list fails after `listFailAfter` entries. */
function faulty(inner: ObjectStore, failures: Partial<Record<Op, number>>, error: () => Error = unavailable, listFailAfter = 0): ObjectStore & { calls: Record<Op, number> } {
  const calls: Record<Op, number> = { put: 0, get: 0, stat: 0, list: 0, delete: 0 };
  const maybeFail = (op: Op): void => {
    calls[op]++;
    if ((failures[op] ?? 0) > 0) { failures[op] = (failures[op] ?? 0) - 1; throw error(); }
  };
  return {
    calls,
    provider: inner.provider, description: inner.description, capabilities: inner.capabilities,
    put: async (k, b, o) => {
      maybeFail('put');
      return inner.put(k, b, o);
    },
    get: async (k, o) => { maybeFail('get'); return inner.get(k, o); },
    stat: async (k) => { maybeFail('stat'); return inner.stat(k); },
    exists: (k) => inner.exists(k),
    list: async function* (p, o) {
      calls.list++;
      let n = 0;
      for await (const e of inner.list(p, o)) {
        if ((failures.list ?? 0) > 0 && n === listFailAfter) { failures.list = (failures.list ?? 0) - 1; throw unavailable(); }
        n++;
        yield e;
      }
    },
    delete: async (k, o) => { maybeFail('delete'); return inner.delete(k, o); },
    close: () => inner.close(),
  };
}

function unavailable(): Error {
  return new StorageUnavailableError({ provider: 'test', operation: 'put' }, 'connection reset by peer');
}

const noSleep = { sleep: async () => undefined, random: () => 0.5 };

describe('withRetry', () => {
  const dir = makeTempDir('retry');
  after(() => removeDir(dir));
  const fs = new FsObjectStore(dir);

  it('retries a bytes put after transient failures, with growing jittered delays', async () => {
    const f = faulty(fs, { put: 2 });
    const delays: number[] = [];
    const store = withRetry(f, { ...noSleep, baseDelayMs: 100, onRetry: (i) => delays.push(i.delayMs) });
    await store.put('a/bytes', Buffer.from('hello'));
    assert.equal(f.calls.put, 3);
    assert.deepEqual(delays, [50, 100]); // random 0.5 × cap 100, 200
    assert.equal((await readAll(store, 'a/bytes')).toString(), 'hello');
  });

  it('retries a stream factory put, re-opening the stream', async () => {
    const f = faulty(fs, { put: 1 });
    let opened = 0;
    await withRetry(f, noSleep).put('a/factory', () => { opened++; return Readable.from([Buffer.from('xyz')]); });
    assert.equal(opened, 1); // the failed attempt failed before opening; the retry opened it
    assert.equal((await readAll(fs, 'a/factory')).toString(), 'xyz');
  });

  it('does not retry a one-shot stream', async () => {
    const f = faulty(fs, { put: 1 });
    await assert.rejects(withRetry(f, noSleep).put('a/oneshot', Readable.from([Buffer.from('x')])), StorageUnavailableError);
    assert.equal(f.calls.put, 1);
  });

  it('does not retry errors that are not retryable', async () => {
    const f = faulty(fs, { stat: 3 }, () => new AccessDeniedError({ provider: 'test', operation: 'stat', key: 'k' }));
    await assert.rejects(withRetry(f, noSleep).stat('a/bytes'), AccessDeniedError);
    assert.equal(f.calls.stat, 1);
  });

  it('gives up after maxAttempts with the last error', async () => {
    const f = faulty(fs, { get: 10 });
    await assert.rejects(withRetry(f, { ...noSleep, maxAttempts: 3 }).get('a/bytes'), /connection reset/);
    assert.equal(f.calls.get, 3);
  });

  it('resumes a listing after the last entry yielded: no duplicates, nothing missed', async () => {
    const keys = Array.from({ length: 10 }, (_, i) => `l/${i}`);
    for (const k of keys) await fs.put(k, Buffer.from(k));
    const f = faulty(fs, { list: 2 }, unavailable, 4);
    const seen: string[] = [];
    for await (const e of withRetry(f, noSleep).list('l/')) seen.push(isCommonPrefix(e as ObjectInfo | CommonPrefix) ? (e as CommonPrefix).prefix : (e as ObjectInfo).key);
    assert.deepEqual(seen, [...keys].sort());
    assert.equal(f.calls.list, 3);
  });

  it('retries an idempotent delete and stops waiting when aborted', async () => {
    const f = faulty(fs, { delete: 1 });
    await withRetry(f, noSleep).delete(['a/bytes']);
    assert.equal(await fs.exists('a/bytes'), false);
    const ac = new AbortController();
    const g = faulty(fs, { get: 5 });
    const p = withRetry(g, { baseDelayMs: 60_000, random: () => 1 }).get('l/1', { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('cancelled by SIGTERM')), 20);
    await assert.rejects(p, /cancelled by SIGTERM/);
  });
});
