/**
 * S3 driver entry point, loaded lazily by the registry: the AWS SDK is imported only here and below, and only
 * when a store needs it (static keys for an endpoint read and archive WAL without it: lean-reads.ts).
 * Builds the S3Client from the resolved settings: credentials as CloudNativePG passes them, private CA
 * added to the system roots, checksum mode for S3-compatible servers, read timeout, keep-alive sockets.
 */
import * as dns from 'node:dns';
import { tls } from '../../node-net.js';
import { endpointAgents } from '../../proxy-agents.js';
import type * as httpT from 'node:http';
import type * as httpsT from 'node:https';
import type { LookupFunction } from 'node:net';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import type { ObjectStore, StoreCapabilities } from '../../object-store.js';
import type { CaBundle, Destination, StoreOptions } from '../../store-options.js';
import { credentialSource, resolveS3Settings, type S3Settings } from './config.js';
import { LeanReadS3Store } from './lean-reads.js';
import { LeanS3Store } from './lean-multipart.js';
import type { StaticKeys } from './signer.js';
import type { CreateOnlyGuard } from './create-only.js';

/** Credentials and the CA are read from options.live per request when the composition watches a config. */
export const liveSettings = true;

interface Agents { httpAgent: httpT.Agent; httpsAgent: httpT.Agent }

export async function createStore(destination: Destination, options: StoreOptions): Promise<ObjectStore> {
  const settings = resolveS3Settings(destination, options);
  const c = settings.credentials;
  // Static keys for an endpoint: reads, WAL archiving's writes and a backup's multipart uploads without the SDK
  // client (lean-reads.ts, lean-multipart.ts), which loads on first need and shares the sockets (with the live
  // CA), the capabilities and the create-only probe.
  // Watched keys are read per request, as the SDK store does.
  if (c.kind === 'static' && LeanReadS3Store.suits(settings)) {
    const agents = await agentsFor(settings, options.ca, options.live);
    const live = options.live ? liveCredentials(settings, options.live) : undefined;
    return new LeanS3Store(settings, {
      keys: live ? live.current : () => c,
      ...agents,
      openSdkStore: (capabilities, createOnly) => sdkStore(settings, options, agents, capabilities, createOnly),
    });
  }
  return sdkStore(settings, options);
}

/** The store on the AWS SDK client alone, every read included (tests compare the lean reads with it). */
export async function createSdkStore(destination: Destination, options: StoreOptions): Promise<ObjectStore> {
  return sdkStore(resolveS3Settings(destination, options), options);
}

/** The store on the AWS SDK client (loaded here: every S3 operation the lean store does not cover). */
async function sdkStore(settings: S3Settings, options: StoreOptions, agents?: Agents, capabilities?: StoreCapabilities, createOnly?: CreateOnlyGuard): Promise<ObjectStore> {
  const { s3sdk } = await import('./sdk.js');
  const { S3ObjectStore } = await import('./s3-store.js');
  const live = options.live ? liveCredentials(settings, options.live) : undefined;
  const client = new s3sdk.S3Client({ ...await clientConfig(settings, options.ca, options.live, agents), ...(live ? { credentials: live.provider } : {}) });
  await addContentMd5ForDeleteObjects(client);
  const keyId = settings.credentials.kind === 'static' ? settings.credentials.accessKeyId : undefined;
  return new S3ObjectStore(client, settings, live ? live.keyId : () => keyId, capabilities, createOnly);
}

/**
 * Access keys re-read from the watched config for every request. The identity is returned already "expired" so
 * the SDK's memoizer asks again each time (reading an in-memory value); requests signed before a rotation,
 * such as parts of an upload in flight, are unaffected, and every later request is signed with the new key.
 * Only static keys rotate this way: the AWS chains (IRSA, profiles) refresh themselves.
 */
function liveCredentials(settings: S3Settings, live: NonNullable<StoreOptions['live']>):
  { provider: () => Promise<AwsIdentity>; keyId: () => string | undefined; current: () => StaticKeys } | undefined {
  if (settings.credentials.kind !== 'static') return undefined;
  let last = settings.credentials;
  const current = (): typeof last => {
    try {
      const c = credentialSource(live().credentials);
      if (c.kind === 'static') last = c;
    } catch {
      // Credentials of another kind now: keep signing with the last access key (the engine refuses such a change).
    }
    return last;
  };
  return {
    provider: async () => {
      const c = current();
      return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, ...(c.sessionToken ? { sessionToken: c.sessionToken } : {}), expiration: new Date() };
    },
    keyId: () => current().accessKeyId,
    current,
  };
}

interface AwsIdentity { accessKeyId: string; secretAccessKey: string; sessionToken?: string; expiration?: Date }

/** The private CA added to the system roots (AWS endpoints keep working next to it). */
function trusted(ca: CaBundle): string[] {
  return [...tls.rootCertificates, ca.pem];
}

/**
 * Makes an https agent's CA follow the engine's settings: before each request it takes the current CA. Node
 * pools sockets by CA, so connections made with the old CA serve requests already running on them and new
 * requests connect with the new CA. Works for a tunnelling proxy agent too (its TLS to the endpoint takes the
 * agent's options).
 */
function followLiveCa<A extends httpT.Agent>(agent: A, initialPem: string | undefined, caNow: () => CaBundle | undefined): A {
  let pem = initialPem;
  const options = (agent as unknown as { options: httpsT.AgentOptions }).options;
  const addRequest = (agent as unknown as { addRequest(r: httpT.ClientRequest, o: httpsT.RequestOptions): void }).addRequest;
  Object.defineProperty(agent, 'addRequest', {
    value(req: httpT.ClientRequest, reqOptions: httpsT.RequestOptions): void {
      const ca = caNow();
      if (ca?.pem !== pem) {
        if (ca) options.ca = trusted(ca);
        else delete options.ca;
        pem = ca?.pem;
      }
      addRequest.call(agent, req, reqOptions);
    },
  });
  return agent;
}

