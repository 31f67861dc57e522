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

/**
 * Dependencies of KubeConfig that only some kubeconfigs use, loaded from node_modules when first used instead of
 * bundled: openid-client with oauth4webapi (auth-provider oidc), jsonpath-plus (auth-providers gcp and azure, which
 * kubectl dropped) and socks-proxy-agent with socks, ip-address, smart-buffer and debug (a socks5:// proxy-url):
 * ~170 of the bundle's ~280 KiB, source and compiled code the sidecar (service account, no proxy) would keep for
 * its whole life. The imports become a lazy require() resolved from @kubernetes/client-node's own directory (its
 * dependencies, wherever npm put them; the image keeps node_modules); require() of an ES module works from Node
 * 22.12 (package.json asks for 22.15).
 */
const ON_DEMAND = {
  'config.js': [["import { SocksProxyAgent } from 'socks-proxy-agent';",
    "function SocksProxyAgent(...args) { return new (__pgstowOnDemand('socks-proxy-agent').SocksProxyAgent)(...args); }"]],
  'oidc_auth.js': [["import * as oidc from 'openid-client';", "const oidc = __pgstowOnDemand('openid-client');"]],
  'azure_auth.js': [["import * as jsonpath from 'jsonpath-plus';", "const jsonpath = __pgstowOnDemand('jsonpath-plus');"]],
  'gcp_auth.js': [["import * as jsonpath from 'jsonpath-plus';", "const jsonpath = __pgstowOnDemand('jsonpath-plus');"]],
};
/** Defined in the bundle's banner: a module's exports, required on the first property read. */
const ON_DEMAND_BANNER = `const __pgstowOnDemand = (name) => { let m; return new Proxy({}, { get: (_, key) => (m ??= __pgstowCreateRequire(import.meta.resolve('@kubernetes/client-node'))(name))[key] }); };`;

/**
 * The Kubernetes client reduced to KubeConfig (src/config/kube-client.ts makes pgstow's few API calls itself, as
 * JSON over node:https, with KubeConfig.applyToHTTPSOptions). config.js still imports two things only its other
 * paths reach: undici (createDispatcher, the library's fetch path: applySecurityAuthentication) and gen/index.js
 * (createConfiguration and ServerConfiguration: makeApiClient, the generated API classes). Both are replaced by
 * names that throw a line saying so (and socks' SocksClient, which only the undici path uses); the build fails if
 * any other module of the generated client (gen/) is still reached, or a shimmed name is gone from config.js (a
 * layout change of the package: check the bundle by hand).
 */
