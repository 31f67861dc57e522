import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

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

  it('the Kubernetes client carries none of the ~800 model classes (their serializer table kept them all in the sidecar\'s heap)', () => {
    const text = fs.readFileSync(path.join(VENDOR, '@kubernetes/client-node.mjs'), 'latin1');
    assert.deepEqual(text.match(/\bclass _?V1\w+/g) ?? [], [], 'model classes (class _V1PodSpec …) in the bundle');
    assert.match(text, /readNamespacedSecret/);
    assert.match(text, /replaceNamespacedCustomObjectStatus/);
  });

  it('the Kubernetes client takes from undici only Agent, ProxyAgent and fetch (its index brings mocks, caches, HTTP/2, EventSource)', () => {
    const text = fs.readFileSync(path.join(VENDOR, '@kubernetes/client-node.mjs'), 'latin1');
    for (const left of ['MockAgent', 'CacheHandler', 'H2CClient', 'RetryAgent']) assert.doesNotMatch(text, new RegExp(`\\b${left}\\b`), left);
    assert.match(text, /\bProxyAgent\b/);
    assert.match(text, /\bfetch\b/);
  });

  it('the Kubernetes client leaves out undici\'s experimental Milo parser (~170 KiB it never runs) and keeps llhttp', () => {
    const text = fs.readFileSync(path.join(VENDOR, '@kubernetes/client-node.mjs'), 'latin1');
    assert.doesNotMatch(text, /undici\/lib\/milo\//);
    assert.match(text, /undici\/lib\/llhttp\/llhttp_simd-wasm\.js/);
    assert.match(text, /undici\/lib\/llhttp\/llhttp-wasm\.js/);
  });

  it('the Kubernetes client takes node:http through require(): an ES import of it loads Node\'s own undici (its WebSocket getters)', () => {
    const text = fs.readFileSync(path.join(VENDOR, '@kubernetes/client-node.mjs'), 'latin1');
    assert.deepEqual(text.match(/\bfrom\s*["'](node:)?http["']|\bimport\s*\(\s*["'](node:)?http["']/g) ?? [], []);
    assert.match(text, /require\("node:http"\)/);
  });

  it('the Kubernetes client\'s CoreV1 API classes carry only the Secret read pgstow makes (~400 other methods: ~960 KiB of source)', () => {
    const text = fs.readFileSync(path.join(VENDOR, '@kubernetes/client-node.mjs'), 'latin1');
    for (const left of ['listNamespacedPod', 'createNamespacedSecret', 'readNamespacedConfigMap', 'connectGetNamespacedPodExec']) assert.doesNotMatch(text, new RegExp(`\\b${left}\\b`), left);
    assert.match(text, /\breadNamespacedSecretWithHttpInfo\b/);
    assert.match(text, /\bgetNamespacedCustomObject\b/);
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
