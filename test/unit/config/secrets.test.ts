/**
 * Secret sources: manifests, a Kubernetes-style mounted directory, and the Kubernetes API (against a loopback
 * HTTPS stand-in for the API server, reached through a kubeconfig), in the documented order, with errors that
 * name the Secret, the key and where pgstow looked.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTempDir, removeDir } from '../../harness/tmp.js';
import { startFakeKubernetesApi, type FakeKubernetesApi } from '../../harness/fake-kubernetes-api.js';
import { loadConfig } from '../../../src/config/load-config.js';
import { manifestView } from '../../harness/store-options.js';
import { MissingSecretsError } from '../../../src/config/secrets.js';
import { isPgstowError } from '../../../src/errors.js';

let dir: string;
let api: FakeKubernetesApi;
const env = (): Record<string, string> => ({ PGSTOW_RUNTIME_DIR: path.join(dir, 'run'), HOME: dir });

function clusterYaml(namespace: string | undefined, secretName = 'aws-creds'): string {
  return `apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata:
  name: pg${namespace ? `\n  namespace: ${namespace}` : ''}
spec:
  backup:
    barmanObjectStore:
      destinationPath: s3://bucket/prefix
      endpointCA: {name: ca, key: ca.crt}
      s3Credentials:
        accessKeyId: {name: ${secretName}, key: ACCESS_KEY_ID}
        secretAccessKey: {name: ${secretName}, key: ACCESS_SECRET_KEY}
`;
}

function writeConfig(name: string, text: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
}

function mountSecret(root: string, name: string, data: Record<string, string>): void {
  // As kubelet does: DIR/<name>/..data -> timestamped dir, DIR/<name>/<key> -> ..data/<key>.
  const sdir = path.join(root, name);
  fs.mkdirSync(sdir, { recursive: true });
  const ts = path.join(sdir, `..${Date.now()}${Math.random().toString(16).slice(2)}`);
  fs.mkdirSync(ts);
  for (const [k, v] of Object.entries(data)) fs.writeFileSync(path.join(ts, k), v);
  const tmpLink = path.join(sdir, '..data_tmp');
  fs.symlinkSync(path.basename(ts), tmpLink);
  fs.renameSync(tmpLink, path.join(sdir, '..data'));
  for (const k of Object.keys(data)) {
    const link = path.join(sdir, k);
    if (!fs.existsSync(link)) fs.symlinkSync(path.join('..data', k), link);
  }
}

before(async () => {
  dir = makeTempDir('config-secrets');
  api = await startFakeKubernetesApi(dir);
});
after(async () => {
  await api.close();
  removeDir(dir);
});

test('mounted Secrets directory (DIR/<secret>/<key>, kubelet layout with ..data symlinks)', async () => {
  const root = path.join(dir, 'mounted');
  mountSecret(root, 'aws-creds', { ACCESS_KEY_ID: 'AKIADIR', ACCESS_SECRET_KEY: 'dir-secret-value' });
  mountSecret(root, 'ca', { 'ca.crt': 'PEM-FROM-DIR' });
  const c = await loadConfig({ configFile: writeConfig('dir.yaml', clusterYaml(undefined)), secretsDir: root, kubernetes: 'never', env: env() });
  const o = await manifestView(c, {});
  assert.equal(o.env.AWS_ACCESS_KEY_ID, 'AKIADIR');
  assert.equal(o.env.AWS_SECRET_ACCESS_KEY, 'dir-secret-value');
  assert.equal(o.ca, 'PEM-FROM-DIR');
  assert.match(c.secrets[0]?.value.origin ?? '', /mounted\/aws-creds\/ACCESS_KEY_ID/);
});

test('order: manifests first, then the directory, then the API; manifest namespace must match', async () => {
  const root = path.join(dir, 'order');
  mountSecret(root, 'aws-creds', { ACCESS_KEY_ID: 'AKIADIR', ACCESS_SECRET_KEY: 'dir-secret' });
  mountSecret(root, 'ca', { 'ca.crt': 'PEM' });
  const secrets = writeConfig('order-secrets.yaml', `apiVersion: v1
kind: Secret
metadata: {name: aws-creds, namespace: other}
stringData: {ACCESS_KEY_ID: AKIAOTHERNS, ACCESS_SECRET_KEY: other-ns}
---
apiVersion: v1
kind: Secret
metadata: {name: aws-creds, namespace: prod}
data: {ACCESS_KEY_ID: ${Buffer.from('AKIAMANIFEST').toString('base64')}, ACCESS_SECRET_KEY: ${Buffer.from('manifest-secret').toString('base64')}}
stringData: {ACCESS_SECRET_KEY: string-data-wins}
`);
  const c = await loadConfig({ configFile: writeConfig('order.yaml', clusterYaml('prod')), secretsFiles: [secrets], secretsDir: root, kubernetes: 'never', env: env() });
  const o = await manifestView(c, {});
  assert.equal(o.env.AWS_ACCESS_KEY_ID, 'AKIAMANIFEST');
  assert.equal(o.env.AWS_SECRET_ACCESS_KEY, 'string-data-wins');
  assert.equal(o.ca, 'PEM', 'not in the manifests: taken from the directory');
});

test('missing secret and missing key: all reported at once, naming secret, key, namespace and every place looked', async () => {
  const root = path.join(dir, 'partial');
  mountSecret(root, 'aws-creds', { ACCESS_KEY_ID: 'AKIADIR', OTHER: 'x' });
  const err = await loadConfig({ configFile: writeConfig('missing.yaml', clusterYaml('prod')), secretsDir: root, kubernetes: 'never', env: env() }).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof MissingSecretsError);
  assert.equal(err.exitCode, 3);
  assert.equal(err.missing.length, 2);
  assert.match(err.message, /spec\.backup\.barmanObjectStore\.s3Credentials\.secretAccessKey: Secret "aws-creds" has no key "ACCESS_SECRET_KEY" in directory .*partial\/aws-creds \(keys: ACCESS_KEY_ID, OTHER\)/);
  assert.match(err.message, /spec\.backup\.barmanObjectStore\.endpointCA: Secret "ca" \(key "ca\.crt"\) not found in namespace prod; looked in: Secret manifests in .*missing\.yaml; directory .*partial \(no .*partial\/ca\)/);
  assert.ok(!err.message.includes('AKIADIR'));
});

test('Kubernetes API: kubeconfig, namespace from the manifest, base64 data decoded', async () => {
  api.setSecret('prod', 'aws-creds', { ACCESS_KEY_ID: 'AKIAAPI', ACCESS_SECRET_KEY: 'api-secret-value' });
  api.setSecret('prod', 'ca', { 'ca.crt': 'PEM-FROM-API' });
  api.requests.length = 0;
  const c = await loadConfig({ configFile: writeConfig('api.yaml', clusterYaml('prod')), env: { ...env(), KUBECONFIG: api.kubeconfig } });
  const o = await manifestView(c, {});
  assert.equal(o.env.AWS_ACCESS_KEY_ID, 'AKIAAPI');
  assert.equal(o.env.AWS_SECRET_ACCESS_KEY, 'api-secret-value');
  assert.equal(o.ca, 'PEM-FROM-API');
  assert.deepEqual(api.requests.sort(), ['GET /api/v1/namespaces/prod/secrets/aws-creds', 'GET /api/v1/namespaces/prod/secrets/ca'], 'one GET per Secret');
  assert.equal(c.source.namespace, 'prod');
});

test('Kubernetes API: without metadata.namespace the kubeconfig context namespace is used', async () => {
  api.setSecret('ctx-ns', 'aws-creds', { ACCESS_KEY_ID: 'AKIACTX', ACCESS_SECRET_KEY: 's' });
  api.setSecret('ctx-ns', 'ca', { 'ca.crt': 'PEM' });
  const c = await loadConfig({ configFile: writeConfig('ctx.yaml', clusterYaml(undefined)), kubeconfig: api.kubeconfig, env: env() });
  assert.equal(c.source.namespace, 'ctx-ns');
  assert.equal(c.source.namespaceReason, 'the kubeconfig context');
  assert.equal((await manifestView(c, {})).env.AWS_ACCESS_KEY_ID, 'AKIACTX');
});

test('Kubernetes API: not found names the API server and namespace; 403 is a clear permission error (exit 1)', async () => {
  const nf = await loadConfig({ configFile: writeConfig('nf.yaml', clusterYaml('prod', 'nope')), kubeconfig: api.kubeconfig, env: env() }).then(() => undefined, (e: unknown) => e);
  assert.ok(nf instanceof MissingSecretsError);
  assert.match(nf.message, new RegExp(`Secret "nope" \\(key "ACCESS_KEY_ID"\\) not found in namespace prod; looked in: Secret manifests in .*nf\\.yaml; Kubernetes API at ${api.url.replace(/\./g, '\\.')} \\(namespace prod: not found\\)`));

  api.setSecret('prod', 'locked', { ACCESS_KEY_ID: 'x', ACCESS_SECRET_KEY: 'y' });
  api.forbidden.add('prod/locked');
  const fb = await loadConfig({ configFile: writeConfig('fb.yaml', clusterYaml('prod', 'locked')), kubeconfig: api.kubeconfig, env: env() }).then(() => undefined, (e: unknown) => e);
  assert.ok(isPgstowError(fb));
  assert.equal(fb.exitCode, 1);
  assert.match(fb.message, /may not get Secret prod\/locked \(403 Forbidden; grant "get" on secrets in namespace prod\)/);
});

test('Kubernetes API unreachable is a network error (exit 2) naming the server', async () => {
  const kc = path.join(dir, 'dead-kubeconfig');
  fs.writeFileSync(kc, fs.readFileSync(api.kubeconfig, 'utf8').replace(api.url, 'https://127.0.0.1:9'));
  const err = await loadConfig({ configFile: writeConfig('dead.yaml', clusterYaml('prod', 'zzz')), kubeconfig: kc, env: env() }).then(() => undefined, (e: unknown) => e);
  assert.ok(isPgstowError(err));
  assert.equal(err.exitCode, 2);
  assert.match(err.message, /cannot reach the Kubernetes API at https:\/\/127\.0\.0\.1:9 to read Secret prod\/zzz/);
});

test('kubernetes: auto uses the API only when a kubeconfig exists; never skips it', async () => {
  const cfg = writeConfig('auto.yaml', clusterYaml('prod', 'only-in-api'));
  api.setSecret('prod', 'only-in-api', { ACCESS_KEY_ID: 'A', ACCESS_SECRET_KEY: 'B' });
  await assert.rejects(loadConfig({ configFile: cfg, env: env() }), /looked in: Secret manifests in [^;]*auto\.yaml$/m);
  await assert.rejects(loadConfig({ configFile: cfg, kubernetes: 'never', env: { ...env(), KUBECONFIG: api.kubeconfig } }), MissingSecretsError);
});
