/** Opens the real S3 driver (through the registry, as commands do) on a test server with a unique prefix. */
import { openStoreFromEnv, type EnvStoreDescription } from '../harness/store-options.js';
import type { ObjectStore } from '../../src/storage/object-store.js';

import type { S3ServerInfo } from '../harness/test-env.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';
import type { ConformanceTarget } from '../conformance/object-store.suite.js';

export interface OpenS3Options {
  endpoint?: string;
  caFile?: string;
  bucket?: string;
  prefix?: string;
  env?: Record<string, string | undefined>;
  s3?: EnvStoreDescription['s3'];
  readTimeoutSeconds?: number;
}

export function s3Env(info: S3ServerInfo): Record<string, string> {
  return { AWS_ACCESS_KEY_ID: info.accessKeyId, AWS_SECRET_ACCESS_KEY: info.secretAccessKey, AWS_DEFAULT_REGION: info.region };
}

export async function openS3(info: S3ServerInfo, o: OpenS3Options = {}): Promise<{ store: ObjectStore; prefix: string }> {
  const prefix = o.prefix ?? uniquePrefix('s3');
  const options: EnvStoreDescription = {
    provider: 'aws-s3',
    destinationUrl: `s3://${o.bucket ?? TEST_BUCKET}/${prefix}`,
    endpointUrl: o.endpoint ?? info.endpoint,
    env: o.env ?? s3Env(info),
    s3: o.s3 ?? {},
    ...(o.caFile ? { caFile: o.caFile } : {}),
    ...(o.readTimeoutSeconds ? { readTimeoutSeconds: o.readTimeoutSeconds } : {}),
  };
  const { store } = await openStoreFromEnv(options);
  return { store, prefix };
}

export async function conformanceTarget(info: S3ServerInfo | undefined, o: OpenS3Options = {}): Promise<ConformanceTarget | undefined> {
  if (!info) return undefined;
  const { store, prefix } = await openS3(info, o);
  return { store, prefix: `${prefix}/` };
}
