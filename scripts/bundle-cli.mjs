// Build step after tsc: bundles the CLI's hot path (wal-archive and wal-restore: archive_command and
// restore_command start one process per WAL segment) into one CommonJS file, dist/src/cli/bin/bundle/wal.cjs.
// From dist/ those commands load ~56 of our modules, and resolving, reading and linking each costs more
// than its code (measured for issue 15, see the commit). What only some calls need stays a separate chunk
// loaded on demand (each store driver, the services), and every package (cloud SDK bundles, pg, native
// codecs) stays outside: the drivers load their SDK lazily as before. The bin scripts load this file for
// those two commands only (src/cli/start.ts) and the unbundled dist/ for everything else; without the
// file (a tsc-only build) they run from dist/ too. The library (dist/src/engine) is never bundled.
// The output sits three levels under dist/src, as the driver modules do, so their relative paths to
// dist/src/vendor/ (createRequire(import.meta.url)) resolve the same from the bundle.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist', 'src', 'cli', 'bin', 'bundle');
const entry = path.join(root, 'dist', 'src', 'cli', 'wal-main.js');

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  console.warn('bundle-cli: esbuild is not installed (npm install --include=dev); the bin scripts will run from dist/');
  process.exit(0);
}
if (!fs.existsSync(entry)) throw new Error(`bundle-cli: ${path.relative(root, entry)} is missing: run tsc first`);

// A module that finds files relative to its own location (import.meta.url: the SDK bundles in dist/src/vendor/,
// native packages, the bin scripts) gets the URL its file has in dist/, so every path resolves as unbundled.
const ownUrl = {
  name: 'own-url',
  setup(build) {
    build.onLoad({ filter: /[\\/]dist[\\/]src[\\/].*\.js$/ }, async (args) => {
      const text = await fs.promises.readFile(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      const rel = path.relative(outdir, args.path).split(path.sep).join('/');
      return { contents: text.replaceAll('import.meta.url', `__pgstowModuleUrl(${JSON.stringify(rel)})`), loader: 'js' };
    });
  },
};

fs.rmSync(outdir, { recursive: true, force: true });
const result = await esbuild.build({
  plugins: [ownUrl],
  entryPoints: { wal: entry },
  // No splitting: a dynamic import() of our own modules becomes a lazily run part of the one file (one file
  // to read; V8 compiles a function only when it first runs, and the compile cache keeps what it compiled).
  bundle: true, format: 'cjs', platform: 'node', target: 'node22', outdir, outExtension: { '.js': '.cjs' },
  // CommonJS output: an import of a Node built-in or a package becomes a require() inside the part of the file
  // that needs it, so it runs only when that part does (an ES module bundle hoists every import of all 130
  // modules to its top: node:v8, node:vm, node:child_process, … loaded by every call).
  // "use strict" first, so the whole file is strict code as the ES modules were.
  banner: { js: "'use strict'; const __pgstowModuleUrl = (rel) => require('node:url').pathToFileURL(require('node:path').join(__dirname, rel)).href;" },
  packages: 'external', // SDKs and native modules load from node_modules / dist/src/vendor, lazily, as from dist/
  minifySyntax: true, minifyWhitespace: true, keepNames: true, // error class names and stack frames stay readable
  legalComments: 'none', metafile: true, logLevel: 'warning',
});
if (fs.readFileSync(path.join(outdir, 'wal.cjs'), 'utf8').includes('import.meta')) throw new Error('bundle-cli: import.meta left in the bundle');
const files = Object.keys(result.metafile.outputs);
const inputs = Object.keys(result.metafile.inputs).length;
const main = fs.statSync(path.join(outdir, 'wal.cjs')).size;
console.log(`bundle-cli: ${path.relative(root, outdir)}/wal.cjs (${Math.round(main / 1024)} KiB; ${inputs} modules into ${files.length} files)`);
