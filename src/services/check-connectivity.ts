/** -t/--test: one listing request below a prefix of the server proves endpoint, credentials and bucket. */
import type { BarmanLayout } from '../repository/barman-layout.js';
import type { ObjectStore } from '../storage/object-store.js';

export async function checkConnectivity(store: ObjectStore, layout: BarmanLayout, scope: 'wals' | 'base' | 'server' = 'wals', signal?: AbortSignal): Promise<void> {
  const prefix = scope === 'wals' ? layout.walsPrefix : scope === 'base' ? layout.basePrefix : layout.serverPrefix;
  for await (const _entry of store.list(prefix, { delimiter: '/', ...(signal ? { signal } : {}) })) break;
}
