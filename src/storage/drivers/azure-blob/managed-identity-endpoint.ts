/**
 * A TokenCredential for a managed-identity endpoint given in the settings (IDENTITY_ENDPOINT + IDENTITY_HEADER:
 * App Service, Azure Arc, AKS pod identity; protocol version 2019-08-01). @azure/identity's own
 * ManagedIdentityCredential only takes that endpoint from process.env, which would make it one per process;
 * this one takes it from the engine's settings, so two engines can use two identities.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';

export interface EndpointIdentityOptions {
  endpoint: string;
  header: string;
  /** A user-assigned identity; system-assigned when absent. */
  clientId?: string;
  /** Trusted CAs for an https endpoint (system roots plus the private CA). */
  ca?: string[];
}

/** Errors shaped as @azure/identity's, so the driver's classifier treats them alike. */
function identityError(name: 'AuthenticationError' | 'CredentialUnavailableError', message: string, statusCode?: number): Error {
  return Object.assign(new Error(message), { name, ...(statusCode !== undefined ? { statusCode } : {}) });
}

export class EndpointManagedIdentityCredential implements TokenCredential {
  constructor(private readonly options: EndpointIdentityOptions) {}

  async getToken(scopes: string | string[], getTokenOptions?: GetTokenOptions): Promise<AccessToken> {
    const scope = Array.isArray(scopes) ? scopes[0] ?? '' : scopes;
    const url = new URL(this.options.endpoint);
    url.searchParams.set('api-version', '2019-08-01');
    url.searchParams.set('resource', scope.replace(/\/\.default$/, ''));
    if (this.options.clientId) url.searchParams.set('client_id', this.options.clientId);
    const { status, body } = await this.get(url, getTokenOptions?.abortSignal as AbortSignal | undefined);
    let parsed: { access_token?: unknown; expires_on?: unknown; error?: unknown; error_description?: unknown };
    try { parsed = JSON.parse(body) as typeof parsed; } catch { parsed = {}; }
    if (status !== 200 || typeof parsed.access_token !== 'string') {
      const why = typeof parsed.error_description === 'string' ? parsed.error_description : typeof parsed.error === 'string' ? parsed.error : `HTTP ${status}`;
      throw identityError('AuthenticationError', `the managed identity endpoint ${url.origin}${url.pathname} refused the token request: ${why}`, status);
    }
    const expires = Number(parsed.expires_on);
    return { token: parsed.access_token, expiresOnTimestamp: Number.isFinite(expires) ? expires * 1000 : Date.now() + 3600_000 };
  }

  private get(url: URL, signal: AbortSignal | undefined): Promise<{ status: number; body: string }> {
    const client = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = client.get(url, {
        headers: { 'X-IDENTITY-HEADER': this.options.header, Metadata: 'true' },
        timeout: 30_000,
        ...(this.options.ca && url.protocol === 'https:' ? { ca: this.options.ca } : {}),
        ...(signal ? { signal } : {}),
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('timed out after 30 s')));
      req.on('error', (err) => reject(identityError('AuthenticationError', `cannot reach the managed identity endpoint ${url.origin}: ${err.message}`)));
    });
  }
}
