/**
 * GCS driver entry point (loaded lazily by the registry): the only place that loads @google-cloud/storage and
 * google-auth-library, so an S3 or Azure command never pays for them.
 */
import { createRequire } from 'node:module';
import type * as httpT from 'node:http';
import { BlockList, isIP } from 'node:net';
import { http, https, tls } from '../../node-net.js';
import { ConfigError } from '../../../errors.js';
import type { ObjectStore } from '../../object-store.js';
import type { Destination, StoreOptions } from '../../store-options.js';
import { DEFAULT_GCS_ENDPOINT, GCS_SCOPE, GOOGLE_TOKEN_URLS, resolveGcsConfig, type GcsConfig } from './config.js';
import { GcsObjectStore } from './gcs-store.js';
import { nativeCrc32cGenerator } from './native-crc32c.js';
import { leanTokenSource, type TokenAgent, type TokenSource } from './lean-token.js';
import { agentFor, endpointAgents } from '../../proxy-agents.js';
import { endpointProxy, type ProxyVariables } from '../../proxy-choice.js';

/**
 * The SDKs are loaded here only, on first use, through require(): the CommonJS build of @google-cloud/storage
 * loads in about 135 ms of CPU against 205 ms for its ESM build (hyperfine, Node 20), and archive_command pays
 * that once per WAL segment. google-auth-library is CommonJS only. The build bundles both into one file
 * (scripts/bundle-sdks.mjs, dist/src/vendor/; ~55 instead of ~90 ms); without it they come from node_modules.
 * Both always come from the same place: GoogleAuth clients built here are handed to Storage.
 */
const requireSdk = createRequire(import.meta.url);
/** After a lean token request failed, the library's tokens are used this long before the lean way is tried again. */
const LEAN_TOKEN_RETRY_MS = 60_000;
type GoogleSdks = { storage: typeof import('@google-cloud/storage'); auth: typeof import('google-auth-library') };
let sdks: GoogleSdks | undefined;
function loadSdks(): GoogleSdks {
  if (sdks) return sdks;
  try {
    sdks = requireSdk('../../../vendor/@google-cloud/storage.cjs') as GoogleSdks;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
    sdks = { storage: requireSdk('@google-cloud/storage') as GoogleSdks['storage'], auth: requireSdk('google-auth-library') as GoogleSdks['auth'] };
  }
  return sdks;
}
const loadStorageSdk = (): GoogleSdks['storage'] => loadSdks().storage;
const loadAuthLibrary = (): GoogleSdks['auth'] => loadSdks().auth;

/**
 * Private CAs of the process's GCS stores. The SDK sends its JSON-API requests through teeny-request, whose
 * keep-alive HTTPS agent is one per process, built on first use from that request's `pool` options; it takes
 * no agent per request. So every store with a private CA hands it the same array, kept holding the system roots
 * plus the CAs of the stores open now (each counted, dropped when its last store closes). A second store with
 * another CA, or a rotated CA (the plugin opens a new engine), works: while both are open, each also trusts the
 * other's CA, on top of the system roots both trust anyway. Resumable uploads (gaxios) use the store's own
 * agent and its CA only. One order cannot work: a store without a private CA first (the agent is then built
 * without the array) and one with a private CA later in the same process; that one is refused, naming why.
 */
class SharedTrust {
  /** The array teeny-request's agent holds: changed in place, read for each new connection. */
  readonly ca: string[] = [];
  private readonly pems = new Map<string, number>();
  private plainStoreOpened = false;

  /** Registers a store's CA (or none); returns its release. */
  add(pem: string | undefined): () => void {
    if (pem === undefined) {
      this.plainStoreOpened = true;
      return () => {};
    }
    if (this.plainStoreOpened && this.pems.size === 0 && this.ca.length === 0) {
      throw new ConfigError('this process already opened a GCS store without a private CA, and the SDK\'s connection pool does not '
        + 'take one afterwards: open GCS stores with a private CA (endpointCA, --endpoint-ca) in a process of their own', 'endpointCA');
    }
    this.pems.set(pem, (this.pems.get(pem) ?? 0) + 1);
    this.refresh();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.pems.get(pem) ?? 1) - 1;
      if (n > 0) this.pems.set(pem, n);
      else this.pems.delete(pem);
      this.refresh();
    };
  }

  /** True once a store with a private CA was opened: teeny-request's agent must then get the array. */
  get active(): boolean {
    return this.ca.length > 0;
  }

  private refresh(): void {
    this.ca.splice(0, this.ca.length, ...tls.rootCertificates, ...this.pems.keys());
  }
}

const sharedTrust = new SharedTrust();

