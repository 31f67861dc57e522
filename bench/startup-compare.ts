/**
 * `pgstow wal-archive` (or `wal-restore`) start-up and per-segment cost, this tree beside another build of pgstow
 * (e.g. main), run interleaved (a new random order every run) so both see the same machine load: one 16 MiB segment
 * archived to a local directory, a private s3rver and a private GCS emulator (STORAGE_EMULATOR_HOST), each run to a
 * fresh server name; restored from one archived copy to a fresh file. With --barman, Barman 3.19's
 * barman-cloud-wal-archive/-restore runs in the same order on the cloud targets. Reports wall time and CPU time
 * (user + system, the stable figure on a loaded machine) and peak RSS from /usr/bin/time, medians (min–max) over
 * the runs, and the load average before and after.
 *   npm run build && node dist/bench/startup-compare.js --other /path/to/other/tree[,/another/tree] [--runs 15]
 *     [--targets file,s3rver,gcs] [--command wal-archive|wal-restore] [--barman] [--flags=--lz4]
 * --flags: options (comma-separated) every archive takes, the ones that write the copy a restore reads included.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../test/harness/postgres.js';
import { barmanCommand } from '../test/harness/peers.js';
import { startGcsEmulator } from '../test/harness/servers/gcs.js';
import { startPrivateS3rver } from '../test/harness/servers/s3rver.js';
import { TEST_BUCKET } from '../test/harness/stores.js';
import { makeTempDir, removeDir } from '../test/harness/tmp.js';
import { syntheticSegment } from '../test/harness/wal-segments.js';
import { shuffled } from './lib/measure.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const others = arg('other', '').split(',').filter((o) => o !== '');
for (const other of others.length ? others : ['']) {
  if (!fs.existsSync(path.join(other, 'dist', 'src', 'cli', 'bin', 'pgstow.js'))) throw new Error('--other must name built pgstow trees (comma-separated)');
}
const runs = Number(arg('runs', '15'));
const command = arg('command', 'wal-archive');
if (command !== 'wal-archive' && command !== 'wal-restore') throw new Error('--command is wal-archive or wal-restore');
const wanted = arg('targets', 'file,s3rver,gcs').split(',');
const withBarman = process.argv.includes('--barman');
/** Options for every archive, e.g. `--flags=--lz4` (the `=` form: the value starts with a dash). */
const flags = (process.argv.find((a) => a.startsWith('--flags='))?.slice('--flags='.length) ?? '').split(',').filter((f) => f !== '');
/** A tree is a pgstow build; root '' with a barman label runs Barman 3.19's command instead. */
type Tree = { label: string; root: string };
const trees: Tree[] = [...others.map((o, i) => ({ label: `other${others.length > 1 ? i + 1 : ''}`, root: path.resolve(o) })), { label: 'this', root: REPO_ROOT }];
const BARMAN: Tree = { label: 'barman-cloud 3.19', root: '' };

interface Sample { wall: number; cpu: number; rss: number }

function once(root: string, args: string[], env: NodeJS.ProcessEnv, cmd: string = command): Sample {
  const argv = root === '' ? [barmanCommand('3.19', `barman-cloud-${cmd}`), ...args]
    : [process.execPath, path.join(root, 'dist', 'src', 'cli', 'bin', 'pgstow.js'), cmd, ...args];
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', ...argv], { env, encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} failed (${root || 'barman'}): ${r.stderr}`);
  const [user, sys, rss] = (r.stderr.trim().split('\n').at(-1) ?? '').split(' ').map(Number);
  return { wall, cpu: ((user ?? 0) + (sys ?? 0)) * 1000, rss: (rss ?? 0) / 1024 };
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? 0; };

const dir = makeTempDir('bench-startup');
const seg = path.join(dir, 'pg_wal', '000000010000000000000001');
fs.mkdirSync(path.dirname(seg), { recursive: true });
fs.writeFileSync(seg, syntheticSegment('000000010000000000000001', { segmentSize: 16 * 1024 * 1024, randomPayloadUntil: 16 * 1024 * 1024 }));
const s3 = await startPrivateS3rver(path.join(dir, 's3rver'));
const gcs = await startGcsEmulator({ tmpDir: dir });
try {
  const env = { ...process.env, AWS_ACCESS_KEY_ID: s3.info.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.info.secretAccessKey, AWS_DEFAULT_REGION: s3.info.region, NODE_DISABLE_COMPILE_CACHE: undefined };
  const gcsEnv = { ...env, STORAGE_EMULATOR_HOST: gcs.endpoint, GOOGLE_CLOUD_PROJECT: 'pgstow-test' };
  const targets = [
    { name: 'file://', env, cloud: false, store: [`file://${path.join(dir, 'store')}`] },
    { name: 's3rver', env, cloud: true, store: ['--cloud-provider', 'aws-s3', '--endpoint-url', s3.info.endpoint, `s3://${TEST_BUCKET}/startup`] },
    { name: 'gcs', env: gcsEnv, cloud: true, store: ['--cloud-provider', 'google-cloud-storage', `gs://${TEST_BUCKET}/startup`] },
  ].filter((t) => wanted.includes(t.name.replace(':/', '').replace('/', '')) || wanted.includes(t.name));
  console.log(`${command}${flags.length ? ` ${flags.join(' ')}` : ''}; load average at the start: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`| target | tree | wall ms, median (min–max) | CPU ms user+sys | peak RSS MiB |`);
  console.log('|---|---|---|---|---|');
  let n = 0;
  const restored = path.join(dir, 'restored');
  for (const t of targets) {
    const tools = withBarman && t.cloud ? [...trees, BARMAN] : trees;
    // wal-restore reads one copy archived once (by this tree) under its own server name.
    if (command === 'wal-restore') once(REPO_ROOT, [...flags, ...t.store, 'restore-src', seg], t.env, 'wal-archive');
    const args = (i: number): string[] => command === 'wal-archive' ? [...flags, ...t.store, `srv${i}`, seg]
      : [...t.store, 'restore-src', '000000010000000000000001', `${restored}-${i}`];
    const samples = new Map<string, Sample[]>(tools.map((x) => [x.label, []]));
    for (const tree of tools) once(tree.root, args(n++), t.env); // warm: page cache, compile cache
    // A new random order of the trees every run: neither always runs right after the other (page cache, the store's state).
    for (let i = 0; i < runs; i++) for (const tree of shuffled(tools)) samples.get(tree.label)?.push(once(tree.root, args(n++), t.env));
    for (const tree of tools) {
      const s = samples.get(tree.label) ?? [];
      const range = (xs: number[]): string => `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
      console.log(`| ${t.name} | ${tree.label}${tree.root ? ` (${path.basename(tree.root)})` : ''} | ${range(s.map((x) => x.wall))} | ${range(s.map((x) => x.cpu))} | ${range(s.map((x) => x.rss))} |`);
    }
  }
  console.log(`load average at the end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
} finally {
  await gcs.stop();
  await s3.stop();
  removeDir(dir);
}
