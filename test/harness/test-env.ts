/**
 * The servers the global setup (scripts/run-tests.mjs → global-setup.ts) started for this run, read from
 * the JSON file named by PGSTOW_TEST_ENV. A test asks for a server with requireServer(): when the server is
 * missing the test fails in CI (CI=true or PGSTOW_REQUIRE_ALL=1) and is skipped loudly elsewhere, so CI can
 * never pass by silently skipping a real-server suite.
 */
import * as fs from 'node:fs';
import type { TestContext } from 'node:test';

export interface TlsMaterial {
  caFile: string;
  certFile: string;
  keyFile: string;
}

export interface S3ServerInfo {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Extra facts a server-specific test may need (e.g. moto's admin keys, IAM user with limited policy). */
  extra?: Record<string, string>;
}

export interface AzuriteInfo {
  /** http://127.0.0.1:PORT/devstoreaccount1 */
  accountUrl: string;
  account: string;
  accountKey: string;
  connectionString: string;
  extra?: Record<string, string>;
}

export interface GcsInfo {
  endpoint: string;
  projectId: string;
  extra?: Record<string, string>;
}

export interface TestEnv {
  tmpDir: string;
  tls: TlsMaterial;
  servers: {
    moto?: S3ServerInfo;
    s3rver?: S3ServerInfo;
    s3rverTls?: S3ServerInfo;
    azurite?: AzuriteInfo;
    azuriteTls?: AzuriteInfo;
    /** Azurite over HTTPS with OAuth (bearer tokens) enabled, for the Entra ID credential tests. */
    azuriteOauth?: AzuriteInfo;
    gcs?: GcsInfo;
    [name: string]: unknown;
  };
  /** Why a server is missing, by name. */
  missing: Record<string, string>;
}

let cached: TestEnv | undefined;

export function testEnv(): TestEnv {
  if (cached) return cached;
  const file = process.env.PGSTOW_TEST_ENV;
  if (!file) throw new Error('PGSTOW_TEST_ENV is not set: run the tests with `npm test` (scripts/run-tests.mjs starts the servers)');
  cached = JSON.parse(fs.readFileSync(file, 'utf8')) as TestEnv;
  return cached;
}

export function mustNotSkip(): boolean {
  return process.env.CI === 'true' || process.env.PGSTOW_REQUIRE_ALL === '1';
}

/**
 * Returns the server's info, or skips the test with the reason (outside CI) / throws (in CI).
 * Usage: `const s3 = requireServer(t, 'moto'); if (!s3) return;`
 */
export function requireServer<K extends keyof TestEnv['servers']>(t: TestContext | undefined, name: K): NonNullable<TestEnv['servers'][K]> | undefined {
  let env: TestEnv | undefined;
  let reason: string;
  try {
    env = testEnv();
    const info = env.servers[name];
    if (info) return info as NonNullable<TestEnv['servers'][K]>;
    reason = env.missing[name as string] ?? `${String(name)} was not started`;
  } catch (err) {
    reason = (err as Error).message;
  }
  const msg = `server "${String(name)}" is not available: ${reason}`;
  if (mustNotSkip() || !t) throw new Error(msg);
  process.stderr.write(`\n*** SKIPPING (not in CI): ${msg}\n`);
  t.skip(msg);
  return undefined;
}

/**
 * For a program or binary on this machine (barman-cloud, moto_server, a PostgreSQL version) rather than a
 * server: false when `present`, else the reason to skip, printed loudly; throws in CI, like requireServer.
 * Usable as a describe/test `skip` option, evaluated when the file loads.
 */
export function skipUnlessInstalled(what: string, present: boolean): false | string {
  if (present) return false;
  const msg = `${what} is not installed`;
  if (mustNotSkip()) throw new Error(`${msg} (CI=true: a missing tool fails instead of skipping)`);
  process.stderr.write(`\n*** SKIPPING (not in CI): ${msg}\n`);
  return msg;
}

/** skipUnlessInstalled inside a test: true when present, else skips `t` (outside CI) or throws (in CI). */
export function requireInstalled(t: TestContext, what: string, present: boolean): boolean {
  const reason = skipUnlessInstalled(what, present);
  if (!reason) return true;
  t.skip(reason);
  return false;
}