export async function createStore(destination: Destination, options: StoreOptions): Promise<ObjectStore> {
  const config = await resolveGcsConfig(destination, options);
  // The lean requests' connections: keep-alive, the private CA on top of the system roots, the endpoint's proxy.
  const endpoint = config.apiEndpoint ?? DEFAULT_GCS_ENDPOINT;
  const ca = config.caPem !== undefined && endpoint.startsWith('https:') ? [...tls.rootCertificates, config.caPem] : undefined;
  const agent = agentFor(await endpointAgents({ proxy: config.proxy, agent: { keepAlive: true }, ca }), endpoint);
  const tokenAgent = tokenAgents(config.proxyVariables);
  const release = sharedTrust.add(config.caPem);
  let sdkAuth: GcsTokenSource | undefined;
  const getSdkAuth = (): GcsTokenSource | undefined => (sdkAuth ??= createAuth(config, tokenAgent));
  // The SDK is loaded when a request needs it (the lean path does not take it), or at once for a credential kind
  // only google-auth-library reads.
  const lean = leanTokenSource(config.auth, tokenAgent);
  const auth: TokenSource | undefined = config.auth.kind === 'anonymous' ? undefined
    : lean ? withSdkFallback(lean, getSdkAuth) : getSdkAuth();
  const crc32cGenerator = nativeCrc32cGenerator();
  return new GcsObjectStore(() => sdkClients(config, getSdkAuth(), crc32cGenerator), config, auth, release, crc32cGenerator, agent);
}

/**
 * The agent for a token request: through the proxy the environment names for its URL, NO_PROXY honoured, as
 * google-auth-library's requests (gaxios) go. Except a link-local host or metadata.google.internal (the metadata
 * server), asked directly whatever the variables say: a proxy cannot reach this pod's node-local metadata server
 * (it would ask its own node's: another identity, or nothing), and pgstow's library path never proxied it.
 */
export function tokenAgents(vars: ProxyVariables | undefined): TokenAgent {
  return async (url) => {
    if (linkLocal(url.hostname)) return undefined;
    const proxy = endpointProxy(vars, url);
    return proxy ? agentFor(await endpointAgents({ proxy, agent: {} }), url) : undefined;
  };
}

const LINK_LOCAL = new BlockList();
LINK_LOCAL.addSubnet('169.254.0.0', 16, 'ipv4');
LINK_LOCAL.addSubnet('fe80::', 10, 'ipv6');

function linkLocal(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (host === 'metadata.google.internal') return true;
  const family = isIP(host);
  return family !== 0 && LINK_LOCAL.check(host, family === 6 ? 'ipv6' : 'ipv4');
}

/**
 * A lean token source that hands over to google-auth-library when it fails, so a key or a metadata server that
 * does not work fails with the library's errors and messages, as before. The lean source is tried again a minute
 * later: a GKE metadata server not ready yet when the sidecar starts must not keep the library in it for the pod's life.
 */
function withSdkFallback(lean: TokenSource, sdk: () => GcsTokenSource | undefined): TokenSource {
  let failedAt = -Infinity;
  return {
    async getAccessToken() {
      if (Date.now() - failedAt >= LEAN_TOKEN_RETRY_MS) {
        try {
          return await lean.getAccessToken();
        } catch {
          failedAt = Date.now();
        }
      }
      return (sdk() as GcsTokenSource).getAccessToken();
    },
  };
}

/** The SDK clients of a store (the SDK loaded now): single requests, and resumable uploads with their own budget. */
function sdkClients(config: GcsConfig, auth: GcsTokenSource | undefined, crc32cGenerator: ReturnType<typeof nativeCrc32cGenerator>):
  { storage: import('@google-cloud/storage').Storage; uploadStorage: import('@google-cloud/storage').Storage } {
  const { Storage, IdempotencyStrategy } = loadStorageSdk();
  const makeStorage = (retry: { maxRetries: number; totalTimeout: number }): import('@google-cloud/storage').Storage => new Storage({
    ...(config.apiEndpoint ? { apiEndpoint: config.apiEndpoint } : {}),
    ...(auth ? { authClient: auth, useAuthWithCustomEndpoint: true } : {}),
    ...(config.projectId ? { projectId: config.projectId } : {}),
    timeout: config.timeoutMs,
    ...(crc32cGenerator ? { crc32cGenerator } : {}),
    retryOptions: {
      autoRetry: true,
      // Every pgstow write is safe to repeat: same key, same bytes; create-if-absent callers compare contents.
      idempotencyStrategy: IdempotencyStrategy.RetryAlways,
      retryDelayMultiplier: 2,
      maxRetryDelay: 8,
      ...retry,
    },
  });
  // Single requests: few retries, because compose.ts wraps every store in a retrying decorator and the two multiply.
  const storage = makeStorage({ maxRetries: 2, totalTimeout: 120 });
  // Resumable uploads of one-shot streams, which only the SDK can retry (it keeps the last chunk). Its retry
  // budget counts for the whole upload, never per chunk, and its total timeout runs from the upload's start:
  // with the defaults (3 retries, 600 s) one network blip late in an hour-long base backup would fail it. So a
  // budget fit for hours: up to 50 failed chunk requests per upload, for up to 7 days.
  const uploadStorage = makeStorage({ maxRetries: 50, totalTimeout: 7 * 24 * 3600 });
  if (sharedTrust.active) {
    // Private CA for an HTTPS endpoint, on top of the system roots. The SDK sends requests two ways: gaxios
    // (resumable sessions and chunks) honours `agent`, the store's own; teeny-request (everything else) builds
    // its keep-alive agent from `pool` options on first use, once per process: the shared array, whichever
    // store's request comes first (a store without a CA passes it too once any store has one).
    const agent = config.caPem === undefined ? undefined : new https.Agent({ ca: [...tls.rootCertificates, config.caPem], keepAlive: true });
    const ca = sharedTrust.ca;
    type Interceptor = (typeof storage.interceptors)[number];
    const trustCa: Interceptor = {
      // The SDK types the input and output differently; it is the same request object, decorated in place.
      request: ((reqOpts: { pool?: object }) => Object.assign(reqOpts, { ...(agent ? { agent } : {}), pool: { ...reqOpts.pool, ca } })) as unknown as Interceptor['request'],
    };
    storage.interceptors.push(trustCa);
    uploadStorage.interceptors.push(trustCa);
  }
  return { storage, uploadStorage };
}

