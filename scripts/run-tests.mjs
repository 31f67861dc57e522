#!/usr/bin/env node
// `npm test`: type check + build, lint, start the real servers (global setup), run every test file with
// Node's built-in runner, stop the servers. Node 20's runner has no global setup hook, hence this wrapper.
// Usage: npm test [-- [--servers=moto,s3rver] [--only-unit] [test files or directories…]]
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const argv = process.argv.slice(2);
const serversArg = argv.find((a) => a.startsWith('--servers='));
const onlyUnit = argv.includes('--only-unit');
const targets = argv.filter((a) => !a.startsWith('--'));

function step(name, cmd, args) {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (r.status !== 0) {
    console.error(`\n${name} failed (exit ${r.status}) after ${secs}s`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  console.log(`${name}: ok (${secs}s)`);
}

const bin = (name) => path.join(root, 'node_modules', '.bin', name);
step('type check and build (tsc, strict)', bin('tsc'), ['-p', 'tsconfig.json']);
step('bundle the Azure and Google SDKs (esbuild)', process.execPath, [path.join(root, 'scripts', 'bundle-sdks.mjs')]);
step('lint (eslint)', bin('eslint'), ['--max-warnings=0', '.']);

// Compiled test files: dist/test/**/*.test.js, optionally filtered by the given paths (source or dist form).
function collect(dir) {
  if (!fs.existsSync(dir)) return [];
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...collect(p));
    else if (e.name.endsWith('.test.js')) out.push(p);
  }
  return out;
}
let files = collect(path.join(root, 'dist', 'test'));
// Drop compiled tests whose source was deleted (dist/ is not cleaned between builds).
files = files.filter((f) => fs.existsSync(path.join(root, path.relative(path.join(root, 'dist'), f)).replace(/\.js$/, '.ts')));
if (onlyUnit) files = files.filter((f) => f.includes(`${path.sep}unit${path.sep}`));
if (targets.length) {
  const wanted = targets.map((t) => path.resolve(t).replace(`${root}${path.sep}`, '').replace(/^dist[\\/]/, '').replace(/\.ts$/, '.js'));
  files = files.filter((f) => wanted.some((w) => path.relative(path.join(root, 'dist'), f).startsWith(w)));
}
files.sort();
if (files.length === 0) {
  console.error('no test files matched');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const { startGlobalServers } = await import(path.join(root, 'dist', 'test', 'harness', 'global-setup.js'));
const t0 = Date.now();
const needServers = !onlyUnit;
const servers = needServers
  ? await startGlobalServers(serversArg ? serversArg.slice('--servers='.length).split(',') : undefined)
  : { envFile: '', env: { missing: {} }, stop: async () => {} };
if (needServers) {
  const started = Object.keys(servers.env.servers);
  console.log(`servers started in ${((Date.now() - t0) / 1000).toFixed(1)}s: ${started.join(', ') || 'none'}`);
  for (const [name, why] of Object.entries(servers.env.missing)) console.log(`*** server ${name} is NOT available: ${why}`);
}

let stopping = false;
const stopAll = async () => { if (!stopping) { stopping = true; await servers.stop(); } };
const concurrency = process.env.PGSTOW_TEST_CONCURRENCY ?? '2';
const child = spawn(process.execPath, ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  env: { ...process.env, PGSTOW_TEST_ENV: servers.envFile },
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
const code = await new Promise((resolve) => child.on('close', (c) => resolve(c ?? 1)));
await stopAll();
process.exit(code);
