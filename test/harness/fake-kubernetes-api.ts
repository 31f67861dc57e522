/**
 * A loopback HTTPS server speaking the Kubernetes API endpoints pgstow uses, with bearer-token auth, plus a
 * kubeconfig pointing at it: GET /api/v1/namespaces/<ns>/secrets/<name>, and for custom resources
 * (/apis/<group>/<version>/namespaces/<ns>/<plural>[/<name>[/status]]) GET, list with a labelSelector,
 * POST, PUT (optimistic concurrency on resourceVersion: 409 on a stale one), PUT .../status and DELETE.
 * A stand-in for a real API server (none can run in this environment); it answers like one: objects with a
 * resourceVersion, Status objects for 401/403/404/409.
 */
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { generateTls } from './ca.js';

export interface FakeSecret { data: Record<string, string>; resourceVersion: number }

export interface FakeKubernetesApi {
  url: string;
  /** Custom resources by `<group>/<plural>/<namespace>/<name>`; use putObject/getObject. */
  objects: Map<string, Record<string, unknown>>;
  /** Stores (or replaces) a custom resource; sets metadata.resourceVersion and uid. */
  putObject(group: string, plural: string, obj: Record<string, unknown>): Record<string, unknown>;
  getObject(group: string, plural: string, namespace: string, name: string): Record<string, unknown> | undefined;
  /** Paths (prefix match, after the method, e.g. "PUT /apis/x") answered 403. */
  forbiddenRequests: Set<string>;
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
  const objects = new Map<string, Record<string, unknown>>();
  const forbiddenRequests = new Set<string>();
  const putObject = (group: string, plural: string, obj: Record<string, unknown>): Record<string, unknown> => {
    const meta = (obj.metadata ?? {}) as Record<string, unknown>;
    const stored = structuredClone({ ...obj, metadata: { uid: `uid-${plural}-${String(meta.name)}`, ...meta, resourceVersion: String(++version) } });
    objects.set(`${group}/${plural}/${String(meta.namespace ?? 'default')}/${String(meta.name)}`, stored);
    return stored;
  };
  const server = https.createServer({ cert: fs.readFileSync(tls.certFile), key: fs.readFileSync(tls.keyFile) }, (req, res) => {
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    res.setHeader('content-type', 'application/json');
    if (req.headers.authorization !== `Bearer ${TOKEN}`) { res.statusCode = 401; res.end(status(401, 'Unauthorized', 'Unauthorized')); return; }
    if ([...forbiddenRequests].some((p) => `${req.method ?? ''} ${req.url ?? ''}`.startsWith(p))) {
      res.statusCode = 403; res.end(status(403, 'Forbidden', `${req.method ?? ''} ${req.url ?? ''} is forbidden`)); return;
    }
    if ((req.url ?? '').startsWith('/apis/')) {
      let body = '';
      req.on('data', (c: Buffer) => { body += c.toString(); });
      req.on('end', () => {
        const r = customResource(objects, putObject, req.method ?? 'GET', req.url ?? '', body);
        res.statusCode = r.code;
        res.end(JSON.stringify(r.body));
      });
      return;
    }
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
    url, kubeconfig, secrets, forbidden, requests, objects, putObject, forbiddenRequests,
    getObject: (group, plural, namespace, name) => objects.get(`${group}/${plural}/${namespace}/${name}`),
    setSecret(namespace, name, data) { secrets.set(`${namespace}/${name}`, { data, resourceVersion: ++version }); },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

type Stored = Map<string, Record<string, unknown>>;
type Put = (group: string, plural: string, obj: Record<string, unknown>) => Record<string, unknown>;

/** One request on /apis/<group>/<version>/namespaces/<ns>/<plural>[/<name>[/status]]. */
function customResource(objects: Stored, put: Put, method: string, url: string, body: string): { code: number; body: unknown } {
  const u = new URL(url, 'https://x');
  const m = /^\/apis\/([^/]+)\/([^/]+)\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?(?:\/(status))?$/.exec(u.pathname);
  if (!m) return { code: 404, body: JSON.parse(status(404, 'NotFound', 'the server could not find the requested resource')) };
  const [, group, apiVersion, ns, plural, name, sub] = m as unknown as [string, string, string, string, string, string | undefined, string | undefined];
  const key = `${group}/${plural}/${ns}/${name ?? ''}`;
  const notFound = { code: 404, body: JSON.parse(status(404, 'NotFound', `${plural}.${group} "${name ?? ''}" not found`)) };
  if (!name) {
    if (method === 'POST') {
      const obj = JSON.parse(body) as Record<string, unknown>;
      const meta = (obj.metadata ?? {}) as Record<string, unknown>;
      if (objects.has(`${group}/${plural}/${ns}/${String(meta.name)}`)) return { code: 409, body: JSON.parse(status(409, 'AlreadyExists', `${plural}.${group} "${String(meta.name)}" already exists`)) };
      return { code: 201, body: put(group, plural, { ...obj, metadata: { ...meta, namespace: ns } }) };
    }
    const selector = u.searchParams.get('labelSelector');
    const items = [...objects.entries()].filter(([k]) => k.startsWith(`${group}/${plural}/${ns}/`)).map(([, v]) => v)
      .filter((o) => matchesSelector(o, selector));
    return { code: 200, body: { apiVersion: `${group}/${apiVersion}`, kind: 'List', metadata: { resourceVersion: '1' }, items } };
  }
  const current = objects.get(key);
  if (method === 'GET') return current ? { code: 200, body: current } : notFound;
  if (method === 'DELETE') {
    if (!current) return notFound;
    objects.delete(key);
    return { code: 200, body: current };
  }
  if (method === 'PUT') {
    if (!current) return notFound;
    const obj = JSON.parse(body) as Record<string, unknown>;
    const rv = (obj.metadata as Record<string, unknown> | undefined)?.resourceVersion;
    const currentRv = (current.metadata as Record<string, unknown>).resourceVersion;
    if (rv !== undefined && rv !== currentRv) {
      return { code: 409, body: JSON.parse(status(409, 'Conflict', `Operation cannot be fulfilled on ${plural}.${group} "${name}": the object has been modified; please apply your changes to the latest version and try again`)) };
    }
    // The status subresource changes only status; the main resource everything but status.
    const next = sub === 'status' ? { ...current, status: obj.status } : { ...obj, status: current.status };
    return { code: 200, body: put(group, plural, { ...next, metadata: { ...(current.metadata as object), ...(sub === 'status' ? {} : obj.metadata as object) } }) };
  }
  return { code: 405, body: JSON.parse(status(405, 'MethodNotAllowed', `${method} is not allowed`)) };
}

function matchesSelector(obj: Record<string, unknown>, selector: string | null): boolean {
  if (!selector) return true;
  const labels = ((obj.metadata as Record<string, unknown> | undefined)?.labels ?? {}) as Record<string, string>;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return k !== undefined && labels[k] === v;
  });
}
