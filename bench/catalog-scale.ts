/**
 * `npm run build && node dist/bench/catalog-scale.js [--backups 50] [--wals 200000] [--keep-dir]`
 *
 * Scale check for the catalog (issue 6): a server with N backups and M WAL objects written straight into a
 * filesystem store (the same bytes the fs driver stores), then the real CLI is timed with /usr/bin/time for
 * list (Barman JSON and the pgstow table with the WAL report), show, a retention dry-run plan and a real
 * retention run. Prints wall time and peak RSS per step. Not part of `npm test` (minutes, not seconds).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { emptyBackupInfo, serializeBackupInfo, formatBackupId } from '../src/domain/backup/backup-info.js';
import { PyDateTime } from '../src/domain/backup/py-datetime.js';
import { formatSegmentName } from '../src/domain/wal/wal-file-name.js';
import { makeTempDir, removeDir } from '../test/harness/tmp.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'dist', 'src', 'cli', 'bin');

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

const BACKUPS = arg('--backups', 50);
const WALS = arg('--wals', 200_000);
const SERVER = 'scale';

function seed(root: string): void {
  const server = path.join(root, SERVER);
  const segsPerLog = 256; // 16 MiB segments
  const start = Date.now() - WALS * 60_000; // one segment a minute
  const every = Math.floor(WALS / BACKUPS);
  const body = Buffer.alloc(16, 7);
  let lastDir = '';
  for (let i = 0; i < WALS; i++) {
    const name = formatSegmentName(1, Math.floor(i / segsPerLog), i % segsPerLog);
    const dir = path.join(server, 'wals', name.slice(0, 16));
    if (dir !== lastDir) { fs.mkdirSync(dir, { recursive: true }); lastDir = dir; }
    fs.writeFileSync(path.join(dir, name), body);
  }
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
    const dir = path.join(server, 'base', id);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'backup.info'), serializeBackupInfo(info));
    fs.writeFileSync(path.join(dir, 'data.tar'), Buffer.alloc(10240));
  }
}

interface Step { step: string; seconds: number; peakRssMiB: number; exit: number; stdoutBytes: number }

function run(step: string, program: string, args: string[]): Step {
  const out = path.join(makeTempDir('scale-out'), 'out');
  let exit = 0;
  let stderr = '';
  try {
    execFileSync('/usr/bin/time', ['-f', '%e %M', '-o', `${out}.time`, process.execPath, path.join(BIN, `${program}.js`), ...args], { stdio: ['ignore', fs.openSync(out, 'w'), 'pipe'], maxBuffer: 1 << 30 });
  } catch (err) {
    exit = (err as { status?: number }).status ?? -1;
    stderr = String((err as { stderr?: Buffer }).stderr ?? '');
  }
  const [secs, kb] = fs.readFileSync(`${out}.time`, 'utf8').trim().split('\n').pop()!.split(' ');
  const s: Step = { step, seconds: Number(secs), peakRssMiB: Math.round(Number(kb) / 1024), exit, stdoutBytes: fs.statSync(out).size };
  if (exit !== 0) console.error(`${step} failed (${exit}): ${stderr.slice(0, 500)}`);
  return s;
}

const dir = makeTempDir('catalog-scale');
const url = `file://${dir}`;
const t0 = Date.now();
seed(dir);
console.log(`seeded ${BACKUPS} backups and ${WALS} WAL objects in ${((Date.now() - t0) / 1000).toFixed(1)} s at ${dir}`);
const common = ['--cloud-provider', 'file'];
const steps: Step[] = [
  run('barman-cloud-backup-list --format json', 'barman-cloud-backup-list', [...common, '--format', 'json', url, SERVER]),
  run('pgstow backup list (with WAL report)', 'pgstow', ['backup', 'list', ...common, url, SERVER]),
  run('barman-cloud-backup-show <name>', 'barman-cloud-backup-show', [...common, url, SERVER, `nightly-${Math.floor(BACKUPS / 2)}`]),
  run('barman-cloud-check-wal-archive --timeline 2', 'barman-cloud-check-wal-archive', [...common, '--timeline', '2', url, SERVER]),
  run('pgstow backup delete -r "REDUNDANCY 10" --dry-run --format json', 'pgstow', ['backup', 'delete', ...common, '-r', 'REDUNDANCY 10', '--dry-run', '--format', 'json', url, SERVER]),
  run('barman-cloud-backup-delete -r "REDUNDANCY 10"', 'barman-cloud-backup-delete', [...common, '-r', 'REDUNDANCY 10', url, SERVER]),
  run('barman-cloud-backup-list (after retention)', 'barman-cloud-backup-list', [...common, url, SERVER]),
];
console.log('\n| step | wall s | peak RSS MiB | exit | stdout bytes |\n|---|---|---|---|---|');
for (const s of steps) console.log(`| ${s.step} | ${s.seconds.toFixed(2)} | ${s.peakRssMiB} | ${s.exit} | ${s.stdoutBytes} |`);
let remaining = 0;
for (const d of fs.readdirSync(path.join(dir, SERVER, 'wals'))) remaining += fs.readdirSync(path.join(dir, SERVER, 'wals', d)).length;
console.log(`\nremaining: ${fs.readdirSync(path.join(dir, SERVER, 'base')).length} backups, ${remaining} WAL objects`);
if (!process.argv.includes('--keep-dir')) removeDir(dir);
