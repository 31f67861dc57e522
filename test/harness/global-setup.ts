/**
 * Global setup/teardown for one test run: a private CA, then every store server on 127.0.0.1 with a random
 * port, each in its own temp directory. Writes the endpoints to a JSON file (PGSTOW_TEST_ENV) that test
 * files read through test-env.ts. PostgreSQL servers are started per test file (postgres.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateTls } from './ca.js';
import { makeTempDir, removeDir } from './tmp.js';
import type { TestEnv, TlsMaterial } from './test-env.js';
import { startMoto } from './servers/moto.js';
import { startS3rver } from './servers/s3rver.js';
import { startAzurite } from './servers/azurite.js';
import { startGcs } from './servers/gcs.js';

export interface StartedServers {
  /** Server name → info stored in TestEnv.servers. */
  servers: Record<string, unknown>;
  stop: () => Promise<void>;
}

/** Starts one family of servers (e.g. s3rver over HTTP and HTTPS). Throws with the reason when it cannot. */
export type GlobalServerStarter = (ctx: { tmpDir: string; tls: TlsMaterial }) => Promise<StartedServers>;

/** Name used in TestEnv.missing when a starter fails → the starter. */
const STARTERS: Record<string, { names: string[]; start: GlobalServerStarter }> = {
  moto: { names: ['moto'], start: startMoto },
  s3rver: { names: ['s3rver', 's3rverTls'], start: startS3rver },
  azurite: { names: ['azurite', 'azuriteTls', 'azuriteOauth'], start: startAzurite },
  gcs: { names: ['gcs'], start: startGcs },
};

export async function startGlobalServers(only?: string[]): Promise<{ envFile: string; env: TestEnv; stop: () => Promise<void> }> {
  const tmpDir = makeTempDir('run');
  fs.chmodSync(tmpDir, 0o755);
  const tls = generateTls(path.join(tmpDir, 'tls'));
  const env: TestEnv = { tmpDir, tls, servers: {}, missing: {} };
  const stops: Array<() => Promise<void>> = [];
  await Promise.all(Object.entries(STARTERS).map(async ([family, starter]) => {
    if (only && !only.includes(family)) {
      for (const n of starter.names) env.missing[n] = 'not requested for this run';
      return;
    }
    const dir = path.join(tmpDir, family);
    fs.mkdirSync(dir, { recursive: true });
    try {
      const started = await starter.start({ tmpDir: dir, tls });
      Object.assign(env.servers, started.servers);
      stops.push(started.stop);
      for (const n of starter.names) if (!(n in started.servers)) env.missing[n] = `${family} starter did not provide ${n}`;
    } catch (err) {
      for (const n of starter.names) env.missing[n] = (err as Error).message;
    }
  }));
  const envFile = path.join(tmpDir, 'test-env.json');
  fs.writeFileSync(envFile, JSON.stringify(env, null, 2));
  return {
    envFile, env,
    stop: async () => {
      await Promise.all(stops.map((s) => s().catch(() => undefined)));
      if (!process.env.PGSTOW_KEEP_TMP) removeDir(tmpDir);
    },
  };
}
