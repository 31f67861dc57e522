/**
 * Seeds a store with the catalog barman-cloud 3.4 produced in test/fixtures/barman/3.4 (same backup.info
 * bytes, small stand-in tars, the same WAL names, keep:standalone on the first backup), so pgstow's output
 * can be compared with what Barman printed for that catalog.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BarmanLayout } from '../../../src/repository/barman-layout.js';
import { openStoreFromEnv } from '../../harness/store-options.js';
import { inferProvider } from '../../../src/storage/destination.js';
import type { ObjectStore } from '../../../src/storage/object-store.js';
import type { StoreTarget } from '../../harness/stores.js';

export const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/barman/3.4/', import.meta.url));
export const fixture = (f: string): string => readFileSync(FIXTURES + f, 'utf8');
export const SERVER = 'pg34';
export const IDS = ['20261125T120208', '20261125T120215', '20261125T120220'] as const;
const WAL = (seg: number): string => `0000000100000000${seg.toString(16).toUpperCase().padStart(8, '0')}`;
export const WAL_NAMES = [WAL(1), WAL(2), `${WAL(2)}.00000028.backup`, WAL(3), WAL(4), `${WAL(4)}.00000028.backup`, WAL(5), WAL(6), `${WAL(6)}.00000028.backup`, WAL(7)];

export interface Seeded {
  store: ObjectStore;
  layout: BarmanLayout;
  /** Key prefix of the destination inside the bucket ("" for none). */
  prefix: string;
}

export async function openTarget(target: StoreTarget, server = SERVER): Promise<Seeded> {
  const { store, destination } = await openStoreFromEnv({
    provider: inferProvider(target.url, target.args[target.args.indexOf('--cloud-provider') + 1]),
    destinationUrl: target.url,
    ...(target.args.includes('--endpoint-url') ? { endpointUrl: target.args[target.args.indexOf('--endpoint-url') + 1]! } : {}),
    env: { ...process.env, ...target.env },
  });
  return { store, layout: new BarmanLayout(destination.prefix, server), prefix: destination.prefix };
}

export async function seedBarmanCatalog(s: Seeded): Promise<void> {
  const { store, layout } = s;
  const put = (key: string, body: string | Buffer): Promise<unknown> => store.put(key, typeof body === 'string' ? Buffer.from(body) : body);
  for (const id of IDS) {
    await put(layout.backupInfoKey(id), fixture(`${id}.backup.info`));
    const suffix = id === '20261125T120215' ? '.gz' : '';
    await put(layout.backupTarKey(id, 'data', 0, suffix), Buffer.alloc(2048, 1));
    await put(layout.backupTarKey(id, '16384', 0, suffix), Buffer.alloc(1024, 2));
  }
  await put(layout.keepAnnotationKey(IDS[0]), 'standalone');
  for (const w of WAL_NAMES) await put(layout.walKey(w), Buffer.alloc(64, 3));
}

/** Every key under the server prefix, sorted. */
export async function allKeys(s: Seeded): Promise<string[]> {
  const keys: string[] = [];
  for await (const e of s.store.list(s.layout.serverPrefix)) if (!('prefix' in e)) keys.push(e.key);
  return keys.sort();
}

/** Replaces Barman's recorded bucket prefix ("pfx/pg34/") with this destination's. */
export function rebase(text: string, s: Seeded): string {
  return text.split('pfx/pg34/').join(s.layout.serverPrefix);
}
