/**
 * The agents a driver's own requests go through, shared by S3, Azure and GCS: keep-alive sockets, a private CA on
 * top of the system roots, and the proxy proxy-choice.ts picked for the endpoint, the way botocore reaches it: a
 * CONNECT tunnel for an https endpoint (the endpoint's TLS inside the tunnel, with the CA) and requests in absolute
 * form for an http one (https-proxy-agent, http-proxy-agent; loaded only when a proxy applies). `user:password@` in
 * the proxy URL becomes Proxy-Authorization; messages name the proxy through proxyLabel() only.
 */
import { http, https } from './node-net.js';
import type * as httpT from 'node:http';
import type * as httpsT from 'node:https';

export interface EndpointAgents {
  httpAgent: httpT.Agent;
  httpsAgent: httpT.Agent;
}

export interface EndpointAgentOptions {
  /** The proxy for the endpoint, or undefined to connect directly. */
  proxy: URL | undefined;
  /** Socket options for both agents (keepAlive, maxSockets, lookup…). */
  agent: httpT.AgentOptions & { lookup?: httpsT.AgentOptions['lookup'] };
  /** Trusted roots for https endpoints (the system roots and the private CA), or undefined for Node's own. */
  ca?: string[] | undefined;
}

export async function endpointAgents(o: EndpointAgentOptions): Promise<EndpointAgents> {
  const httpsOptions = { ...o.agent, ...(o.ca ? { ca: o.ca } : {}) };
  if (!o.proxy) return { httpAgent: new http.Agent(o.agent), httpsAgent: new https.Agent(httpsOptions) };
  const [{ HttpsProxyAgent }, { HttpProxyAgent }] = await Promise.all([import('https-proxy-agent'), import('http-proxy-agent')]);
  const httpsAgent = new HttpsProxyAgent(o.proxy, httpsOptions);
  // Its constructor empties the options Node merges into each request's; the TLS to the endpoint (inside the
  // tunnel) takes the CA from there.
  if (o.ca) (httpsAgent as unknown as { options: httpsT.AgentOptions }).options.ca = o.ca;
  return { httpAgent: new HttpProxyAgent(o.proxy, httpsOptions), httpsAgent };
}

/** The agent of `agents` for a request to `url`. */
export function agentFor(agents: EndpointAgents, url: string | URL): httpT.Agent {
  return String(url).toLowerCase().startsWith('https:') ? agents.httpsAgent : agents.httpAgent;
}
