/**
 * pgstow's own Kubernetes API client (src/config/kube-rest.ts) against the loopback HTTPS stand-in for the API
 * server: a pod's service account (CA and token files, the token read again after a minute, as projected tokens
 * rotate), a kubeconfig, the API server's errors by HTTP status, a kubeconfig whose user is an exec credential
 * plugin (the package's code, loaded only then), and that the plugin's usual path does not load
 * @kubernetes/client-node at all (it cost the sidecar 7.5 MiB of heap and ~30 MiB RSS).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { makeTempDir, removeDir } from '../../harness/tmp.js';
import { startFakeKubernetesApi, type FakeKubernetesApi } from '../../harness/fake-kubernetes-api.js';
import { CoreV1Api, CustomObjectsApi, KubeApiError, KubeConfig } from '../../../src/config/kube-rest.js';

let dir: string;
let api: FakeKubernetesApi;
/** What the fake API server accepts, and its CA (from the kubeconfig it wrote). */
let token: string;
let caFile: string;

before(async () => {
  dir = makeTempDir('kube-rest');
  api = await startFakeKubernetesApi(dir);
  const text = fs.readFileSync(api.kubeconfig, 'utf8');
  token = /token: (\S+)/.exec(text)?.[1] as string;
  caFile = /certificate-authority: (\S+)/.exec(text)?.[1] as string;
  api.setSecret('db', 'creds', { KEY: 'v1' });
});
after(async () => { await api.close(); removeDir(dir); });

/** A service account directory as kubelet mounts it, under `prefix`. */
function serviceAccount(prefix: string, tokenValue: string): string {
  const sa = path.join(prefix, 'var/run/secrets/kubernetes.io/serviceaccount');
  fs.mkdirSync(sa, { recursive: true });
  fs.copyFileSync(caFile, path.join(sa, 'ca.crt'));
  fs.writeFileSync(path.join(sa, 'token'), `${tokenValue}\n`);
  return path.join(sa, 'token');
}

test('in a pod: the service account\'s CA and token; the token file is read again after a minute', async () => {
  const prefix = path.join(dir, 'pod');
  const tokenFile = serviceAccount(prefix, 'expired-token');
  let clock = 1_000_000;
  const kc = new KubeConfig({ now: () => clock });
  const { port } = new URL(api.url);
  kc.loadFromCluster({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port }, prefix);
  assert.equal(kc.getCurrentCluster()?.server, `https://127.0.0.1:${port}`);
  const core = kc.makeApiClient(CoreV1Api);
  await assert.rejects(core.readNamespacedSecret({ namespace: 'db', name: 'creds' }), (e: unknown) => e instanceof KubeApiError && e.code === 401);
  fs.writeFileSync(tokenFile, token); // kubelet rotated the projected token
  clock += 30_000;
  await assert.rejects(core.readNamespacedSecret({ namespace: 'db', name: 'creds' }), (e: unknown) => e instanceof KubeApiError && e.code === 401);
  clock += 30_000;
  const s = await core.readNamespacedSecret({ namespace: 'db', name: 'creds' });
  assert.equal(Buffer.from(s.data?.KEY ?? '', 'base64').toString(), 'v1');
  assert.match(s.metadata?.resourceVersion ?? '', /^\d+$/);
});

test('a kubeconfig: objects of any group read, listed by label, created, replaced, their status replaced and deleted; errors carry the status', async () => {
  const kc = new KubeConfig();
  await kc.loadFromFile(api.kubeconfig);
  assert.equal(kc.getContextObject(kc.getCurrentContext())?.namespace, 'ctx-ns');
  const custom = kc.makeApiClient(CustomObjectsApi);
  const ref = { group: 'postgresql.cnpg.io', version: 'v1', namespace: 'db', plural: 'backups' };
  const body = { apiVersion: 'postgresql.cnpg.io/v1', kind: 'Backup', metadata: { name: 'b1', namespace: 'db', labels: { 'cnpg.io/cluster': 'pg' } } };
  const created = await custom.createNamespacedCustomObject({ ...ref, body }) as { metadata: { resourceVersion: string } };
  const got = await custom.getNamespacedCustomObject({ ...ref, name: 'b1' }) as { metadata: { resourceVersion: string } };
  assert.equal(got.metadata.resourceVersion, created.metadata.resourceVersion);
  assert.deepEqual(((await custom.listNamespacedCustomObject({ ...ref, labelSelector: 'cnpg.io/cluster=pg' }) as { items: unknown[] }).items).length, 1);
  assert.equal(((await custom.listNamespacedCustomObject({ ...ref, labelSelector: 'cnpg.io/cluster=other' }) as { items: unknown[] }).items).length, 0);
  await custom.replaceNamespacedCustomObjectStatus({ ...ref, name: 'b1', body: { ...got, status: { phase: 'completed' } } });
  assert.deepEqual(api.getObject('postgresql.cnpg.io', 'backups', 'db', 'b1')?.status, { phase: 'completed' });
  await assert.rejects(custom.replaceNamespacedCustomObject({ ...ref, name: 'b1', body: { ...body, metadata: { ...body.metadata, resourceVersion: '1' } } }),
    (e: unknown) => e instanceof KubeApiError && e.code === 409 && /"kind":"Status"|Conflict|conflict/.test(e.body));
  await custom.deleteNamespacedCustomObject({ ...ref, name: 'b1' });
  await assert.rejects(custom.getNamespacedCustomObject({ ...ref, name: 'b1' }), (e: unknown) => e instanceof KubeApiError && e.code === 404);
  assert.ok(api.requests.includes('GET /apis/postgresql.cnpg.io/v1/namespaces/db/backups?labelSelector=cnpg.io%2Fcluster%3Dpg'), api.requests.join('\n'));
});

