/** -t/--test: one listing request below the server's WAL prefix proves endpoint, credentials and bucket. */
import type { BarmanLayout } from '../repository/barman-layout.js';
import type { ObjectStore } from '../storage/object-store.js';

export async function checkConnectivity(store: ObjectStore, layout: BarmanLayout): Promise<void> {
  for await (const _entry of store.list(layout.walsPrefix, { delimiter: '/' })) break;
}
