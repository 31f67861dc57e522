/**
 * The one concurrency pool: runs `worker` over `items` with at most `limit` in flight. The first failure stops
 * new items from starting and is what the pool rejects with. By default the pool then waits for the items
 * already running (nothing is left behind); with `failFast` it rejects at once, for callers that abort the
 * others themselves (a backup aborts its other uploads).
 */
export async function runPool<T>(items: readonly T[], limit: number, worker: (item: T) => Promise<void>, options: { failFast?: boolean } = {}): Promise<void> {
  let next = 0;
  let failed = false;
  let failure: unknown;
  const run = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      try {
        await worker(item);
      } catch (err) {
        if (!failed) { failed = true; failure = err; }
        if (options.failFast) throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, run));
  if (failed) throw failure;
}
