/**
 * Azure Blob Storage driver entry point, loaded lazily by the registry. With an account key or a SAS the store is
 * the lean one (lean-store.ts: WAL archiving's and restore's requests on node:http, no SDK), which opens the SDK
 * store on first need; Entra ID credentials use the SDK store alone. Nothing else imports the Azure SDK, and
 * @azure/identity is loaded only for Entra ID credentials (credentials.ts).
 */
import { tls } from '../../node-net.js';
import { agentFor, endpointAgents, type EndpointAgents } from '../../proxy-agents.js';
import { endpointProxy, proxyLabel } from '../../proxy-choice.js';
import type { ObjectStore } from '../../object-store.js';
import type { Destination, StoreOptions } from '../../store-options.js';
import { ConfigError } from '../../../errors.js';
import { VERSION } from '../../../version.js';
import { describeAuth, resolveAzureAuth, resolveTuning, type AzureAuth } from './config.js';
import { AzureBlobStore } from './azure-blob-store.js';
import { LeanAzureBlobStore } from './lean-store.js';

export async function createStore(destination: Destination, options: StoreOptions): Promise<ObjectStore> {
  const auth = resolveAzureAuth(destination, options);
  const tuning = resolveTuning(options.azure);
  const endpoint = auth.blobEndpoint.replace(/\/+$/, '');
  if (auth.kind === 'token' && !endpoint.toLowerCase().startsWith('https:')) {
    throw new ConfigError(`${describeAuth(auth)} sends bearer tokens, which Azure only accepts over https; the endpoint is ${endpoint}`, 'destinationPath');
  }
  const secret = leanSecret(auth);
  if (secret) {
    const agents = await azureAgents(endpoint, options);
    return new LeanAzureBlobStore({
      accountName: auth.accountName, endpoint, containerName: destination.bucket, ...secret, credential: describeAuth(auth),
      tuning,
      ...(options.azure?.encryptionScope ? { encryptionScope: options.azure.encryptionScope } : {}),
      ...(options.readTimeoutSeconds ? { readTimeoutMs: options.readTimeoutSeconds * 1000 } : {}),
      ...(agents.proxy ? { proxy: proxyLabel(agents.proxy) } : {}),
    }, { ...agents, openSdkStore: () => createSdkStore(destination, options, agents) });
  }
  return createSdkStore(destination, options);
}

/** The account key (Shared Key) or the SAS the lean store signs with; undefined for Entra ID credentials. */
function leanSecret(auth: AzureAuth): { accountKey: Buffer } | { sas: string } | undefined {
  switch (auth.kind) {
    case 'shared-key': return { accountKey: Buffer.from(auth.accountKey, 'base64') };
    case 'sas': return { sas: auth.sasToken };
    case 'connection-string':
      return auth.accountKey ? { accountKey: Buffer.from(auth.accountKey, 'base64') } : auth.sasToken ? { sas: auth.sasToken } : undefined;
    case 'token': return undefined;
  }
}

/**
 * Keep-alive agents with the private CA added to Node's bundled roots (not used instead of them), through the proxy
 * the environment names for the endpoint (proxy-agents.ts; none: direct).
 */
async function azureAgents(endpoint: string, options: StoreOptions): Promise<EndpointAgents & { proxy: URL | undefined }> {
  const proxy = endpointProxy(options.proxy, new URL(endpoint));
  const caPem = options.ca?.pem;
  return { ...await endpointAgents({ proxy, agent: { keepAlive: true }, ca: caPem ? [...tls.rootCertificates, caPem] : undefined }), proxy };
}

/** The store on the Azure SDK alone (every operation; tests compare the lean store with it). */
export async function createSdkStore(destination: Destination, options: StoreOptions, leanAgents?: EndpointAgents & { proxy: URL | undefined }): Promise<ObjectStore> {
  const { blobSdk } = await import('./sdk.js');
  const { buildCredential } = await import('./credentials.js');
  const auth = resolveAzureAuth(destination, options);
  const tuning = resolveTuning(options.azure);
  const credentialName = describeAuth(auth);
  const endpoint = auth.blobEndpoint.replace(/\/+$/, '');
  const caPem = options.ca?.pem;
  const credential = await buildCredential(auth, caPem);
  const pipeline = blobSdk.newPipeline(credential, {
    // Short back-off: archive_command is retried by PostgreSQL, and a dead endpoint should fail in seconds.
    retryOptions: {
      maxTries: 4, retryDelayInMs: 500, maxRetryDelayInMs: 8000,
      ...(options.readTimeoutSeconds ? { tryTimeoutInMs: options.readTimeoutSeconds * 1000 } : {}),
    },
    userAgentOptions: { userAgentPrefix: `pgstow/${VERSION}` },
  });
  // With a private CA or proxy variables, every request takes pgstow's agents (the lean store's, when it opened this
  // one): the CA on top of the system roots, and the same proxy choice as the lean requests (NO_PROXY included).
  // The SDK's own proxy policy, which reads process.env, then stands aside (it skips a request that has an agent).
  const ownAgents = (caPem !== undefined && endpoint.toLowerCase().startsWith('https:')) || options.proxy !== undefined;
  const agents = ownAgents ? leanAgents ?? await azureAgents(endpoint, options) : undefined;
  if (agents) {
    pipeline.factories.unshift({ create: (next) => ({ sendRequest: (req) => { req.agent = agentFor(agents, req.url); return next.sendRequest(req); } }) });
  }
  const sas = auth.kind === 'sas' ? auth.sasToken : auth.kind === 'connection-string' && !auth.accountKey ? auth.sasToken : undefined;
  const containerUrl = `${endpoint}/${encodeURIComponent(destination.bucket)}${sas ? `?${sas}` : ''}`;
  const container = new blobSdk.ContainerClient(containerUrl, pipeline);
  return new AzureBlobStore({
    container, containerName: destination.bucket, endpoint, credential: credentialName, tuning,
    credentialKind: auth.kind === 'token' ? 'token' : sas ? 'sas' : 'key',
    ...(options.azure?.encryptionScope ? { encryptionScope: options.azure.encryptionScope } : {}),
    ...(agents?.proxy ? { proxy: proxyLabel(agents.proxy) } : {}),
    ...(agents && !leanAgents ? { onClose: () => { agents.httpAgent.destroy(); agents.httpsAgent.destroy(); } } : {}),
  });
}
