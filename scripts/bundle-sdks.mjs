// Build step after tsc: bundles the cloud SDKs (CommonJS) into one file each under dist/src/vendor/.
// archive_command loads its provider's SDK once per WAL segment; @azure/storage-blob is ~270 files and
// @google-cloud/storage ~170, and resolving, reading and wrapping each file cost more than the code itself:
// bundled, require() takes ~60 instead of ~120 ms of CPU (Azure) and ~55 instead of ~90 ms (GCS) on Node 20.
// The AWS SDK is one file per package but ~40 packages (@smithy/*, @aws-sdk/*): bundled, client-s3 with its
// HTTP handler loads in ~165 instead of ~200-290 ms of CPU and takes 8-11 MB less RSS (Node 24, measured
// for issue 15; every MB counts in a sidecar's memory budget). The drivers fall back to node_modules when a
// bundle is missing (tsc-only builds). @azure/identity and the AWS credential chains (profiles, web
// identity) stay in node_modules: only those credential kinds load them.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'dist', 'src', 'vendor');

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  console.warn('bundle-sdks: esbuild is not installed (npm install --include=dev); the drivers will load the SDKs from node_modules');
  process.exit(0);
}

// V8 keeps every loaded script's source as a string on its heap for the life of the process, one byte per
// character if the whole file is ASCII, two if a single character is not. Whitespace and syntax minified
// (identifiers kept: stack traces and error names stay readable), ASCII only, licences in a .LEGAL.txt file
// beside each bundle (one "Jimmy Wärting" in an inline licence made the kube bundle a 5.6 MiB two-byte string
// instead of 2.8 MiB): measured for issue 12 with heap snapshots of the sidecar.
const LEAN = { minifyWhitespace: true, minifySyntax: true, charset: 'ascii', legalComments: 'external', logLevel: 'warning' };

/** The generated serializer without its model classes: no `export * from '../models/…'`, no model imports, typeMap {}. */
function kubeModelsLeft() {
  const models = /[\\/]@kubernetes[\\/]client-node[\\/]dist[\\/]gen[\\/]models[\\/]/;
  return {
    name: 'kube-models-left',
    setup(build) {
      build.onLoad({ filter: /[\\/]@kubernetes[\\/]client-node[\\/]dist[\\/]gen[\\/]models[\\/]ObjectSerializer\.js$/ }, async (args) => {
        let text = await fs.promises.readFile(args.path, 'utf8');
        text = text.replace(/^export \* from '\.\.\/models\/[^']+';\n/gm, '').replace(/^import \{[^}]*\} from '\.\.\/models\/[^']+';\n/gm, '');
        const start = text.indexOf('let typeMap = {');
        const end = text.indexOf('\n};', start);
        if (start < 0 || end < 0) throw new Error(`bundle-sdks: ${args.path} has no typeMap literal any more: check the kube bundle by hand`);
        return { contents: `${text.slice(0, start)}let typeMap = {};${text.slice(end + 3)}`, loader: 'js' };
      });
      // gen/index.js (imported by config.js for createConfiguration) re-exports every model: nothing pgstow uses.
      // Anything else that still reaches a model module is a change of the package's layout: fail the build.
      build.onLoad({ filter: models }, (args) => {
        if (/ObjectSerializer\.js$/.test(args.path)) return undefined;
        if (/[\\/]models[\\/]all\.js$/.test(args.path)) return { contents: 'export {};', loader: 'js' };
        throw new Error(`bundle-sdks: the kube bundle still loads ${path.relative(root, args.path)}`);
      });
    },
  };
}

/**
 * The CoreV1 API classes with only what pgstow calls (readNamespacedSecret): their ~400 other methods were ~960 KiB
 * of the kube bundle, a source string in the sidecar's heap for the life of the process. The members are cut
 * from the classes with TypeScript's parser; the build fails if a class or a kept method is no longer there.
 */
