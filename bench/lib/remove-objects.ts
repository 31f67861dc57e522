/** Removes a bench run's objects once measured: the shared machine's disk has no room for every run's backups. */
import { composeStore } from '../../src/app/compose.js';
import { isCommonPrefix } from '../../src/storage/object-store.js';
import { storeOptionsFromEnv, type EnvStoreDescription } from '../../test/harness/store-options.js';

/** Deletes every object under `prefix` of the store `description` names, through the store's own API. */
export async function removeObjects(description: EnvStoreDescription, prefix: string): Promise<void> {
  const opened = await composeStore(await storeOptionsFromEnv(description));
  try {
    const keys: string[] = [];
    for await (const e of opened.store.list(prefix)) if (!isCommonPrefix(e)) keys.push(e.key);
    if (keys.length) await opened.store.delete(keys);
  } finally {
    await opened.store.close();
  }
}