test('an API server that is not there fails with the connection\'s error code', async () => {
  const kc = new KubeConfig();
  const file = path.join(dir, 'closed.kubeconfig');
  fs.writeFileSync(file, JSON.stringify({ clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1', 'certificate-authority': caFile } }],
    users: [{ name: 'u', user: { token } }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x' }));
  await kc.loadFromFile(file);
  await assert.rejects(kc.makeApiClient(CoreV1Api).readNamespacedSecret({ namespace: 'db', name: 'creds' }), (e: unknown) => (e as NodeJS.ErrnoException).code === 'ECONNREFUSED');
});

test('a kubeconfig whose user is an exec credential plugin: the package\'s code runs it', async () => {
  const file = path.join(dir, 'exec.kubeconfig');
  const credential = JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token } });
  fs.writeFileSync(file, [
    'apiVersion: v1', 'kind: Config',
    'clusters:', '- name: fake', '  cluster:', `    server: ${api.url}`, `    certificate-authority: ${caFile}`,
    'users:', '- name: exec', '  user:', '    exec:', '      apiVersion: client.authentication.k8s.io/v1', '      command: /bin/sh',
    `      args: ["-c", ${JSON.stringify(`echo '${credential}'`)}]`, '      interactiveMode: Never',
    'contexts:', '- name: fake', '  context: {cluster: fake, user: exec}', 'current-context: fake', '',
  ].join('\n'));
  const kc = new KubeConfig();
  await kc.loadFromFile(file);
  const s = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ namespace: 'db', name: 'creds' });
  assert.equal(Buffer.from(s.data?.KEY ?? '', 'base64').toString(), 'v1');
});

test('the plugin\'s Kubernetes reads (ObjectStore, Secret) do not load @kubernetes/client-node', async () => {
  // A fresh process with a resolve hook that records every module: the test runner's own process has loaded too much.
  const hooks = path.join(dir, 'hooks.mjs');
  const log = path.join(dir, 'resolved.log');
  fs.writeFileSync(hooks, `import { appendFileSync } from 'node:fs';\nexport async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(${JSON.stringify(log)}, r.url + '\\n'); return r; }\n`);
  const kubeApi = pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src/plugin/kube/kube-api.js')).href;
  api.putObject('barmancloud.cnpg.io', 'objectstores', { metadata: { name: 'store', namespace: 'db' }, spec: {} });
  const script = `import { register } from 'node:module';
register(${JSON.stringify(pathToFileURL(hooks).href)});
const { KubeApi } = await import(${JSON.stringify(kubeApi)});
const kube = new KubeApi({ env: {}, kubeconfig: ${JSON.stringify(api.kubeconfig)} });
await kube.getObjectStore('db', 'store');
const r = await kube.secrets().lookup('db', 'creds', 'KEY');
if (!r.found) throw new Error('secret not read');
console.log('ok');`;
  const out = await new Promise<{ code: number | null; text: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d: Buffer) => { text += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { text += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, text }));
  });
  assert.equal(out.code, 0, out.text);
  const modules = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
  assert.ok(modules.some((m) => m.endsWith('/kube-rest.js')), 'the hook saw the modules');
  assert.deepEqual(modules.filter((m) => /[/\\]@kubernetes[/\\]|[/\\]js-yaml[/\\]|[/\\]undici[/\\]/.test(m)), []);
});
