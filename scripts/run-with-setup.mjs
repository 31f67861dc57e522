#!/usr/bin/env node
// `npm run demo` and `npm run bench`: install what the command needs (scripts/setup.mjs, cached in .tools/),
// build, and run it on Node 24 (fetched when the machine's Node is older).
// Usage: node scripts/run-with-setup.mjs demo|bench [arguments for the command…]
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { awaitJobs, ROOT, reexecOnProjectNode, setup } from './setup.mjs';

const COMMANDS = {
  demo: path.join(ROOT, 'dist', 'src', 'cli', 'bin', 'pgstow.js'),
  bench: path.join(ROOT, 'dist', 'bench', 'run-bench.js'),
};

reexecOnProjectNode();
const [what, ...args] = process.argv.slice(2);
if (!COMMANDS[what]) {
  console.error(`usage: node scripts/run-with-setup.mjs ${Object.keys(COMMANDS).join('|')} [arguments…]`);
  process.exit(2);
}
try {
  // The bench needs WAL-G (built in the background during the installs), not the test-only Go builds.
  await awaitJobs(setup([what], []));
} catch (err) {
  console.error(`setup failed: ${err.message}`);
  process.exit(1);
}
const node = (script, scriptArgs) => {
  const r = spawnSync(process.execPath, [script, ...scriptArgs], { stdio: 'inherit', cwd: ROOT });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
node(path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), ['-p', 'tsconfig.json']);
node(path.join(ROOT, 'scripts', 'bundle-sdks.mjs'), []);
node(path.join(ROOT, 'scripts', 'bundle-protos.mjs'), []);
node(path.join(ROOT, 'scripts', 'bundle-cli.mjs'), []);
node(COMMANDS[what], what === 'demo' ? ['demo', ...args] : args);
