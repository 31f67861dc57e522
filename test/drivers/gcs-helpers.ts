/** Shared by the GCS driver tests: open a store through the registry (the lazy-loading path users take). */
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ObjectStore } from '../../src/storage/object-store.js';
import type { GcsStoreOptions } from '../../src/storage/store-options.js';
import { openStoreFromEnv, type EnvStoreDescription } from '../harness/store-options.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';

/** 1 MiB chunks: the conformance suite's 12 MiB object then takes 13 resumable chunks. */
export const SMALL_CHUNK = 1024 * 1024;

export async function openGcs(env: Record<string, string>,
  extra: { endpointUrl?: string; gcs?: GcsStoreOptions; prefix?: string; caFile?: string } = {}): Promise<ObjectStore> {
  const options: EnvStoreDescription = {
    provider: 'google-cloud-storage',
    destinationUrl: `gs://${TEST_BUCKET}/${extra.prefix ?? uniquePrefix('gcs')}`,
    env,
    gcs: extra.gcs ?? { chunkSize: SMALL_CHUNK },
    ...(extra.endpointUrl ? { endpointUrl: extra.endpointUrl } : {}),
    ...(extra.caFile ? { caFile: extra.caFile } : {}),
  };
  return (await openStoreFromEnv(options)).store;
}

/** Writes a fresh service-account key (RSA 2048) whose token_uri points at `tokenUri`. */
export function writeServiceAccountKey(dir: string, name: string, tokenUri: string): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify({
    type: 'service_account', project_id: 'pgstow-test', private_key_id: name,
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: `${name}@pgstow-test.iam.gserviceaccount.com`, client_id: '1', token_uri: tokenUri,
  }), { mode: 0o600 });
  return file;
}
