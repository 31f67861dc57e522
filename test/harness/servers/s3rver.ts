/**
 * s3rver 3.7.1 through the strict launcher (test/servers/s3rver-strict.cjs: SigV4 verified, anonymous and
 * aws-chunked requests refused), over HTTP and over HTTPS with the harness CA. Node runs it with
 * --openssl-legacy-provider: s3rver encrypts ListObjectsV2 continuation tokens with DES.
 * The HTTP instance also serves virtual-host requests to <bucket>.s3.localhost (extra.vhostEndpoint).
 */
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { GlobalServerStarter } from '../global-setup.js';
import type { S3ServerInfo, TlsMaterial } from '../test-env.js';
import { SERVERS_DIR } from '../postgres.js';
import { TEST_BUCKET } from '../stores.js';
import { startProcess, type StartedProcess } from './process.js';

export const S3RVER_LAUNCHER = path.join(SERVERS_DIR, 's3rver-strict.cjs');
const READY = /listening on (https?):\/\/[^:]+:(\d+)/;

interface LaunchOptions {
  dir: string;
  port?: number;
  tls?: TlsMaterial;
  accessKeyId: string;
  secretAccessKey: string;
}

async function launch(o: LaunchOptions): Promise<{ proc: StartedProcess; port: number; scheme: string }> {
  const args = ['--openssl-legacy-provider', S3RVER_LAUNCHER, '-d', o.dir, '-a', '127.0.0.1', '-p', String(o.port ?? 0),
    '--access-key', o.accessKeyId, '--secret-key', o.secretAccessKey, '--service-endpoint', 'localhost', '--bucket', TEST_BUCKET];
  if (o.tls) args.push('--key', o.tls.keyFile, '--cert', o.tls.certFile);
  const proc = await startProcess(process.execPath, args, READY, { name: 's3rver', timeoutMs: 60_000, cwd: SERVERS_DIR });
  return { proc, scheme: proc.match[1] ?? 'http', port: Number(proc.match[2]) };
}

function newKeys(): { accessKeyId: string; secretAccessKey: string } {
  return { accessKeyId: `PGSTOW${randomBytes(6).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(24).toString('base64url') };
}

function info(scheme: string, port: number, keys: { accessKeyId: string; secretAccessKey: string }, tls?: TlsMaterial): S3ServerInfo {
  return {
    endpoint: `${scheme}://127.0.0.1:${port}`, region: 'us-east-1', ...keys,
    extra: {
      // <bucket>.s3.localhost resolves to loopback (the driver follows RFC 6761 for *.localhost).
      vhostEndpoint: `${scheme}://s3.localhost:${port}`,
      ...(tls ? { caFile: tls.caFile } : {}),
    },
  };
}

export const startS3rver: GlobalServerStarter = async ({ tmpDir, tls }) => {
  const plainKeys = newKeys();
  const tlsKeys = newKeys();
  const [plain, secure] = await Promise.all([
    launch({ dir: path.join(tmpDir, 'http'), ...plainKeys }),
    launch({ dir: path.join(tmpDir, 'https'), tls, ...tlsKeys }),
  ]);
  return {
    servers: { s3rver: info(plain.scheme, plain.port, plainKeys), s3rverTls: info(secure.scheme, secure.port, tlsKeys, tls) },
    stop: async () => { await Promise.all([plain.proc.stop(), secure.proc.stop()]); },
  };
};

export interface PrivateS3rver {
  info: S3ServerInfo;
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data (after stop(), or kills and restarts). */
  restart(): Promise<void>;
}

/**
 * A private s3rver for one test ("store goes away mid-load"): data in `dir`, same port and data after
 * restart(), bucket pgstow-test created.
 */
export async function startPrivateS3rver(dir: string, options: { tls?: TlsMaterial } = {}): Promise<PrivateS3rver> {
  const keys = newKeys();
  let current = await launch({ dir, ...keys, ...(options.tls ? { tls: options.tls } : {}) });
  const port = current.port;
  let running = true;
  return {
    info: info(current.scheme, port, keys, options.tls),
    stop: async () => { running = false; await current.proc.stop(); },
    restart: async () => {
      if (running) await current.proc.stop();
      // The port may sit in TIME_WAIT for a moment after a kill: retry the bind briefly.
      for (let attempt = 0; ; attempt++) {
        try {
          current = await launch({ dir, port, ...keys, ...(options.tls ? { tls: options.tls } : {}) });
          running = true;
          return;
        } catch (err) {
          if (attempt >= 20) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
  };
}
