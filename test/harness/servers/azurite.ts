/**
 * Starts Azurite 3.35.0 (test/servers) three times on 127.0.0.1 with random ports: plain HTTP (`azurite`),
 * HTTPS with the harness CA (`azuriteTls`) and HTTPS with OAuth bearer tokens accepted (`azuriteOauth`,
 * `--oauth basic`: Azurite checks a token's issuer, audience and lifetime, not its signature). Each gets
 * container TEST_BUCKET. `--skipApiVersionCheck` is required: @azure/storage-blob 12.32 sends an API
 * version Azurite 3.35 does not know (test-infra §3).
 */
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import type { GlobalServerStarter, StartedServers } from '../global-setup.js';
import type { AzuriteInfo, TlsMaterial } from '../test-env.js';
import { SERVERS_DIR } from '../postgres.js';
import { startProcess, type StartedProcess } from './process.js';
import { TEST_BUCKET } from '../stores.js';

export const AZURITE_ACCOUNT = 'devstoreaccount1';
/** Azurite's well-known development key (public, documented by Microsoft). */
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

interface Variant { name: 'azurite' | 'azuriteTls' | 'azuriteOauth'; tls: boolean; oauth: boolean }
const VARIANTS: Variant[] = [
  { name: 'azurite', tls: false, oauth: false },
  { name: 'azuriteTls', tls: true, oauth: false },
  { name: 'azuriteOauth', tls: true, oauth: true },
];

export const startAzurite: GlobalServerStarter = async ({ tmpDir, tls }) => {
  const started: StartedProcess[] = [];
  const servers: Record<string, AzuriteInfo> = {};
  try {
    await Promise.all(VARIANTS.map(async (v) => {
      const one = await startAzuriteInstance(path.join(tmpDir, v.name), v.name, v.tls ? tls : undefined, v.oauth);
      started.push(one.proc);
      servers[v.name] = one.info;
    }));
  } catch (err) {
    await Promise.all(started.map((p) => p.stop()));
    throw err;
  }
  const result: StartedServers = { servers, stop: async () => { await Promise.all(started.map((p) => p.stop())); } };
  return result;
};

/** One Azurite in `dir` (created) with container TEST_BUCKET; HTTPS when `tls` is given. */
export async function startAzuriteInstance(dir: string, name = 'azurite', tls?: TlsMaterial, oauth = false): Promise<{ info: AzuriteInfo; proc: StartedProcess }> {
  const bin = path.join(SERVERS_DIR, 'node_modules', 'azurite', 'dist', 'src', 'blob', 'main.js');
  if (!fs.existsSync(bin)) throw new Error(`azurite is not installed: expected ${bin} (cd test/servers && npm ci --omit=optional)`);
  fs.mkdirSync(dir, { recursive: true });
  const args = [bin, '--blobHost', '127.0.0.1', '--blobPort', '0', '--location', dir,
    '--skipApiVersionCheck', '--loose', '--disableTelemetry', '--silent'];
  if (tls) args.push('--cert', tls.certFile, '--key', tls.keyFile);
  if (oauth) args.push('--oauth', 'basic');
  const proc = await startProcess(process.execPath, args, /successfully listens on (https?:\/\/[\d.]+:\d+)/, { name, cwd: dir, timeoutMs: 60_000 });
  try {
    const endpoint = proc.match[1] as string;
    const accountUrl = `${endpoint}/${AZURITE_ACCOUNT}`;
    const info: AzuriteInfo = {
      accountUrl, account: AZURITE_ACCOUNT, accountKey: AZURITE_KEY,
      connectionString: `DefaultEndpointsProtocol=${tls ? 'https' : 'http'};AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${accountUrl};`,
    };
    await createContainer(info, TEST_BUCKET, tls);
    return { info, proc };
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

/** Creates a container with the account key (tests that need more containers call this too). */
export async function createContainer(info: AzuriteInfo, container: string, tls?: Pick<TlsMaterial, 'caFile'>): Promise<void> {
  const { ContainerClient, StorageSharedKeyCredential, newPipeline } = await import('@azure/storage-blob');
  const pipeline = newPipeline(new StorageSharedKeyCredential(info.account, info.accountKey), { retryOptions: { maxTries: 2 } });
  if (tls) {
    const agent = new https.Agent({ ca: fs.readFileSync(tls.caFile) });
    pipeline.factories.unshift({ create: (next) => ({ sendRequest: (req) => { req.agent = agent; return next.sendRequest(req); } }) });
  }
  await new ContainerClient(`${info.accountUrl}/${container}`, pipeline).createIfNotExists();
}
