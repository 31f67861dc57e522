/**
 * `pgstow wal-archive` start-up and per-segment cost, this tree beside another build of pgstow (e.g. main), run
 * interleaved (a new random order every run) so both see the same machine load: one 16 MiB segment archived to a
 * local directory and to a private s3rver, each run to a fresh server name. Reports wall time and CPU time (user +
 * system, the stable figure on a loaded machine) from /usr/bin/time, medians (min–max) over the runs, and the load
 * average before and after.
 *   npm run build && node dist/bench/startup-compare.js --other /path/to/other/tree[,/another/tree] [--runs 15]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../test/harness/postgres.js';
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
const trees: Array<{ label: string; root: string }> = [...others.map((o, i) => ({ label: `other${others.length > 1 ? i + 1 : ''}`, root: path.resolve(o) })), { label: 'this', root: REPO_ROOT }];

interface Sample { wall: number; cpu: number; rss: number }

function once(root: string, args: string[], env: NodeJS.ProcessEnv): Sample {
  const bin = path.join(root, 'dist', 'src', 'cli', 'bin', 'pgstow.js');
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', process.execPath, bin, 'wal-archive', ...args], { env, encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`wal-archive failed (${root}): ${r.stderr}`);
  const [user, sys, rss] = (r.stderr.trim().split('\n').at(-1) ?? '').split(' ').map(Number);
  return { wall, cpu: ((user ?? 0) + (sys ?? 0)) * 1000, rss: (rss ?? 0) / 1024 };
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? 0; };

const dir = makeTempDir('bench-startup');
const seg = path.join(dir, 'pg_wal', '000000010000000000000001');
fs.mkdirSync(path.dirname(seg), { recursive: true });
fs.writeFileSync(seg, syntheticSegment('000000010000000000000001', { segmentSize: 16 * 1024 * 1024, randomPayloadUntil: 16 * 1024 * 1024 }));
const s3 = await startPrivateS3rver(path.join(dir, 's3rver'));
try {
  const env = { ...process.env, AWS_ACCESS_KEY_ID: s3.info.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.info.secretAccessKey, AWS_DEFAULT_REGION: s3.info.region, NODE_DISABLE_COMPILE_CACHE: undefined };
  const targets = [
    { name: 'file://', args: (i: number) => [`file://${path.join(dir, 'store')}`, `srv${i}`, seg] },
    { name: 's3rver', args: (i: number) => ['--cloud-provider', 'aws-s3', '--endpoint-url', s3.info.endpoint, `s3://${TEST_BUCKET}/startup`, `srv${i}`, seg] },
  ];
  console.log(`load average at the start: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`| target | tree | wall ms, median (min–max) | CPU ms user+sys | peak RSS MiB |`);
  console.log('|---|---|---|---|---|');
  let n = 0;
  for (const t of targets) {
    const samples = new Map<string, Sample[]>(trees.map((x) => [x.label, []]));
    for (const tree of trees) once(tree.root, t.args(n++), env); // warm: page cache, compile cache
    // A new random order of the trees every run: neither always runs right after the other (page cache, s3rver's state).
    for (let i = 0; i < runs; i++) for (const tree of shuffled(trees)) samples.get(tree.label)?.push(once(tree.root, t.args(n++), env));
    for (const tree of trees) {
      const s = samples.get(tree.label) ?? [];
      const range = (xs: number[]): string => `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
      console.log(`| ${t.name} | ${tree.label} (${path.basename(tree.root)}) | ${range(s.map((x) => x.wall))} | ${range(s.map((x) => x.cpu))} | ${range(s.map((x) => x.rss))} |`);
    }
  }
  console.log(`load average at the end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
} finally {
  await s3.stop();
  removeDir(dir);
}
