/**
 * A loopback stand-in for the Entra ID endpoints @azure/identity talks to, over HTTPS with the harness CA:
 *  - the App Service managed-identity endpoint (IDENTITY_ENDPOINT + IDENTITY_HEADER): GET /msi/token;
 *  - an OIDC authority for workload identity (AZURE_AUTHORITY_HOST): GET /<tenant>/v2.0/.well-known/
 *    openid-configuration and POST /<tenant>/oauth2/v2.0/token with the federated token as client assertion.
 * It issues unsigned JWTs with the claims Azurite's `--oauth basic` checks (issuer, audience, lifetime), and
 * records every request so tests can prove the token the SDK obtained is the one that authorised them.
 * `audience` lets a test issue tokens Azurite must refuse.
 */
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TlsMaterial } from '../test-env.js';

export interface TokenRequestRecord {
  kind: 'managed-identity' | 'oidc-metadata' | 'client-assertion' | 'client-secret';
  path: string;
  /** Query parameters (managed identity) or form fields (token endpoint), secrets included: test-only. */
  params: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  /** Token issued, if any. */
  token?: string;
}

export interface TokenServer {
  url: string;
  /** Value the managed-identity endpoint requires in X-IDENTITY-HEADER. */
  identityHeader: string;
  tenantId: string;
  /** Contents of the federated token file the client must present as client_assertion. */
  federatedToken: string;
  /** Service principal secret the token endpoint accepts as client_secret (EnvironmentCredential). */
  clientSecret: string;
  requests: TokenRequestRecord[];
  /** Audience of the tokens issued from now on (default https://storage.azure.com). */
  audience: string;
  close: () => Promise<void>;
}

const b64url = (v: object | string): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

export function makeJwt(tenantId: string, audience: string, subject: string): string {
  const now = Math.floor(Date.now() / 1000);
  return [
    b64url({ alg: 'RS256', typ: 'JWT' }),
    b64url({ aud: audience, iss: `https://sts.windows.net/${tenantId}/`, iat: now - 60, nbf: now - 60, exp: now + 3600, oid: subject, sub: subject, tid: tenantId, ver: '1.0' }),
    b64url('unsigned-test-signature'),
  ].join('.');
}

export async function startTokenServer(tls: TlsMaterial, options: { tenantId?: string; federatedToken?: string } = {}): Promise<TokenServer> {
  const tenantId = options.tenantId ?? '72f988bf-86f1-41af-91ab-2d7cd011db47';
  const state: TokenServer = {
    url: '', identityHeader: `header-${Math.random().toString(36).slice(2)}`, tenantId,
    federatedToken: options.federatedToken ?? makeJwt(tenantId, 'api://AzureADTokenExchange', 'system:serviceaccount:ns:sa'),
    clientSecret: `secret-${Math.random().toString(36).slice(2)}`,
    requests: [], audience: 'https://storage.azure.com', close: async () => undefined,
  };
  const server = https.createServer({ cert: fs.readFileSync(tls.certFile), key: fs.readFileSync(tls.keyFile) }, (req, res) => {
    const u = new URL(req.url ?? '/', state.url);
    const send = (status: number, body: object): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    let raw = '';
    req.on('data', (d: Buffer) => { raw += d.toString(); });
    req.on('end', () => {
      if (req.method === 'GET' && u.pathname === '/msi/token') {
        const params = Object.fromEntries(u.searchParams);
        const rec: TokenRequestRecord = { kind: 'managed-identity', path: u.pathname, params, headers: req.headers };
        state.requests.push(rec);
        if (req.headers['x-identity-header'] !== state.identityHeader) { send(401, { error: 'bad X-IDENTITY-HEADER' }); return; }
        if (!params.resource) { send(400, { error: 'resource missing' }); return; }
        const subject = params.client_id ?? 'system-assigned';
        rec.token = makeJwt(tenantId, state.audience, subject);
        const expiresOn = Math.floor(Date.now() / 1000) + 3600;
        send(200, { access_token: rec.token, expires_on: String(expiresOn), resource: params.resource, token_type: 'Bearer', client_id: params.client_id ?? 'system-assigned-client' });
        return;
      }
      const meta = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(u.pathname);
      if (req.method === 'GET' && meta) {
        state.requests.push({ kind: 'oidc-metadata', path: u.pathname, params: {}, headers: req.headers });
        const base = `${state.url}/${meta[1]}`;
        send(200, {
          token_endpoint: `${base}/oauth2/v2.0/token`, authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
          end_session_endpoint: `${base}/oauth2/v2.0/logout`, device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
          issuer: `${base}/v2.0`, jwks_uri: `${base}/discovery/v2.0/keys`,
          response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
          scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
          token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
        });
        return;
      }
      if (req.method === 'POST' && /^\/[^/]+\/oauth2\/v2\.0\/token$/.test(u.pathname)) {
        const params = Object.fromEntries(new URLSearchParams(raw));
        const bySecret = params.client_secret !== undefined;
        const rec: TokenRequestRecord = { kind: bySecret ? 'client-secret' : 'client-assertion', path: u.pathname, params, headers: req.headers };
        state.requests.push(rec);
        if (bySecret ? params.client_secret !== state.clientSecret : params.client_assertion !== state.federatedToken) { send(401, { error: 'invalid_client', error_description: 'AADSTS700213: client assertion does not match the federated token' }); return; }
        rec.token = makeJwt(tenantId, state.audience, params.client_id ?? 'unknown');
        send(200, { token_type: 'Bearer', expires_in: 3600, ext_expires_in: 3600, access_token: rec.token });
        return;
      }
      send(404, { error: 'not_found', path: u.pathname });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  return state;
}
