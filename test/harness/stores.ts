/**
 * Destinations for integration tests: the same scenario runs on fs, S3 (moto, s3rver), Azure (Azurite) and
 * GCS (emulator). Each target is what a user would type: a destination URL, CLI options and environment.
 * The global setup pre-creates bucket/container TEST_BUCKET on every server; tests use unique prefixes.
 */
import type { TestContext } from 'node:test';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { requireServer } from './test-env.js';
import { makeTempDir } from './tmp.js';

export const TEST_BUCKET = 'pgstow-test';

export type StoreKind = 'fs' | 'moto' | 's3rver' | 'azurite' | 'gcs';
export const ALL_STORE_KINDS: readonly StoreKind[] = ['fs', 'moto', 's3rver', 'azurite', 'gcs'];

export interface StoreTarget {
  kind: StoreKind;
  /** Destination URL including a unique prefix. */
  url: string;
  /** Options for any pgstow/barman-cloud command (--cloud-provider, --endpoint-url). */
  args: string[];
  /** Credentials and settings as environment variables. */
  env: Record<string, string>;
}

export function uniquePrefix(label: string): string {
  return `${label.replace(/[^a-z0-9-]/gi, '-')}-${randomBytes(4).toString('hex')}`;
}

/** A target on `kind`, or undefined (test skipped outside CI, failed in CI) when its server is missing. */
export function storeTarget(t: TestContext | undefined, kind: StoreKind, label: string): StoreTarget | undefined {
  const prefix = uniquePrefix(label);
  switch (kind) {
    case 'fs': {
      const dir = makeTempDir(`store-${label}`);
      return { kind, url: `file://${path.join(dir, prefix)}`, args: ['--cloud-provider', 'file'], env: {} };
    }
    case 'moto':
    case 's3rver': {
      const s3 = requireServer(t, kind);
      if (!s3) return undefined;
      return {
        kind, url: `s3://${TEST_BUCKET}/${prefix}`,
        args: ['--cloud-provider', 'aws-s3', '--endpoint-url', s3.endpoint],
        env: { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_DEFAULT_REGION: s3.region },
      };
    }
    case 'azurite': {
      const az = requireServer(t, 'azurite');
      if (!az) return undefined;
      return {
        kind, url: `${az.accountUrl}/${TEST_BUCKET}/${prefix}`,
        args: ['--cloud-provider', 'azure-blob-storage'],
        env: { AZURE_STORAGE_CONNECTION_STRING: az.connectionString },
      };
    }
    case 'gcs': {
      const gcs = requireServer(t, 'gcs');
      if (!gcs) return undefined;
      return {
        kind, url: `gs://${TEST_BUCKET}/${prefix}`,
        args: ['--cloud-provider', 'google-cloud-storage'],
        env: { STORAGE_EMULATOR_HOST: gcs.endpoint, GOOGLE_CLOUD_PROJECT: gcs.projectId },
      };
    }
  }
}
