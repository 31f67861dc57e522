/**
 * `npm run build && node dist/bench/catalog-scale.js [--store fs|moto] [--backups 50] [--wals 200000] [--keep-dir]`
 *
 * Scale check for the catalog (issue 6): a server with N backups and M WAL objects written straight into a
 * filesystem store (the same bytes the fs driver stores) or, with --store moto, PUT into a private moto S3
 * server (the S3 driver streams listing pages), then the real CLI is timed with /usr/bin/time for
 * list (Barman JSON and the pgstow table with the WAL report), show, a retention dry-run plan and a real
 * retention run. Prints wall time and peak RSS per step. Not part of `npm test` (minutes, not seconds).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { emptyBackupInfo, serializeBackupInfo, formatBackupId } from '../src/domain/backup/backup-info.js';
import { PyDateTime } from '../src/domain/backup/py-datetime.js';
import { formatSegmentName } from '../src/domain/wal/wal-file-name.js';
import { makeTempDir, removeDir } from '../test/harness/tmp.js';
import { startMoto } from '../test/harness/servers/moto.js';
import type { S3ServerInfo, TlsMaterial } from '../test/harness/test-env.js';
import { TEST_BUCKET } from '../test/harness/stores.js';
import { BarmanLayout } from '../src/repository/barman-layout.js';
import { openStoreFromEnv } from '../test/harness/store-options.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'dist', 'src', 'cli', 'bin');

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

const BACKUPS = arg('--backups', 50);
const WALS = arg('--wals', 200_000);
const SERVER = 'scale';

const STORE = process.argv.includes('--store') ? process.argv[process.argv.indexOf('--store') + 1] : 'fs';
const segsPerLog = 256; // 16 MiB segments
const walName = (i: number): string => formatSegmentName(1, Math.floor(i / segsPerLog), i % segsPerLog);

function seed(root: string): void {
  const server = path.join(root, SERVER);
  const body = Buffer.alloc(16, 7);
  let lastDir = '';
  for (let i = 0; i < WALS; i++) {
    const name = walName(i);
    const dir = path.join(server, 'wals', name.slice(0, 16));
    if (dir !== lastDir) { fs.mkdirSync(dir, { recursive: true }); lastDir = dir; }
    fs.writeFileSync(path.join(dir, name), body);
  }
  for (const b of backupInfos()) {
    const dir = path.join(server, 'base', b.id);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'backup.info'), b.text);
    fs.writeFileSync(path.join(dir, 'data.tar'), Buffer.alloc(10240));
  }
}

async function seedS3(s3: S3ServerInfo, prefix: string): Promise<void> {
  const env = { ...process.env, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_DEFAULT_REGION: s3.region };
  const { store } = await openStoreFromEnv({ provider: 'aws-s3', destinationUrl: `s3://${TEST_BUCKET}/${prefix}`, endpointUrl: s3.endpoint, env });
  const layout = new BarmanLayout(prefix, SERVER);
  const body = Buffer.alloc(16, 7);
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < WALS) { const i = next++; await store.put(layout.walKey(walName(i)), body); }
  }));
  for (const b of backupInfos()) {
    await store.put(layout.backupInfoKey(b.id), Buffer.from(b.text));
    await store.put(layout.backupTarKey(b.id, 'data'), Buffer.alloc(10240));
  }
  await store.close();
}

function backupInfos(): Array<{ id: string; text: string }> {
  const start = Date.now() - WALS * 60_000; // one segment a minute
  const every = Math.floor(WALS / BACKUPS);
  const out: Array<{ id: string; text: string }> = [];
  for (let b = 0; b < BACKUPS; b++) {
    const seg = b * every + 1;
    const when = new Date(start + seg * 60_000);
    const id = formatBackupId(when, 0);
    const info = emptyBackupInfo();
    const wal = formatSegmentName(1, Math.floor(seg / segsPerLog), seg % segsPerLog);
    Object.assign(info, {
      status: 'DONE', serverName: 'cloud', timeline: 1, version: 150018, beginWal: wal, endWal: wal, beginOffset: 40, endOffset: 256,
      beginXlog: '0/0', endXlog: '0/0', beginTime: PyDateTime.fromDate(when, 0), endTime: PyDateTime.fromDate(new Date(when.getTime() + 30_000), 0),
      systemid: '7712078185362548611', pgdata: '/var/lib/postgresql/data', backupName: `nightly-${b}`,
    });
    out.push({ id, text: serializeBackupInfo(info) });
  }
  return out;
}

interface Step { step: string; seconds: number; peakRssMiB: number; exit: number; stdoutBytes: number }

let childEnv: NodeJS.ProcessEnv = process.env;

/**
 * Runs one CLI step under /usr/bin/time. Asynchronously on purpose: the S3 server is a child of this process
 * and logs every request into a pipe that only this process's event loop drains. With execFileSync the loop
 * stopped, the pipe filled after a few hundred requests, moto blocked in write(2) mid-request and the CLI
 * waited for its answer forever (the "stalled moto delete" of 2026-12-01).
 */