/**
 * Keep-alive sockets, the private CA added to the system roots, *.localhost as loopback; through the proxy the
 * environment names for the endpoint (as botocore: CONNECT for https endpoints, absolute URLs for http ones).
 */
async function agentsFor(settings: S3Settings, caBundle: CaBundle | undefined, live?: StoreOptions['live']): Promise<Agents> {
  const ca = caBundle ? trusted(caBundle) : undefined;
  const agents = await endpointAgents({ proxy: settings.proxy, agent: { keepAlive: true, maxSockets: 64, lookup: loopbackAwareLookup }, ca });
  return { httpAgent: agents.httpAgent, httpsAgent: live ? followLiveCa(agents.httpsAgent, caBundle?.pem, () => live().ca) : agents.httpsAgent };
}

export async function clientConfig(settings: S3Settings, caBundle: CaBundle | undefined, live?: StoreOptions['live'], agents?: Agents): Promise<S3ClientConfig> {
  const { httpHandler } = await import('./sdk.js');
  const requestHandler = new httpHandler.NodeHttpHandler({
    ...(agents ?? await agentsFor(settings, caBundle, live)),
    connectionTimeout: settings.readTimeoutMs,
    // Barman's --read-timeout is botocore's socket read timeout: no byte for this long fails the request
    // (also mid-download). Not requestTimeout, which bounds a whole request (a 5 GiB part may take minutes).
    socketTimeout: settings.readTimeoutMs,
  });
  return {
    region: settings.region,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : { followRegionRedirects: true }),
    forcePathStyle: settings.forcePathStyle,
    requestChecksumCalculation: settings.requestChecksumCalculation,
    responseChecksumValidation: settings.responseChecksumValidation,
    requestHandler,
    ...(settings.expectContinue ? {} : { expectContinueHeader: false }),
    maxAttempts: 3,
    credentials: await credentialsFor(settings),
    // The SDK's default logger is silent except for one message it writes to the console itself when a streamed
    // upload fails ("An error was encountered in a non-retryable streaming request."): a library must not write
    // to the host's console (a command's stderr is one line naming the cause). The error is thrown all the same.
    logger: SILENT_SDK_LOGGER,
  };
}

const SILENT_SDK_LOGGER = { trace: () => {}, debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

async function credentialsFor(settings: S3Settings): Promise<S3ClientConfig['credentials']> {
  const c = settings.credentials;
  const stsConfig = { region: settings.region, ...(settings.stsEndpoint ? { endpoint: settings.stsEndpoint } : {}) };
  switch (c.kind) {
    case 'static':
      return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, ...(c.sessionToken ? { sessionToken: c.sessionToken } : {}) };
    case 'web-identity': {
      const { fromTokenFile } = await import('@aws-sdk/credential-provider-web-identity');
      return memoize(fromTokenFile({
        roleArn: c.roleArn, webIdentityTokenFile: c.tokenFile, roleSessionName: c.sessionName ?? `pgstow-${process.pid}`,
        clientConfig: stsConfig,
      }));
    }
    case 'profile':
    case 'default-chain': {
      const { defaultProvider } = await import('@aws-sdk/credential-provider-node');
      const files = c.kind === 'profile' ? { ...(c.credentialsFile ? { filepath: c.credentialsFile } : {}), ...(c.configFile ? { configFilepath: c.configFile } : {}) } : {};
      return defaultProvider({ ...(c.kind === 'profile' ? { profile: c.profile, ...files } : {}), clientConfig: stsConfig });
    }
  }
}

/** Caches the provider's answer until shortly before it expires (fromTokenFile alone re-calls STS each time). */
function memoize<T extends { expiration?: Date }>(provider: () => Promise<T>): () => Promise<T> {
  let cached: T | undefined;
  let pending: Promise<T> | undefined;
  return async () => {
    if (cached && (!cached.expiration || cached.expiration.getTime() - Date.now() > 5 * 60_000)) return cached;
    pending ??= provider().finally(() => { pending = undefined; });
    cached = await pending;
    return cached;
  };
}

/** RFC 6761: every *.localhost name is loopback (glibc does not resolve them; virtual-host tests need it). */
const loopbackAwareLookup: LookupFunction = (hostname, options, callback) => {
  if (/\.localhost\.?$/i.test(hostname)) {
    if (options.all) (callback as (e: null, a: dns.LookupAddress[]) => void)(null, [{ address: '127.0.0.1', family: 4 }]);
    else callback(null, '127.0.0.1', 4);
    return;
  }
  dns.lookup(hostname, options, callback);
};

/** DeleteObjects must carry Content-MD5 on many S3-compatible servers even in when_required mode (aws-sdk-js-v3#6819). */
async function addContentMd5ForDeleteObjects(client: S3Client): Promise<void> {
  const { contentMd5 } = await import('./s3-store.js');
  client.middlewareStack.add((next, context) => async (args) => {
    if (context.commandName === 'DeleteObjectsCommand') {
      const req = args.request as { headers?: Record<string, string>; body?: unknown };
      if (req.headers && !Object.keys(req.headers).some((h) => h.toLowerCase() === 'content-md5')) {
        const md5 = contentMd5(req.body);
        if (md5) req.headers['content-md5'] = md5;
      }
    }
    return next(args);
  }, { step: 'build', name: 'pgstowDeleteObjectsContentMd5', priority: 'low' });
}
