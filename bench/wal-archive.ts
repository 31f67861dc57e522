/**
 * Per-segment cost of archive_command: pgstow wal-archive vs barman-cloud-wal-archive 3.4 vs pgBackRest
 * archive-push, on one real 16 MiB WAL segment from a pgbench load, to a local directory and to s3rver.
 * Uses hyperfine (wall time and CPU time); every run archives to a fresh server name so no run hits the
 * "already archived" path. Run: npm run build && node dist/bench/wal-archive.js
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { binCommandLine } from '../test/harness/cli.js';
import { postgresBinDir, startPostgres } from '../test/harness/postgres.js';
import { startPrivateS3rver } from '../test/harness/servers/s3rver.js';
import { TEST_BUCKET } from '../test/harness/stores.js';
import { makeTempDir, removeDir } from '../test/harness/tmp.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 10);

interface Row { name: string; meanMs: number; stddevMs: number; userMs: number; systemMs: number }

/** BENCH_ONLY=substring limits the run to matching rows (e.g. BENCH_ONLY=pgBackRest). */
const ONLY = process.env.BENCH_ONLY;

function hyperfine(name: string, command: string, env: Record<string, string> = {}): Row | undefined {
  if (ONLY && !name.includes(ONLY)) return undefined;
  const out = path.join(makeTempDir('bench-json'), 'h.json');
  // One run per parameter value: each run archives under a new server name (a repeat would only find the
  // WAL already archived). A first run under "warm" fills the page cache.
  spawnSync('sh', ['-c', command.replace('{i}', 'warm')], { env: { ...process.env, ...env }, stdio: 'ignore' });
  const r = spawnSync('hyperfine', ['-N', '-r', '1', '--parameter-scan', 'i', '1', String(RUNS), '--export-json', out, command],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) { console.error(`${name}: failed\n${r.stderr.toString().slice(-2000)}`); return undefined; }
  const results = (JSON.parse(fs.readFileSync(out, 'utf8')) as { results: Array<{ mean: number; user: number; system: number; times: number[] }> }).results;
  const times = results.flatMap((x) => x.times);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  const sd = Math.sqrt(times.reduce((a, b) => a + (b - mean) ** 2, 0) / times.length);
  const user = results.reduce((a, x) => a + x.user, 0) / results.length;
  const system = results.reduce((a, x) => a + x.system, 0) / results.length;
  return { name, meanMs: mean * 1000, stddevMs: sd * 1000, userMs: user * 1000, systemMs: system * 1000 };
}

async function realSegment(dir: string): Promise<{ seg: string; pg: Awaited<ReturnType<typeof startPostgres>> }> {
  const pg = await startPostgres({ settings: { wal_keep_size: '1GB' } });
  {
    execFileSync(path.join(postgresBinDir(15), 'pgbench'), ['-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', '-i', '-s', '5', '-q', 'postgres'], { stdio: 'pipe' });
    const rows = await pg.query<{ w: string }>('select pg_walfile_name(pg_switch_wal()) as w');
    const name = rows[0]?.w as string;
    const pgWal = path.join(dir, 'pg_wal');
    fs.mkdirSync(path.join(pgWal, 'archive_status'), { recursive: true });
    fs.copyFileSync(path.join(pg.dataDir, 'pg_wal', name), path.join(pgWal, name));
    return { seg: path.join(pgWal, name), pg };
  }
}

