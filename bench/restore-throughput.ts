/**
 * Restore throughput, CPU and peak memory, pgstow beside barman-cloud-restore (3.4, and 3.19 when installed) on
 * the same backups in a private s3rver, with the store's download limit measured in the same run
 * (bench/download-limit.ts). MB/s of database = pg_database_size sum / wall seconds of the restore command;
 * CPU (user + sys) and peak RSS from /usr/bin/time.
 *   npm run build && node dist/bench/restore-throughput.js [--dataset-mb 1100 | --scale 20] [--codecs none,gzip,lz4]
 *     [--barman none,gzip,lz4] [--barman-version 3.19] [--other TREE] [--reps N] [--state DIR] [--limit]
 * --dataset-mb builds the bench's dataset (bench/lib/dataset.ts, as `npm run bench`); else pgbench at --scale.
 * --codecs: pgstow backups, --barman: Barman backups of --barman-version, each restored by the tool that made it.
 * `--other TREE` restores every pgstow backup with another build of pgstow too (e.g. before a change); every
 * repetition runs all restores in a new random order, so both builds see the same machine load.
 * `--state DIR` keeps the store's data and the backups' list in DIR: a later run with the same DIR skips the
 * database and the backups (the A/B loop of a change takes minutes, not the dataset's).
 * `--floor` adds what a restore of the uncompressed backup cannot do with less, in C, interleaved like the restores:
 * curl's one GET of its tar piped into GNU tar (the same files, modes, owners and mtimes written), and the same
 * with `openssl dgst -sha256` beside them (the check pgstow makes against its manifest; OpenSSL uses the CPU's SHA
 * instructions as Node does, coreutils' sha256sum does not and is ~5× slower). Unlike the download limit (bytes
 * discarded or written to one file), these create the data directory's ~1,000 files as every restore must.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startPostgres, postgresBinDir } from '../test/harness/postgres.js';
import { binPath } from '../test/harness/cli.js';
import { makeTempDir, removeDir, chownToPostgres } from '../test/harness/tmp.js';
import { startPrivateS3rver } from '../test/harness/servers/s3rver.js';
import { TEST_BUCKET } from '../test/harness/stores.js';
import { barmanCommand, type BarmanVersion } from '../test/harness/peers.js';
import { createDataset } from './lib/dataset.js';
import { timed, stats, fmt } from './lib/measure.js';
import { downloadLimitRuns, type LimitRun } from './download-limit.js';
import { s3Signer, escapeUri } from '../src/storage/drivers/s3/signer.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
const list = (name: string, fallback: string): string[] => arg(name, fallback).split(',').filter(Boolean);

const scale = Number(arg('scale', '20'));
const datasetMb = Number(arg('dataset-mb', '0'));
const pgstowCodecs = list('codecs', 'none,gzip,lz4');
const barmanCodecs = list('barman', 'none');
const barmanVersion = arg('barman-version', '3.19') as BarmanVersion;
const extraPgstow = arg('pgstow-args', '').split(' ').filter(Boolean);
const other = arg('other', '');
const reps = Number(arg('reps', '1'));
const stateDir = arg('state', '');
const withLimit = process.argv.includes('--limit');
const withFloor = process.argv.includes('--floor');
type Tool = 'pgstow' | 'other' | 'barman';
const pgstowBin = (tool: Tool): string => (tool === 'other' ? path.join(path.resolve(other), 'dist', 'src', 'cli', 'bin', 'pgstow.js') : binPath('pgstow'));
const barman = (cmd: string): string => (barmanVersion === '3.4' ? cmd : barmanCommand(barmanVersion, cmd));
const url = `s3://${TEST_BUCKET}/restore-bench`;

interface State { databaseBytes: number; backups: Array<{ label: string; server: string; by: 'pgstow' | 'barman'; id: string; tarKey?: string; tarBytes?: number }> }

const dir = stateDir ? path.resolve(stateDir) : makeTempDir('bench-restore');
fs.mkdirSync(dir, { recursive: true });
fs.chmodSync(dir, 0o755); // archive_command runs as postgres and writes below it
const stateFile = path.join(dir, 'state.json');
const s3 = await startPrivateS3rver(path.join(dir, 's3'));
const storeArgs = ['--cloud-provider', 'aws-s3', '--endpoint-url', s3.info.endpoint];
const env = { AWS_ACCESS_KEY_ID: s3.info.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.info.secretAccessKey, AWS_DEFAULT_REGION: s3.info.region };
const lines: string[] = [];
try {
  const state: State = fs.existsSync(stateFile) ? JSON.parse(fs.readFileSync(stateFile, 'utf8')) as State : await makeBackups();
  fs.writeFileSync(stateFile, JSON.stringify(state, null, 2));
  await runRestores(state);
} finally {
  await s3.stop();
  if (!stateDir) removeDir(dir);
}
fs.writeSync(1, `\n${lines.join('\n')}\n`);

async function makeBackups(): Promise<State> {
  const walDir = path.join(dir, 'wal');
  fs.mkdirSync(walDir, { recursive: true });
  chownToPostgres(walDir);
  const pg = await startPostgres({ version: 15, settings: { archive_mode: 'on', archive_command: `cp %p ${walDir}/%f`, max_wal_size: '1GB' } });
  try {
    if (datasetMb > 0) await createDataset(pg, datasetMb * 1e6);
    else execFileSync(path.join(postgresBinDir(15), 'pgbench'), ['-i', '-q', '-s', String(scale), '-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', 'postgres'], { stdio: 'ignore' });
    await pg.query('CHECKPOINT');
    const databaseBytes = Number((await pg.query<{ s: string }>('SELECT sum(pg_database_size(oid))::bigint AS s FROM pg_database'))[0]?.s);
    const conn = ['-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres'];
    const backups: State['backups'] = [];
    for (const c of barmanCodecs) {
      const server = `barman-${c}`;
      await timed(barman('barman-cloud-backup'), [...conn, '--endpoint-url', s3.info.endpoint, ...(c === 'gzip' ? ['-z'] : c === 'none' ? [] : [`--${c}`]), '--immediate-checkpoint', url, server], { env });
      backups.push({ label: `barman ${c}`, server, by: 'barman', id: latestId(server) });
    }
    for (const c of pgstowCodecs) {
      const server = `pgstow-${c}`;
      await timed(process.execPath, [binPath('pgstow'), 'backup', ...storeArgs, ...conn, ...(c === 'none' ? [] : [`--${c}`]), '--immediate-checkpoint', '--progress', 'off', url, server], { env });
      backups.push({ label: `pgstow ${c}`, server, by: 'pgstow', id: latestId(server) });
    }
    const none = backups.find((b) => b.label === 'pgstow none');
    if (none) Object.assign(none, largestTar(none.server, none.id));
    return { databaseBytes, backups };
  } finally {
    await pg.destroy();
  }
}

/** Barman's list (it knows no "latest"; it lists pgstow's backups too). */
function latestId(server: string): string {
  const out = execFileSync(barman('barman-cloud-backup-list'), ['--endpoint-url', s3.info.endpoint, '--format', 'json', url, server], { env: { ...process.env, ...env }, encoding: 'utf8' });
  return (JSON.parse(out) as { backups_list: Array<{ backup_id: string }> }).backups_list.at(-1)?.backup_id as string;
}

