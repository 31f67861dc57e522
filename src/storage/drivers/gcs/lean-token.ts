/**
 * Google access tokens without google-auth-library, for the two credential kinds CloudNativePG users have: a
 * service-account JSON key (an RS256-signed JWT exchanged at the key's token endpoint, signed with node:crypto)
 * and the metadata server (GKE workload identity, GCE). Loading the library means loading the whole bundled
 * Google SDK (~80 ms CPU, ~20 MiB per process). A token is kept until 5 minutes before it expires, as the
 * library's OAuth2Client does, and one request serves concurrent callers. Tokens are never logged or put in
 * messages. Any failure is the caller's cue to ask the library instead (gcs-store.ts), so the errors and messages
 * of a credential that does not work stay the SDK path's.
 */
import { createSign } from 'node:crypto';
import type * as httpT from 'node:http';
import { http, https } from '../../node-net.js';
import { GCS_SCOPE, GOOGLE_TOKEN_URLS, type GcsAuth } from './config.js';

/** Refresh this long before expiry (google-auth-library's eagerRefreshThresholdMillis). */
const REFRESH_MARGIN_MS = 5 * 60 * 1000;
/** Longest token answer read (a token and its expiry are well under 4 KiB). */
const MAX_ANSWER = 64 * 1024;
const TOKEN_TIMEOUT_MS = 10_000;

/** What the store asks for a token: { token } as google-auth-library's getAccessToken() answers. */
export interface TokenSource {
  getAccessToken(): Promise<{ token?: string | null } | string | null | undefined>;
}

type Fetched = { token: string; expiresAt: number };

/** The agent for a token request to `url` (the proxy the environment names for it), or undefined: Node's global one. */
export type TokenAgent = (url: URL) => Promise<httpT.Agent | undefined>;

/** A lean token source for `auth`, or undefined for a kind only the library handles (user, external account…). */
export function leanTokenSource(auth: GcsAuth, agentFor: TokenAgent = async () => undefined): TokenSource | undefined {
  if (auth.kind === 'application-default') return cached(() => metadataToken(auth.metadataHost, agentFor));
  if (auth.kind !== 'key-file' || auth.json.type !== 'service_account') return undefined;
  const { client_email: email, private_key: key, private_key_id: kid } = auth.json;
  if (typeof email !== 'string' || typeof key !== 'string') return undefined;
  const tokenUri = auth.tokenUri ?? GOOGLE_TOKEN_URLS[0] as string;
  return cached(() => serviceAccountToken(email, key, typeof kid === 'string' ? kid : undefined, tokenUri, agentFor));
}

function cached(fetch: () => Promise<Fetched>): TokenSource {
  let current: Fetched | undefined;
  let pending: Promise<Fetched> | undefined;
  return {
    async getAccessToken() {
      if (current && current.expiresAt - REFRESH_MARGIN_MS > Date.now()) return { token: current.token };
      pending ??= fetch().finally(() => { pending = undefined; });
      current = await pending;
      return { token: current.token };
    },
  };
}

/** The JWT bearer grant (RFC 7523) as google-auth-library's JWT client sends it for a scoped service account. */
async function serviceAccountToken(email: string, privateKey: string, kid: string | undefined, tokenUri: string, agentFor: TokenAgent): Promise<Fetched> {
  const iat = Math.floor(Date.now() / 1000);
  const part = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = `${part({ alg: 'RS256', typ: 'JWT', ...(kid ? { kid } : {}) })}.${part({ iss: email, scope: GCS_SCOPE, aud: tokenUri, iat, exp: iat + 3600 })}`;
  const signature = createSign('RSA-SHA256').update(unsigned).sign(privateKey).toString('base64url');
  const form = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: `${unsigned}.${signature}` }).toString();
  const url = new URL(tokenUri);
  const text = await request(url, await agentFor(url), 'POST', { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(form)) }, form);
  return parseToken(text);
}

async function metadataToken(host: string, agentFor: TokenAgent): Promise<Fetched> {
  const url = new URL(`http://${host}/computeMetadata/v1/instance/service-accounts/default/token?scopes=${encodeURIComponent(GCS_SCOPE)}`);
  return parseToken(await request(url, await agentFor(url), 'GET', { 'metadata-flavor': 'Google' }));
}

/** Strict: a token answer without a non-empty access_token, or with a non-numeric lifetime, is not taken. */
function parseToken(text: string): Fetched {
  const t = JSON.parse(text) as { access_token?: unknown; expires_in?: unknown };
  if (typeof t !== 'object' || t === null || typeof t.access_token !== 'string' || t.access_token === '') throw new Error('no access token in the answer');
  const lifetime = t.expires_in === undefined ? 3600 : Number(t.expires_in);
  if (!Number.isFinite(lifetime) || lifetime <= 0) throw new Error('no usable expires_in in the answer');
  return { token: t.access_token, expiresAt: Date.now() + lifetime * 1000 };
}

/** One request; resolves with the body of a 200 answer, rejects otherwise (the body is not echoed: it may hold a token). */
function request(url: URL, agent: httpT.Agent | undefined, method: 'GET' | 'POST', headers: Record<string, string>, body?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).request(url, { method, headers, timeout: TOKEN_TIMEOUT_MS, ...(agent ? { agent } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      let got = 0;
      res.on('data', (c: Buffer) => { got += c.length; if (got <= MAX_ANSWER) chunks.push(c); });
      res.on('error', reject);
      res.on('end', () => {
        if (res.statusCode === 200 && got <= MAX_ANSWER) resolve(Buffer.concat(chunks).toString('utf8'));
        else reject(Object.assign(new Error(`the token endpoint answered ${res.statusCode}`), { response: { status: res.statusCode } }));
      });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`the token endpoint did not answer in ${TOKEN_TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(body);
  });
}
