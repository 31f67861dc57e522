/**
 * A loopback HTTPS server speaking the one Kubernetes API endpoint pgstow uses,
 * GET /api/v1/namespaces/<ns>/secrets/<name>, with bearer-token auth, plus a kubeconfig pointing at it.
 * A stand-in for a real API server (none can run in this environment); it answers like one: Secret objects with
 * base64 data and a resourceVersion, Status objects for 401/403/404.
 */
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { generateTls } from './ca.js';

export interface FakeSecret { data: Record<string, string>; resourceVersion: number }

export interface FakeKubernetesApi {
  url: string;
  kubeconfig: string;
  /** namespace/name → secret. Mutate to rotate (bump resourceVersion with setSecret). */
  secrets: Map<string, FakeSecret>;
  /** namespace/name pairs the service account may not read (403). */
  forbidden: Set<string>;
  /** Every request path served, for assertions. */
  requests: string[];
  setSecret(namespace: string, name: string, data: Record<string, string>): void;
  close(): Promise<void>;
}

const TOKEN = 'fake-service-account-token';

function status(code: number, reason: string, message: string): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

export async function startFakeKubernetesApi(dir: string, contextNamespace = 'ctx-ns'): Promise<FakeKubernetesApi> {
  const tls = generateTls(path.join(dir, 'tls'));
  const secrets = new Map<string, FakeSecret>();
  const forbidden = new Set<string>();
  const requests: string[] = [];
  let version = 100;
  const server = https.createServer({ cert: fs.readFileSync(tls.certFile), key: fs.readFileSync(tls.keyFile) }, (req, res) => {
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    res.setHeader('content-type', 'application/json');
    if (req.headers.authorization !== `Bearer ${TOKEN}`) { res.statusCode = 401; res.end(status(401, 'Unauthorized', 'Unauthorized')); return; }
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/secrets\/([^/?]+)/.exec(req.url ?? '');
    if (req.method !== 'GET' || !m) { res.statusCode = 404; res.end(status(404, 'NotFound', 'the server could not find the requested resource')); return; }
    const [ns, name] = [decodeURIComponent(m[1] as string), decodeURIComponent(m[2] as string)];
    if (forbidden.has(`${ns}/${name}`)) {
      res.statusCode = 403;
      res.end(status(403, 'Forbidden', `secrets "${name}" is forbidden: User "system:serviceaccount:${ns}:pg" cannot get resource "secrets" in API group "" in the namespace "${ns}"`));
      return;
    }
    const s = secrets.get(`${ns}/${name}`);
    if (!s) { res.statusCode = 404; res.end(status(404, 'NotFound', `secrets "${name}" not found`)); return; }
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.data)) data[k] = Buffer.from(v).toString('base64');
    res.end(JSON.stringify({ apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name, namespace: ns, resourceVersion: String(s.resourceVersion) }, data }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kubeconfig = path.join(dir, 'kubeconfig');
  fs.writeFileSync(kubeconfig, [
    'apiVersion: v1', 'kind: Config',
    'clusters:', '- name: fake', '  cluster:', `    server: ${url}`, `    certificate-authority: ${tls.caFile}`,
    'users:', '- name: pg', '  user:', `    token: ${TOKEN}`,
    'contexts:', '- name: fake', '  context:', '    cluster: fake', '    user: pg', `    namespace: ${contextNamespace}`,
    'current-context: fake', '',
  ].join('\n'), { mode: 0o600 });
  return {
    url, kubeconfig, secrets, forbidden, requests,
    setSecret(namespace, name, data) { secrets.set(`${namespace}/${name}`, { data, resourceVersion: ++version }); },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
