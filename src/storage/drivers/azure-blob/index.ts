/**
 * Azure Blob Storage driver entry point, loaded lazily by the registry. With an account key or a SAS the store is
 * the lean one (lean-store.ts: WAL archiving's and restore's requests on node:http, no SDK), which opens the SDK
 * store on first need; Entra ID credentials use the SDK store alone. Nothing else imports the Azure SDK, and
 * @azure/identity is loaded only for Entra ID credentials (credentials.ts).
 */
import { http, https, tls } from '../../node-net.js';
import type * as httpT from 'node:http';
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
  // A proxy named in the environment is honoured by the SDK only: the lean store would connect directly.
  const secret = options.proxied ? undefined : leanSecret(auth);
  if (secret) {
    const caPem = options.ca?.pem;
    const agentOptions = { keepAlive: true };
    const agents = {
      httpAgent: new http.Agent(agentOptions) as httpT.Agent,
      // The private CA is added to Node's bundled roots, not used instead of them (as for the SDK store).
      httpsAgent: new https.Agent({ ...agentOptions, ...(caPem ? { ca: [...tls.rootCertificates, caPem] } : {}) }) as httpT.Agent,
    };
    return new LeanAzureBlobStore({
      accountName: auth.accountName, endpoint, containerName: destination.bucket, ...secret, credential: describeAuth(auth),
      tuning,
      ...(options.azure?.encryptionScope ? { encryptionScope: options.azure.encryptionScope } : {}),
      ...(options.readTimeoutSeconds ? { readTimeoutMs: options.readTimeoutSeconds * 1000 } : {}),
    }, { ...agents, openSdkStore: () => createSdkStore(destination, options) });
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

/** The store on the Azure SDK alone (every operation; tests compare the lean store with it). */
export async function createSdkStore(destination: Destination, options: StoreOptions): Promise<ObjectStore> {
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
  let agent: InstanceType<typeof https.Agent> | undefined;
  if (caPem && endpoint.toLowerCase().startsWith('https:')) {
    // The private CA is added to Node's bundled roots, not used instead of them.
    const httpsAgent = new https.Agent({ keepAlive: true, ca: [...tls.rootCertificates, caPem] });
    agent = httpsAgent;
    pipeline.factories.unshift({ create: (next) => ({ sendRequest: (req) => { req.agent = httpsAgent; return next.sendRequest(req); } }) });
  }

  const sas = auth.kind === 'sas' ? auth.sasToken : auth.kind === 'connection-string' && !auth.accountKey ? auth.sasToken : undefined;
  const containerUrl = `${endpoint}/${encodeURIComponent(destination.bucket)}${sas ? `?${sas}` : ''}`;
  const container = new blobSdk.ContainerClient(containerUrl, pipeline);
  return new AzureBlobStore({
    container, containerName: destination.bucket, endpoint, credential: credentialName, tuning,
    credentialKind: auth.kind === 'token' ? 'token' : sas ? 'sas' : 'key',
    ...(options.azure?.encryptionScope ? { encryptionScope: options.azure.encryptionScope } : {}),
    ...(agent ? { onClose: () => agent.destroy() } : {}),
  });
}
