/**
 * The GCS emulator for tests: test/servers/gcs-emulator.cjs (the Firebase Storage emulator's Node JSON API,
 * plus chunked resumable uploads, ifGenerationMatch=0 and optional auth). The global setup starts one open
 * instance (TestEnv.servers.gcs); auth tests start their own with startGcsEmulator({ requireToken, … }).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { GlobalServerStarter } from '../global-setup.js';
import { SERVERS_DIR } from '../postgres.js';
import { makeTempDir, removeDir } from '../tmp.js';
import { startProcess } from './process.js';

export const GCS_PROJECT_ID = 'pgstow-test';
const LAUNCHER = path.join(SERVERS_DIR, 'gcs-emulator.cjs');

export interface GcsEmulatorOptions {
  /** Refuse requests without "Authorization: Bearer <token>" (401), and issue this token from the token endpoints. */
  requireToken?: string;
  /** A token allowed to read only (writes get 403). */
  readonlyToken?: string;
  /** Service-account key whose signature the /oauth2/token endpoint checks. */
  saKeyFile?: string;
  /** Token the metadata server issues (default: requireToken). */
  metadataToken?: string;
  /** Serve HTTPS with this certificate (the harness's private CA signs it). */
  tls?: { certFile: string; keyFile: string };
  /** Answer every Nth resumable chunk with 503 after storing it (a lost response), to exercise chunk retries. */
  failChunkEvery?: number;
  /** Ignore ifGenerationMatch=0 as the stock Firebase emulator does (a later write replaces the object). */
  ignorePreconditions?: boolean;
  /** Listen on this port (default: a free one). */
  port?: number;
  /** Parent for the instance's TMPDIR (blobs); a fresh temp dir when omitted. */
  tmpDir?: string;
}

export interface GcsEmulator {
  /** http(s)://127.0.0.1:PORT: API endpoint, token endpoint at /oauth2/token, metadata server at /computeMetadata/v1. */
  endpoint: string;
  /** host:port for GCE_METADATA_HOST. */
  metadataHost: string;
  stop: () => Promise<void>;
}

export async function startGcsEmulator(options: GcsEmulatorOptions = {}): Promise<GcsEmulator> {
  if (!fs.existsSync(path.join(SERVERS_DIR, 'node_modules', 'firebase-tools', 'package.json'))) {
    throw new Error('firebase-tools is not installed in test/servers (cd test/servers && npm ci --omit=optional)');
  }
  const tmp = options.tmpDir ? fs.mkdtempSync(path.join(options.tmpDir, 'gcs-')) : makeTempDir('gcs');
  const args = [LAUNCHER, String(options.port ?? 0)];
  if (options.requireToken) args.push('--require-token', options.requireToken);
  if (options.readonlyToken) args.push('--readonly-token', options.readonlyToken);
  if (options.saKeyFile) args.push('--sa-key', options.saKeyFile);
  if (options.metadataToken) args.push('--metadata-token', options.metadataToken);
  if (options.ignorePreconditions) args.push('--ignore-preconditions');
  if (options.failChunkEvery) args.push('--fail-chunk-every', String(options.failChunkEvery));
  if (options.tls) args.push('--tls-cert', options.tls.certFile, '--tls-key', options.tls.keyFile);
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp };
  delete env.STORAGE_EMULATOR_HOST;
  const started = await startProcess(process.execPath, args, /gcs emulator listening on (https?:\/\/127\.0\.0\.1:(\d+))/, {
    name: 'gcs emulator', env, cwd: SERVERS_DIR, timeoutMs: 60_000,
  });
  const endpoint = started.match[1] ?? '';
  return {
    endpoint,
    metadataHost: endpoint.replace(/^https?:\/\//, ''),
    stop: async () => { await started.stop(); removeDir(tmp); },
  };
}

export const startGcs: GlobalServerStarter = async ({ tmpDir }) => {
  const emulator = await startGcsEmulator({ tmpDir });
  return {
    servers: { gcs: { endpoint: emulator.endpoint, projectId: GCS_PROJECT_ID } },
    stop: emulator.stop,
  };
};
