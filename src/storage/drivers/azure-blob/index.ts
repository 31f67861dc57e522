/**
 * Azure Blob Storage driver entry point, loaded lazily by the registry: nothing else imports the Azure SDK,
 * and @azure/identity is loaded only for Entra ID credentials (credentials.ts).
 */
import { https, tls } from '../../node-net.js';
import type * as httpsT from 'node:https';
import type { ObjectStore } from '../../object-store.js';
import type { Destination, StoreOptions } from '../../store-options.js';
import { ConfigError } from '../../../errors.js';
import { VERSION } from '../../../version.js';
import { describeAuth, resolveAzureAuth, resolveTuning } from './config.js';
import { buildCredential } from './credentials.js';
import { AzureBlobStore } from './azure-blob-store.js';
import { blobSdk } from './sdk.js';

export async function createStore(destination: Destination, options: StoreOptions): Promise<ObjectStore> {
  const auth = resolveAzureAuth(destination, options);
  const tuning = resolveTuning(options.azure);
  const credentialName = describeAuth(auth);
  const endpoint = auth.blobEndpoint.replace(/\/+$/, '');
  if (auth.kind === 'token' && !endpoint.toLowerCase().startsWith('https:')) {
    throw new ConfigError(`${credentialName} sends bearer tokens, which Azure only accepts over https; the endpoint is ${endpoint}`, 'destinationPath');
  }

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
  let agent: httpsT.Agent | undefined;
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