/** The uncompressed backup's largest tar in the store's directory (the download-limit rows read it). */
function largestTar(server: string, id: string): { tarKey: string; tarBytes: number } {
  const base = path.join(dir, 's3', TEST_BUCKET, 'restore-bench', server, 'base', id);
  const found = fs.readdirSync(base).filter((f) => f.endsWith('.tar._S3rver_object')).map((f) => ({ f, n: fs.statSync(path.join(base, f)).size })).sort((a, b) => b.n - a.n)[0];
  if (!found) throw new Error(`no tar object in ${base}`);
  return { tarKey: `restore-bench/${server}/base/${id}/${found.f.replace(/\._S3rver_object$/, '')}`, tarBytes: found.n };
}

async function runRestores(state: State): Promise<void> {
  type Job = { tool: Tool; backup: State['backups'][number] } | { limit: true } | { floor: 'tar' | 'tar+sha256' };
  const jobs: Job[] = [];
  for (const b of state.backups) {
    if (b.by === 'barman') jobs.push({ tool: 'barman', backup: b });
    else { jobs.push({ tool: 'pgstow', backup: b }); if (other) jobs.push({ tool: 'other', backup: b }); }
  }
  const tar = state.backups.find((b) => b.tarKey);
  if (withLimit && tar) jobs.push({ limit: true });
  if (withFloor && tar && onlyTar(tar)) jobs.push({ floor: 'tar' }, { floor: 'tar+sha256' });
  const results = new Map<string, { mbs: number[]; cpu: number[]; user: number[]; sys: number[]; rss: number[] }>();
  const record = (key: string, mbs: number, cpu: number, rss: number, user = NaN, sys = NaN): void => {
    const r = results.get(key) ?? { mbs: [], cpu: [], user: [], sys: [], rss: [] };
    results.set(key, r);
    r.mbs.push(mbs); r.cpu.push(cpu); r.user.push(user); r.sys.push(sys); r.rss.push(rss);
  };
  const loads: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    loads.push(os.loadavg()[0] as number);
    for (const j of shuffle(jobs)) {
      if ('limit' in j) {
        for (const r of await downloadLimitRuns(s3.info, TEST_BUCKET, tar?.tarKey as string, tar?.tarBytes as number, dir)) {
          record(`limit: ${r.what}`, r.mbPerSecond, r.cpuSeconds, r.maxRssKb / 1024);
          console.log(`limit ${r.what}: ${r.mbPerSecond.toFixed(0)} MB/s, CPU ${r.cpuSeconds.toFixed(2)} s`);
        }
        continue;
      }
      if ('floor' in j) {
        const target = path.join(dir, 'restore-floor');
        const r = await timed('bash', ['-c', await floorScript(tar as State['backups'][number], target, j.floor === 'tar+sha256')]);
        const what = j.floor === 'tar' ? 'floor: curl | tar -x' : 'floor: curl | tee openssl sha256 | tar -x';
        record(what, state.databaseBytes / 1e6 / r.wallSeconds, r.cpuSeconds, r.maxRssKb / 1024, r.userSeconds, r.sysSeconds);
        console.log(`${what}: ${(state.databaseBytes / 1e6 / r.wallSeconds).toFixed(0)} MB/s, CPU ${r.cpuSeconds.toFixed(2)} s (user ${r.userSeconds?.toFixed(2)}, sys ${r.sysSeconds?.toFixed(2)})`);
        removeDir(target);
        continue;
      }
      const target = path.join(dir, `restore-${j.backup.server}-${j.tool}`);
      const cmd = j.tool === 'barman'
        ? [barman('barman-cloud-restore'), '--endpoint-url', s3.info.endpoint, url, j.backup.server, j.backup.id, target]
        : [process.execPath, pgstowBin(j.tool), 'restore', ...storeArgs, ...extraPgstow, url, j.backup.server, j.backup.id, target];
      const r = await timed(cmd[0] as string, cmd.slice(1), { env });
      const mbs = state.databaseBytes / 1e6 / r.wallSeconds;
      record(`${j.tool} restores ${j.backup.label}`, mbs, r.cpuSeconds, r.maxRssKb / 1024, r.userSeconds, r.sysSeconds);
      console.log(`${j.tool} restores ${j.backup.label}: ${mbs.toFixed(0)} MB/s, CPU ${r.cpuSeconds.toFixed(2)} s (user ${r.userSeconds?.toFixed(2)}, sys ${r.sysSeconds?.toFixed(2)}), peak RSS ${(r.maxRssKb / 1024).toFixed(0)} MiB, load ${(os.loadavg()[0] as number).toFixed(1)}`);
      removeDir(target);
    }
  }
  loads.push(os.loadavg()[0] as number);
  lines.push(`database ${(state.databaseBytes / 1e6).toFixed(0)} MB, ${reps} repetition(s), load average ${loads.map((l) => l.toFixed(1)).join(' → ')}`, '',
    '| restore | MB/s of database | CPU s | user s | sys s | peak RSS MiB |', '|---|---|---|---|---|---|');
  for (const [k, r] of [...results].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`| ${k} | ${fmt(stats(r.mbs), 0)} | ${fmt(stats(r.cpu), 2)} | ${fmt(stats(r.user), 2)} | ${fmt(stats(r.sys), 2)} | ${fmt(stats(r.rss), 0)} |`);
  }
}

