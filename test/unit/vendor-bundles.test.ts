import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// dist/test/unit/ → dist/src/vendor/ (written by scripts/bundle-sdks.mjs, which `npm run build` and the test runner run).
const VENDOR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'vendor');
const BUNDLES = ['@kubernetes/client-node.mjs', '@aws-sdk/client-s3.cjs', '@smithy/signature-v4.cjs', '@azure/storage-blob.cjs', '@google-cloud/storage.cjs'];

describe('the SDK bundles the sidecar loads', () => {
  for (const name of BUNDLES) {
    it(`${name} is ASCII only (V8 would hold its source as a two-byte string: twice the memory for the process's life)`, () => {
      const text = fs.readFileSync(path.join(VENDOR, name), 'latin1');
      // eslint-disable-next-line no-control-regex
      const at = text.search(/[^\x00-\x7f]/);
      assert.equal(at, -1, `non-ASCII byte at ${at}: …${text.slice(Math.max(0, at - 40), at + 20)}…`);
    });
  }

  it('the Kubernetes client bundle holds KubeConfig alone: no generated API classes, serializer or models (pgstow makes its few calls itself)', () => {
    const text = fs.readFileSync(path.join(VENDOR, '@kubernetes/client-node.mjs'), 'latin1');
    for (const left of ['CustomObjectsApi', 'CoreV1Api', 'ObjectSerializer', 'readNamespacedSecret', 'getNamespacedCustomObject']) assert.doesNotMatch(text, new RegExp(left), left);
    assert.deepEqual(text.match(/\bclass _?V1\w+/g) ?? [], [], 'model classes (class _V1PodSpec …) in the bundle');
    assert.match(text, /\bapplyToHTTPSOptions\b/);
    assert.match(text, /\bloadFromCluster\b/);
  });

  it('the Kubernetes client bundle holds none of undici (the library\'s fetch path: Agent, fetch, llhttp, web streams)', () => {
    const text = fs.readFileSync(path.join(VENDOR, '@kubernetes/client-node.mjs'), 'latin1');
    assert.doesNotMatch(text, /node_modules\/undici\//);
    for (const left of ['llhttp', 'kDispatch', 'ReadableStream']) assert.doesNotMatch(text, new RegExp(left), left);
  });

  it('the Kubernetes client bundle\'s KubeConfig applies a kubeconfig to node:https options, and says so where it was cut', async () => {
    const { KubeConfig } = await import(pathToFileURL(path.join(VENDOR, '@kubernetes/client-node.mjs')).href) as typeof import('@kubernetes/client-node');
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://127.0.0.1:6443', caData: Buffer.from('CA PEM').toString('base64'), skipTLSVerify: false, tlsServerName: 'api.example' }],
      users: [{ name: 'u', token: 'tok', impersonateUser: 'someone' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const opts: import('node:https').RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    assert.deepEqual(opts.headers, { Authorization: 'Bearer tok', 'Impersonate-User': 'someone' });
    assert.equal(String(opts.ca), 'CA PEM');
    assert.equal(opts.servername, 'api.example');
    assert.ok(opts.agent instanceof (await import('node:https')).Agent);
    assert.throws(() => kc.makeApiClient(class {} as never), /holds KubeConfig only \(the generated API classes/);
  });

  it('the Kubernetes client bundle leaves the dependencies of rare kubeconfigs in node_modules (oidc, gcp/azure auth providers, socks5 proxy-url) and loads them when used', async () => {
    const text = fs.readFileSync(path.join(VENDOR, '@kubernetes/client-node.mjs'), 'latin1');
    for (const left of ['SocksClientError', 'Address6', 'SmartBuffer', 'ClientSecretPost', 'allowInsecureRequests']) assert.doesNotMatch(text, new RegExp(left), left);
    const { KubeConfig } = await import(pathToFileURL(path.join(VENDOR, '@kubernetes/client-node.mjs')).href) as typeof import('@kubernetes/client-node');
    const kc = new KubeConfig();
    // The gcp auth provider runs its command and picks the token out of its JSON with jsonpath-plus.
    const command = { access_token: 'gcp-token', expiry: '2999-01-01T00:00:00Z' };
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://127.0.0.1:6443', skipTLSVerify: false, proxyUrl: 'socks5://127.0.0.1:1080' }],
      users: [{ name: 'u', authProvider: { name: 'gcp', config: { 'cmd-path': '/bin/echo', 'cmd-args': `'${JSON.stringify(command)}'`, 'token-key': '{.access_token}', 'expiry-key': '{.expiry}' } } }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const opts: import('node:https').RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    assert.deepEqual(opts.headers, { Authorization: 'Bearer gcp-token' });
    assert.equal(opts.agent?.constructor.name, 'SocksProxyAgent');
    assert.ok(opts.agent instanceof (await import('node:http')).Agent);
  });

  it('the Kubernetes client takes node:http through require(): an ES import of it loads Node\'s own undici (its WebSocket getters)', () => {
    const text = fs.readFileSync(path.join(VENDOR, '@kubernetes/client-node.mjs'), 'latin1');
    assert.deepEqual(text.match(/\bfrom\s*["'](node:)?http["']|\bimport\s*\(\s*["'](node:)?http["']/g) ?? [], []);
    assert.match(text, /require\("node:http"\)/);
  });

  it('the Azure bundle exports every name the driver takes from it, and leaves out what it never calls (BlobServiceClient, account SAS)', async () => {
    const driver = path.resolve(VENDOR, '..', '..', '..', 'src', 'storage', 'drivers', 'azure-blob');
    const used = new Set<string>();
    for (const f of fs.readdirSync(driver).filter((n) => n.endsWith('.ts'))) {
      for (const m of fs.readFileSync(path.join(driver, f), 'utf8').matchAll(/\bblobSdk\.(\w+)/g)) used.add(m[1] as string);
    }
    assert.ok(used.size >= 4, `names read from blobSdk in ${driver}: ${[...used].join(', ')}`);
    const sdk = createRequire(import.meta.url)(path.join(VENDOR, '@azure/storage-blob.cjs')) as Record<string, unknown>;
    for (const name of used) assert.equal(typeof sdk[name], 'function', `${name} is not exported by the bundle`);
    const text = fs.readFileSync(path.join(VENDOR, '@azure/storage-blob.cjs'), 'latin1');
    for (const left of ['BlobServiceClient', 'generateAccountSASQueryParameters']) assert.doesNotMatch(text, new RegExp(`\\b${left}\\b`), left);
  });

  it('their licences are kept beside them', () => {
    for (const name of ['@kubernetes/client-node.mjs', '@aws-sdk/client-s3.cjs']) {
      assert.match(fs.readFileSync(path.join(VENDOR, `${name}.LEGAL.txt`), 'utf8'), /licen[cs]e|copyright/i, name);
    }
  });
});