/** What the store asks for a token (GoogleAuth, or an OAuth2Client such as the metadata server client). */
export type GcsTokenSource = import('google-auth-library').GoogleAuth | import('google-auth-library').OAuth2Client;

function createAuth(config: GcsConfig, tokenAgent: TokenAgent): GcsTokenSource | undefined {
  if (config.auth.kind === 'anonymous') return undefined;
  const { GoogleAuth, gaxios } = loadAuthLibrary();
  if (config.auth.kind === 'application-default') return metadataServerClient(config.auth.metadataHost, tokenAgent);
  const tokenUri = config.auth.tokenUri;
  let clientOptions: { transporter: InstanceType<typeof gaxios.Gaxios> } | undefined;
  if (tokenUri !== undefined) {
    // The Node library always posts to Google's token URL; the key's own token_uri (private or test
    // deployments, honoured by Python's google-auth and so by barman) is applied here.
    const transporter = new gaxios.Gaxios();
    transporter.interceptors.request.add({
      resolved: async (cfg) => (GOOGLE_TOKEN_URLS.includes(String(cfg.url)) ? { ...cfg, url: new URL(tokenUri) } : cfg),
    });
    clientOptions = { transporter };
  }
  return new GoogleAuth({
    scopes: [GCS_SCOPE],
    credentials: config.auth.json as import('google-auth-library').JWTInput,
    ...(clientOptions ? { clientOptions } : {}),
  });
}

/**
 * Access tokens from the metadata server at `host` (GKE workload identity, GCE). Google's own Compute client
 * takes the server's address from process.env (GCE_METADATA_HOST) only, one per process; this one is told,
 * so every store asks its own. Tokens are cached by OAuth2Client until shortly before they expire.
 */
function metadataServerClient(host: string, tokenAgent: TokenAgent): import('google-auth-library').OAuth2Client {
  const { Compute } = loadAuthLibrary();
  class MetadataServerClient extends Compute {
    override async refreshTokenNoCache(): Promise<{ tokens: import('google-auth-library').Credentials; res: null }> {
      const url = `http://${host}/computeMetadata/v1/instance/service-accounts/default/token?scopes=${encodeURIComponent(GCS_SCOPE)}`;
      const body = await metadataGet(url, await tokenAgent(new URL(url)));
      const tokens = JSON.parse(body) as { access_token?: string; expires_in?: number; token_type?: string };
      if (typeof tokens.access_token !== 'string') throw new Error(`the metadata server at ${host} issued no access token`);
      return { tokens: { access_token: tokens.access_token, token_type: tokens.token_type ?? 'Bearer', expiry_date: Date.now() + (tokens.expires_in ?? 3600) * 1000 }, res: null };
    }
  }
  return new MetadataServerClient({ scopes: [GCS_SCOPE] });
}

/** One GET with Metadata-Flavor: Google; network errors keep their code (ECONNREFUSED…) for the classifier. */
function metadataGet(url: string, agent: httpT.Agent | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { 'Metadata-Flavor': 'Google' }, timeout: 10_000, ...(agent ? { agent } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === 200) resolve(text);
        else reject(Object.assign(new Error(`the metadata server answered ${res.statusCode}: ${text.slice(0, 200)}`), { response: { status: res.statusCode } }));
      });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('the metadata server did not answer in 10 s'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
  });
}
