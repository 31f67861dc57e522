import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ByteLimiter } from '../../../src/pipeline/task-limiter.js';

/** A task that records how many bytes were held while it ran, and ends when told. */
function gated(limiter: ByteLimiter, bytes: number, log: string[], name: string, options: { first?: boolean } = {}): { done: Promise<void>; end: () => void } {
  let end!: () => void;
  const ended = new Promise<void>((r) => { end = r; });
  const done = limiter.run(bytes, async () => { log.push(name); await ended; }, options);
  return { done, end };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('ByteLimiter', () => {
  it('runs tasks while their bytes fit the capacity; the next starts when one ends', async () => {
    const limiter = new ByteLimiter(10);
    const log: string[] = [];
    const a = gated(limiter, 4, log, 'a');
    const b = gated(limiter, 4, log, 'b');
    const c = gated(limiter, 4, log, 'c');
    await tick();
    assert.deepEqual(log, ['a', 'b'], '4 + 4 fit 10, a third does not');
    a.end(); await a.done; await tick();
    assert.deepEqual(log, ['a', 'b', 'c']);
    b.end(); c.end(); await Promise.all([b.done, c.done]);
  });

  it('a task larger than the capacity runs alone, never beside another', async () => {
    const limiter = new ByteLimiter(10);
    const log: string[] = [];
    const big1 = gated(limiter, 14, log, 'big1');
    const big2 = gated(limiter, 14, log, 'big2');
    const small = gated(limiter, 1, log, 'small');
    await tick();
    assert.deepEqual(log, ['big1'], 'the first runs although it exceeds the capacity; nothing beside it');
    big1.end(); await big1.done; await tick();
    assert.deepEqual(log, ['big1', 'big2'], 'waiters start in order: the small one does not overtake');
    big2.end(); await big2.done; await tick();
    assert.deepEqual(log, ['big1', 'big2', 'small']);
    small.end(); await small.done;
  });

  it('a task marked first goes ahead of those waiting', async () => {
    const limiter = new ByteLimiter(10);
    const log: string[] = [];
    const a = gated(limiter, 10, log, 'a');
    const later = gated(limiter, 10, log, 'read-ahead');
    const asked = gated(limiter, 10, log, 'asked', { first: true });
    await tick();
    a.end(); await a.done; await tick();
    assert.deepEqual(log, ['a', 'asked']);
    asked.end(); await asked.done; await tick();
    later.end(); await later.done;
    assert.deepEqual(log, ['a', 'asked', 'read-ahead']);
  });

  it('a task that fails frees its bytes', async () => {
    const limiter = new ByteLimiter(10);
    await assert.rejects(limiter.run(10, async () => { throw new Error('boom'); }), /boom/);
    assert.equal(await limiter.run(10, async () => 'ran'), 'ran');
  });
});