/** The backup is its one tar (no tablespaces): the floor restores it whole. */
function onlyTar(b: State['backups'][number]): boolean {
  const base = path.join(dir, 's3', TEST_BUCKET, path.dirname(b.tarKey as string));
  return fs.readdirSync(base).filter((f) => /\.tar(\.[a-z0-9]+)?\._S3rver_object$/.test(f)).length === 1;
}

/** One signed GET of the tar through curl into GNU tar (as root it restores owners and modes, as a restore does). */
async function floorScript(b: State['backups'][number], target: string, sha: boolean): Promise<string> {
  const e = new URL(s3.info.endpoint);
  const p = `/${TEST_BUCKET}/${(b.tarKey as string).split('/').map(escapeUri).join('/')}`;
  const signed = await s3Signer(() => s3.info, s3.info.region)({ method: 'GET', protocol: e.protocol, hostname: e.hostname, port: Number(e.port), path: p, query: {}, headers: { host: e.host } });
  const q = (t: string): string => `'${t.replace(/'/g, `'\\''`)}'`;
  const curl = `curl -sf ${Object.entries(signed.headers).map(([k, v]) => `-H ${q(`${k}: ${v}`)}`).join(' ')} ${q(`${e.protocol}//${e.host}${p}`)}`;
  if (!sha) return `set -eo pipefail; mkdir -p ${q(target)}; ${curl} | tar -xf - -C ${q(target)}`;
  const fifo = q(`${target}.fifo`);
  return `set -eo pipefail; mkdir -p ${q(target)}; rm -f ${fifo}; mkfifo ${fifo}; openssl dgst -sha256 < ${fifo} > /dev/null & ${curl} | tee ${fifo} | tar -xf - -C ${q(target)}; wait; rm -f ${fifo}`;
}

function shuffle<T>(a: readonly T[]): T[] {
  const out = [...a];
  for (let i = out.length - 1; i > 0; i--) {
    const k = Math.floor(Math.random() * (i + 1));
    [out[i], out[k]] = [out[k] as T, out[i] as T];
  }
  return out;
}

export type { LimitRun };