async function run(step: string, program: string, args: string[]): Promise<Step> {
  const out = path.join(makeTempDir('scale-out'), 'out');
  const stdout = fs.openSync(out, 'w');
  const child = spawn('/usr/bin/time', ['-f', '%e %M', '-o', `${out}.time`, process.execPath, path.join(BIN, `${program}.js`), ...args], { stdio: ['ignore', stdout, 'pipe'], env: childEnv });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-20_000); });
  const exit = await new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? -1));
  });
  fs.closeSync(stdout);
  const [secs, kb] = fs.readFileSync(`${out}.time`, 'utf8').trim().split('\n').pop()!.split(' ');
  const s: Step = { step, seconds: Number(secs), peakRssMiB: Math.round(Number(kb) / 1024), exit, stdoutBytes: fs.statSync(out).size };
  if (exit !== 0) console.error(`${step} failed (${exit}): ${stderr.slice(0, 500)}`);
  return s;
}

const dir = makeTempDir('catalog-scale');
let url = `file://${dir}`;
let common = ['--cloud-provider', 'file'];
let stopServer = async (): Promise<void> => {};
/** S3 runs: counts what is left under the server, so a "finished" delete is also checked to have deleted. */
let countS3 = async (): Promise<{ backups: number; wals: number }> => ({ backups: 0, wals: 0 });
const t0 = Date.now();
if (STORE === 'moto') {
  const started = await startMoto({ tmpDir: dir, tls: undefined as unknown as TlsMaterial });
  stopServer = started.stop;
  const s3 = started.servers.moto as S3ServerInfo;
  const prefix = `scale-${Date.now()}`;
  await seedS3(s3, prefix);
  countS3 = async () => {
    const env = { ...process.env, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_DEFAULT_REGION: s3.region };
    const { store } = await openStoreFromEnv({ provider: 'aws-s3', destinationUrl: `s3://${TEST_BUCKET}/${prefix}`, endpointUrl: s3.endpoint, env });
    const layout = new BarmanLayout(prefix, SERVER);
    let backups = 0;
    let wals = 0;
    for await (const e of store.list(layout.walsPrefix)) if ('key' in e) wals++;
    for await (const e of store.list(layout.basePrefix)) if ('key' in e && e.key.endsWith('/backup.info')) backups++;
    await store.close();
    return { backups, wals };
  };
  url = `s3://${TEST_BUCKET}/${prefix}`;
  common = ['--cloud-provider', 'aws-s3', '--endpoint-url', s3.endpoint];
  childEnv = { ...process.env, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_DEFAULT_REGION: s3.region };
} else {
  seed(dir);
}
console.log(`seeded ${BACKUPS} backups and ${WALS} WAL objects (${STORE}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
const steps: Step[] = [];
for (const [step, program, args] of [
  ['barman-cloud-backup-list --format json', 'barman-cloud-backup-list', [...common, '--format', 'json', url, SERVER]],
  ['pgstow backup list (with WAL report)', 'pgstow', ['backup', 'list', ...common, url, SERVER]],
  ['barman-cloud-backup-show <name>', 'barman-cloud-backup-show', [...common, url, SERVER, `nightly-${Math.floor(BACKUPS / 2)}`]],
  ['barman-cloud-check-wal-archive --timeline 2', 'barman-cloud-check-wal-archive', [...common, '--timeline', '2', url, SERVER]],
  ['pgstow backup delete -r "REDUNDANCY 10" --dry-run --format json', 'pgstow', ['backup', 'delete', ...common, '-r', 'REDUNDANCY 10', '--dry-run', '--format', 'json', url, SERVER]],
  ['barman-cloud-backup-delete -r "REDUNDANCY 10"', 'barman-cloud-backup-delete', [...common, '-r', 'REDUNDANCY 10', url, SERVER]],
  ['barman-cloud-backup-list (after retention)', 'barman-cloud-backup-list', [...common, url, SERVER]],
] as Array<[string, string, string[]]>) steps.push(await run(step, program, args));
console.log('\n| step | wall s | peak RSS MiB | exit | stdout bytes |\n|---|---|---|---|---|');
for (const s of steps) console.log(`| ${s.step} | ${s.seconds.toFixed(2)} | ${s.peakRssMiB} | ${s.exit} | ${s.stdoutBytes} |`);
if (STORE === 'fs') {
  let remaining = 0;
  for (const d of fs.readdirSync(path.join(dir, SERVER, 'wals'))) remaining += fs.readdirSync(path.join(dir, SERVER, 'wals', d)).length;
  console.log(`\nremaining: ${fs.readdirSync(path.join(dir, SERVER, 'base')).length} backups, ${remaining} WAL objects`);
} else {
  const left = await countS3();
  console.log(`\nremaining: ${left.backups} backups, ${left.wals} WAL objects`);
}
await stopServer();
if (!process.argv.includes('--keep-dir')) removeDir(dir);