function kubeConfigOnly() {
  const leftOut = (what) => `throw new Error(${JSON.stringify(`pgstow: the Kubernetes client bundle holds KubeConfig only (${what} is not in it); pgstow makes its API calls itself (src/config/kube-client.ts)`)})`;
  const shims = {
    undici: `export class Agent { constructor() { ${leftOut("undici's Agent: KubeConfig.applySecurityAuthentication")}; } }
export class ProxyAgent { constructor() { ${leftOut("undici's ProxyAgent: KubeConfig.applySecurityAuthentication")}; } }`,
    // SocksClient: only createDispatcher's SOCKS connector uses it (a socks5:// proxy-url for the library's fetch);
    // pgstow's requests take the socks-proxy-agent that createAgent makes (ON_DEMAND).
    socks: `export const SocksClient = { createConnection() { ${leftOut("socks' SocksClient: KubeConfig.applySecurityAuthentication")}; } };`,
    gen: `export function createConfiguration() { ${leftOut('the generated API classes: KubeConfig.makeApiClient')}; }
export class ServerConfiguration { constructor() { ${leftOut('the generated API classes: KubeConfig.makeApiClient')}; } }`,
  };
  const dist = /[\\/]@kubernetes[\\/]client-node[\\/]dist[\\/]/;
  return {
    name: 'kube-config-only',
    setup(build) {
      build.onResolve({ filter: /^(undici|socks)$/ }, (args) => {
        if (!dist.test(args.importer)) throw new Error(`bundle-sdks: ${args.importer} imports ${args.path}: check the kube bundle by hand`);
        return { path: args.path, namespace: 'pgstow-left-out' };
      });
      build.onLoad({ filter: /.*/, namespace: 'pgstow-left-out' }, (args) => ({ contents: shims[args.path], loader: 'js' }));
      build.onLoad({ filter: /[\\/]@kubernetes[\\/]client-node[\\/]dist[\\/]gen[\\/]/ }, (args) => {
        if (/[\\/]gen[\\/]index\.js$/.test(args.path)) return { contents: shims.gen, loader: 'js' };
        if (/[\\/]gen[\\/]rxjsStub\.js$/.test(args.path)) return undefined; // middleware.js: a few lines
        throw new Error(`bundle-sdks: the kube bundle still loads ${path.relative(root, args.path)}`);
      });
      // config.js and the auth providers: a few imports swapped (ON_DEMAND); each must still be there as written.
      build.onLoad({ filter: /[\\/]@kubernetes[\\/]client-node[\\/]dist[\\/](config|oidc_auth|azure_auth|gcp_auth)\.js$/ }, async (args) => {
        let text = await fs.promises.readFile(args.path, 'utf8');
        const file = path.basename(args.path);
        if (file === 'config.js') {
          for (const imp of [/import \{[^}]*\bAgent as UndiciAgent\b[^}]*\bProxyAgent as UndiciProxyAgent\b[^}]*\} from 'undici';/, /import \{ createConfiguration, ServerConfiguration, \} from '\.\/gen\/index\.js';/]) {
            if (!imp.test(text)) throw new Error(`bundle-sdks: ${args.path} no longer has ${imp.source}: check the kube bundle's shims by hand`);
          }
        }
        for (const [from, to] of ON_DEMAND[file] ?? []) {
          if (!text.includes(from)) throw new Error(`bundle-sdks: ${args.path} no longer has "${from}": check the kube bundle's on-demand imports by hand`);
          text = text.replace(from, to);
        }
        return { contents: text, loader: 'js' };
      });
    },
  };
}

/**
 * node:http through require(), not an ES import: Node builds an ES module's view of a built-in by reading every
 * export, and node:http's WebSocket, CloseEvent and MessageEvent are getters that load Node's own undici
 * (internal/deps/undici/undici: ~750 KiB of source kept on the heap, plus its web streams and worker_threads) in a
 * sidecar that never uses them. KubeConfig's module imports node:http (src/storage/node-net.ts does the same for
 * pgstow's own code).
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

// @kubernetes/client-node (ESM): KubeConfig alone (kubeConfigOnly). From node_modules the whole package costs the
// long-lived sidecar +25 MiB of V8 heap and +76 MiB RSS at load (~700 ms CPU); with its generated API classes (cut
// to the calls pgstow made, without model classes) and undici's Agent, ProxyAgent and fetch the bundle was 895 KiB;
// KubeConfig with its auth providers, YAML parser and proxy agents is a fraction of that (issue 12,
// docs/cnpg-plugin.md). Taken from the module that defines it, not the package's index (which also brings
// exec/attach/cp/port-forward: ws, tar-stream).
const kubeDist = path.join(root, 'node_modules', '@kubernetes', 'client-node', 'dist');
await esbuild.build({
  stdin: {
    contents: `export { KubeConfig } from ${JSON.stringify(path.join(kubeDist, 'config.js'))};`,
    resolveDir: root, sourcefile: 'vendor-kubernetes-client-node.mjs', loader: 'js',
  },
  bundle: true, platform: 'node', target: 'node22', format: 'esm', outfile: path.join(outDir, '@kubernetes/client-node.mjs'),
  // CommonJS dependencies bundled into an ES module still call require() for Node's built-ins.
  banner: { js: `import { createRequire as __pgstowCreateRequire } from 'node:module'; const require = __pgstowCreateRequire(import.meta.url); ${ON_DEMAND_BANNER}` },
  plugins: [kubeConfigOnly(), httpThroughRequire()],
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