const dir = makeTempDir('bench-wal');
const { seg, pg } = await realSegment(dir);
console.log(`segment ${path.basename(seg)} (${fs.statSync(seg).size} bytes), ${RUNS} runs each`);
const s3 = await startPrivateS3rver(path.join(dir, 's3rver'));
const s3env = { AWS_ACCESS_KEY_ID: s3.info.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.info.secretAccessKey, AWS_DEFAULT_REGION: s3.info.region };
const s3args = `--cloud-provider aws-s3 --endpoint-url ${s3.info.endpoint} s3://${TEST_BUCKET}/bench`;
const fsUrl = `file://${path.join(dir, 'store')}`;
const pgstow = binCommandLine('barman-cloud-wal-archive');
const rows: Array<Row | undefined> = [];
try {
  for (const [label, flag] of [['uncompressed', ''], ['gzip', '-z'], ['gzip low', '-z --compression-level low'], ['lz4', '--lz4'], ['zstd', '--zstd']] as const) {
    rows.push(hyperfine(`pgstow fs ${label}`, `${pgstow} ${flag} --cloud-provider file ${fsUrl} srv{i} ${seg}`));
    rows.push(hyperfine(`pgstow s3rver ${label}`, `${pgstow} ${flag} ${s3args} srv{i} ${seg}`, s3env));
  }
  if (spawnSync('sh', ['-c', 'command -v barman-cloud-wal-archive']).status === 0) {
    rows.push(hyperfine('barman-cloud 3.4 s3rver uncompressed', `barman-cloud-wal-archive ${s3args} srv{i} ${seg}`, s3env));
    rows.push(hyperfine('barman-cloud 3.4 s3rver gzip', `barman-cloud-wal-archive -z ${s3args} srv{i} ${seg}`, s3env));
  }
  if (spawnSync('sh', ['-c', 'command -v pgbackrest']).status === 0 && (!ONLY || 'pgBackRest'.includes(ONLY))) {
    // One stanza per run (pgBackRest skips a WAL it already holds), all for the live cluster the segment
    // came from (archive-push checks the system identifier).
    const conf = path.join(dir, 'pgbackrest.conf');
    const repo = path.join(dir, 'pgbr');
    fs.mkdirSync(repo, { recursive: true });
    fs.mkdirSync(path.join(dir, 'pgbr-lock'), { recursive: true });
    execFileSync('chown', ['-R', 'postgres', repo, path.join(dir, 'pgbr-lock')]);
    let text = `[global]\nrepo1-path=${repo}\nlog-level-console=off\nlog-level-file=off\nlock-path=${path.join(dir, 'pgbr-lock')}\n`;
    const stanzas = ['none', 'gz'].flatMap((c) => ['warm', ...Array.from({ length: RUNS }, (_, k) => String(k + 1))].map((i) => `${c}${i}`));
    for (const i of stanzas) text += `[s${i}]\npg1-path=${pg.dataDir}\npg1-port=${pg.port}\npg1-socket-path=${pg.socketDir}\n`;
    fs.writeFileSync(conf, text);
    fs.chmodSync(conf, 0o644);
    fs.chmodSync(dir, 0o755);
    let ok = true;
    for (const i of stanzas) {
      if (!ok) break;
      const r = spawnSync('runuser', ['-u', 'postgres', '--', 'pgbackrest', `--config=${conf}`, `--stanza=s${i}`, 'stanza-create'], { stdio: 'pipe' });
      if (r.status !== 0) { console.error(`pgbackrest stanza-create failed: ${r.stderr.toString()}${r.stdout.toString()}`); ok = false; }
    }
    fs.chmodSync(dir, 0o755);
    execFileSync('chown', ['-R', 'postgres', path.dirname(seg)]);
    for (const [label, c] of [['uncompressed', 'none'], ['gzip', 'gz']] as const) {
      if (ok) rows.push(hyperfine(`pgBackRest fs ${label}`, `runuser -u postgres -- pgbackrest --config=${conf} --stanza=s${c}{i} --compress-type=${c} archive-push ${seg}`));
    }
  }
} finally {
  await s3.stop();
  await pg.destroy();
}
console.log('\n| command | wall mean ± sd (ms) | user + sys CPU (ms) |\n|---|---|---|');
for (const r of rows) if (r) console.log(`| ${r.name} | ${r.meanMs.toFixed(0)} ± ${r.stddevMs.toFixed(0)} | ${(r.userMs + r.systemMs).toFixed(0)} |`);
removeDir(dir);