const COREV1_KEEP = ['readNamespacedSecret', 'readNamespacedSecretWithHttpInfo'];
const COREV1_CLASSES = {
  'gen/apis/CoreV1Api.js': ['CoreV1ApiRequestFactory', 'CoreV1ApiResponseProcessor'],
  'gen/types/ObservableAPI.js': ['ObservableCoreV1Api'],
  'gen/types/ObjectParamAPI.js': ['ObjectCoreV1Api'],
};
function coreV1SecretsOnly(ts) {
  return {
    name: 'core-v1-secrets-only',
    setup(build) {
      build.onLoad({ filter: /[\\/]@kubernetes[\\/]client-node[\\/]dist[\\/]gen[\\/](apis[\\/]CoreV1Api|types[\\/]ObservableAPI|types[\\/]ObjectParamAPI)\.js$/ }, async (args) => {
        const rel = args.path.split(path.sep).join('/').replace(/.*\/client-node\/dist\//, '');
        const text = await fs.promises.readFile(args.path, 'utf8');
        return { contents: keepMembers(ts, text, args.path, COREV1_CLASSES[rel], COREV1_KEEP), loader: 'js' };
      });
    },
  };
}

/** `text` with every member of `classes` other than the constructor and `keep` removed. */
function keepMembers(ts, text, file, classes, keep) {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const cuts = [];
  for (const name of classes) {
    const cls = source.statements.find((st) => ts.isClassDeclaration(st) && st.name?.text === name);
    if (!cls) throw new Error(`bundle-sdks: ${file} no longer defines ${name}: check the kube bundle by hand`);
    const members = cls.members.filter((m) => !ts.isConstructorDeclaration(m));
    const kept = members.filter((m) => m.name && keep.includes(m.name.getText(source)));
    if (kept.length === 0) throw new Error(`bundle-sdks: ${name} (${file}) has none of ${keep.join(', ')} any more`);
    for (const m of members) if (!kept.includes(m)) cuts.push([m.getFullStart(), m.getEnd()]);
  }
  cuts.sort((a, b) => b[0] - a[0]);
  let out = text;
  for (const [from, to] of cuts) out = out.slice(0, from) + out.slice(to);
  return out;
}

/**
 * undici's index (MockAgent, caches, EventSource, WebSocket, HTTP/2, two HTTP/1 parsers as base64 WebAssembly…)
 * for the three things the kube bundle's modules import from it: Agent and ProxyAgent (config.js) and fetch
 * (gen/http/isomorphic-fetch.js), taken from the modules that define them.
 */
function undiciEntryPoints() {
  const shim = `export { default as Agent } from 'undici/lib/dispatcher/agent.js';
export { default as ProxyAgent } from 'undici/lib/dispatcher/proxy-agent.js';
export { fetch } from 'undici/lib/web/fetch/index.js';`;
  return {
    name: 'undici-entry-points',
    setup(build) {
      build.onResolve({ filter: /^undici$/ }, () => ({ path: 'undici-entry-points', namespace: 'pgstow-shim' }));
      build.onLoad({ filter: /.*/, namespace: 'pgstow-shim' }, () => ({ contents: shim, loader: 'js', resolveDir: root }));
    },
  };
}

/**
 * node:http through require(), not an ES import: Node builds an ES module's view of a built-in by reading every
 * export, and node:http's WebSocket, CloseEvent and MessageEvent are getters that load Node's own undici
 * (internal/deps/undici/undici: ~750 KiB of source kept on the heap, plus its web streams and worker_threads) in a
 * sidecar that never uses them. Two modules of the kube bundle import node:http (src/storage/node-net.ts does the
 * same for pgstow's own code).
 */
function httpThroughRequire() {
  return {
    name: 'http-through-require',
    setup(build) {
      // The shim's own require('node:http') stays external (Node's require, from the bundle's banner).
      build.onResolve({ filter: /^(node:)?http$/ }, (args) => (args.namespace === 'pgstow-require' ? { path: 'node:http', external: true } : { path: 'node-http', namespace: 'pgstow-require' }));
      build.onLoad({ filter: /.*/, namespace: 'pgstow-require' }, () => ({ contents: "module.exports = require('node:http');", loader: 'js', resolveDir: root }));
    },
  };
}

/**
 * undici's experimental Milo HTTP/1 parser (two WebAssembly builds as base64, ~150 KiB, and its 19 KiB driver) left
 * out, as Node's own build of undici leaves it out: it runs only when a client asks for it (useMilo, or
 * UNDICI_USE_MILO=1 in the environment), and the Kubernetes client never does; llhttp parses every response.
 * The source would otherwise sit in the sidecar's heap for the life of the process (issue 12).
 */
function undiciWithoutMilo() {
  return {
    name: 'undici-without-milo',
    setup(build) {
      build.onLoad({ filter: /[\\/]undici[\\/]lib[\\/]dispatcher[\\/]parser-h1\.js$/ }, () => ({
        contents: `class H1Parser { constructor () { throw new Error('pgstow: undici\\'s Milo parser is not in the Kubernetes client bundle'); } }
module.exports = { H1Parser, getMiloEnabled: () => false, setMiloEnabled () {} };`,
        loader: 'js',
      }));
    },
  };
}

function report(file) {
  const text = fs.readFileSync(file, 'latin1');
  // eslint-disable-next-line no-control-regex
  const wide = /[^\x00-\x7f]/.test(text);
  console.log(`bundle-sdks: ${path.relative(root, file)} (${Math.round(text.length / 1024)} KiB${wide ? ', NOT ASCII: V8 holds it as a two-byte string' : ''})`);
}

// The paths keep the package scope (vendor/@azure/…) so load probes that look for "/@azure/" still see them.
/** The names the Azure driver reads from the SDK bundle. */
const AZURE_EXPORTS = ['AnonymousCredential', 'ContainerClient', 'StorageSharedKeyCredential', 'newPipeline'];
const BUNDLES = [
  { out: '@aws-sdk/client-s3.cjs', source: "module.exports = { s3: require('@aws-sdk/client-s3'), http: require('@smithy/node-http-handler') };" },
  // Only what the Azure driver takes from it (src/storage/drivers/azure-blob: blobSdk.X), from the ES module build,
  // whose unused exports esbuild leaves out (the package says it has no side effects): 1526 -> 1166 KiB, heap used
  // -2.4 MiB and ~30 ms less CPU at load (issue 12). test/unit/vendor-bundles.test.ts checks the list against the driver.
  { out: '@azure/storage-blob.cjs', esm: true, source: `export { ${AZURE_EXPORTS.join(', ')} } from '@azure/storage-blob';` },
  // One bundle for both: the driver hands GoogleAuth clients to Storage, so they must share one copy.
  { out: '@google-cloud/storage.cjs', source: "module.exports = { storage: require('@google-cloud/storage'), auth: require('google-auth-library') };" },
];

// @kubernetes/client-node (ESM): the plugin reads ObjectStores and Secrets through KubeConfig, CustomObjectsApi and
// CoreV1Api only. From node_modules the package costs the long-lived sidecar +25 MiB of V8 heap and +76 MiB RSS
// at load (~700 ms CPU); bundled with only those three exports (tree-shaken, whitespace and syntax minified) it
// took +7.5 MiB heap and ~+30 MiB RSS (~200 ms): measured for issue 12 (src/config/kube-client.ts loads it).
// Two more cuts (issue 12, 2026-12-07): the three classes are taken from the modules that define them, not from the
// package's index (which also brings exec/attach/cp/port-forward: ws, tar-stream, jsonpath-plus), and the
// serializer gets no model classes (kubeModelsLeft). Its typeMap names all ~800 Kubernetes kinds, so every model
// class, its attribute table and its source stayed in the heap for the life of the process. Without them the API
// classes hand back the JSON the API server sent (what the serializer does for a type it does not know), which
// is what pgstow reads: ObjectStores, Backups and Clusters are custom objects (plain JSON already), and a Secret's
// data, stringData and metadata.resourceVersion have the same names in JSON as in V1Secret.
const kubeDist = path.join(root, 'node_modules', '@kubernetes', 'client-node', 'dist');
await esbuild.build({
  stdin: {
    contents: `export { KubeConfig } from ${JSON.stringify(path.join(kubeDist, 'config.js'))};
export { ObjectCustomObjectsApi as CustomObjectsApi, ObjectCoreV1Api as CoreV1Api } from ${JSON.stringify(path.join(kubeDist, 'gen', 'types', 'ObjectParamAPI.js'))};`,
    resolveDir: root, sourcefile: 'vendor-kubernetes-client-node.mjs', loader: 'js',
  },
  bundle: true, platform: 'node', target: 'node22', format: 'esm', outfile: path.join(outDir, '@kubernetes/client-node.mjs'),
  // CommonJS dependencies bundled into an ES module still call require() for Node's built-ins.
  banner: { js: "import { createRequire as __pgstowCreateRequire } from 'node:module'; const require = __pgstowCreateRequire(import.meta.url);" },
  plugins: [kubeModelsLeft(), undiciEntryPoints(), httpThroughRequire(), undiciWithoutMilo(), coreV1SecretsOnly((await import('typescript')).default)],
  ...LEAN,
});
report(path.join(outDir, '@kubernetes/client-node.mjs'));

// The S3 driver's lean reads (src/storage/drivers/s3/lean-reads.ts) sign with SignatureV4 alone: from its ES module
// build only what it uses of @smithy/core is taken in (~24 KiB; the CommonJS build pulls in ~250 KiB).
await esbuild.build({
  stdin: { contents: "export { SignatureV4 } from '@smithy/signature-v4';", resolveDir: root, sourcefile: 'vendor-signature-v4.mjs', loader: 'js' },
  bundle: true, platform: 'node', target: 'node22', format: 'cjs', outfile: path.join(outDir, '@smithy/signature-v4.cjs'),
  mainFields: ['module', 'main'], ...LEAN,
});
report(path.join(outDir, '@smithy/signature-v4.cjs'));

for (const b of BUNDLES) {
  const outfile = path.join(outDir, b.out);
  await esbuild.build({
    stdin: { contents: b.source, resolveDir: root, sourcefile: `vendor-${path.basename(b.out)}`, loader: 'js' },
    bundle: true, platform: 'node', target: 'node20', format: 'cjs', outfile,
    // CommonJS builds, as require() would pick them (or the ES module builds for named exports, tree-shaken);
    // legal comments (licences) kept at the end of the file.
    ...(b.esm ? { mainFields: ['module', 'main'], conditions: ['import'] } : { mainFields: ['main', 'module'], conditions: ['require'] }), ...LEAN,
  });
  report(outfile);
}
