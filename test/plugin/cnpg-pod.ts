/**
 * The part of a CloudNativePG pod that its own instance manager needs to act as PostgreSQL's archive_command
 * (`manager wal-archive`, v1.30.0, built by scripts/install-cnpg-manager.sh): a network namespace of the caller's
 * own, in which a stand-in for the instance manager's local web server (fake-cnpg-webserver.ts) listens on the
 * manager's fixed port 8010 and serves the Cluster JSON. PostgreSQL runs inside it (startPostgres({ netns })) and
 * is reached through its Unix socket; the plugin sidecar stays outside (Unix sockets cross the namespace).
 * Shared by test/plugin/cnpg-manager.test.ts and the load bench (bench/plugin-load.ts). Needs root (ip netns).
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../harness/postgres.js';
import { chownToPostgres } from '../harness/tmp.js';

export const CNPG_MANAGER = process.env.PGSTOW_CNPG_MANAGER
  ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'pgstow', 'cnpg-manager-v1.30.0', 'manager');
const WEBSERVER = path.join(REPO_ROOT, 'dist', 'test', 'plugin', 'fake-cnpg-webserver.js');

/** True when this process may create network namespaces (root, iproute2). */
export function canUseNetns(): boolean {
  return process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list']).status === 0;
}

/** The manager is built (or, unless PGSTOW_CNPG_MANAGER names one, builds it when `build`); false when it cannot work here. */
export function cnpgManagerInstalled(build = false): boolean {
  if (fs.existsSync(CNPG_MANAGER)) return true;
  if (!build || process.env.PGSTOW_CNPG_MANAGER) return false;
  const r = spawnSync('bash', [path.join(REPO_ROOT, 'scripts', 'install-cnpg-manager.sh')], { stdio: 'inherit', timeout: 1_800_000 });
  return r.status === 0 && fs.existsSync(CNPG_MANAGER);
}

export interface CnpgPodEnv {
  /** POD_NAME: the manager archives only on the Cluster's current primary. */
  podName: string;
  pgdata: string;
  /** The plugins directory holding the sidecar's socket (the pod's /plugins). */
  pluginSocketDir: string;
}

export interface CnpgPod {
  /** Name of the network namespace (`ip netns`): give it to startPostgres/createPostgres as `netns`. */
  ns: string;
  /** A copy of the manager the postgres user can run (the cache may be under a home it cannot enter). */
  manager: string;
  /** The Cluster JSON served at /cache/cluster, read again for every request: write it to change the Cluster. */
  clusterFile: string;
  /** One JSON line per request the stand-in web server answered ({ method, url, body }). */
  requestsLog: string;
  /** Where the manager's own JSON log goes (its --log-destination). */
  managerLog: string;
  /** CNPG's archive_command (`manager wal-archive --log-destination … %p`) with the pod's environment. */
  archiveCommand(env: CnpgPodEnv): string;
  /** argv that runs `argv` inside the namespace as the postgres user with the pod's environment. */
  asPostgres(env: CnpgPodEnv, argv: readonly string[]): string[];
  close(): Promise<void>;
}

/**
 * Creates the namespace (loopback up) and starts the stand-in web server in it; `dir` holds the manager's copy,
 * the Cluster file and the logs (readable by the postgres user).
 */
export async function startCnpgPod(dir: string, cluster: Buffer | string): Promise<CnpgPod> {
  const ns = `pgstow-${randomBytes(3).toString('hex')}`;
  fs.mkdirSync(dir, { recursive: true });
  const manager = path.join(dir, 'manager');
  fs.copyFileSync(CNPG_MANAGER, manager);
  fs.chmodSync(manager, 0o755);
  const clusterFile = path.join(dir, 'cluster.json');
  fs.writeFileSync(clusterFile, cluster);
  const requestsLog = path.join(dir, 'webserver.log');
  const managerLog = path.join(dir, 'postgres.json');
  chownToPostgres(dir);
  execFileSync('ip', ['netns', 'add', ns]);
  let webserver: ChildProcess | undefined;
  const close = async (): Promise<void> => {
    if (webserver && webserver.exitCode === null) {
      const exited = new Promise((r) => webserver?.once('exit', r));
      webserver.kill('SIGTERM');
      await exited;
    }
    spawnSync('ip', ['netns', 'delete', ns]);
  };
  try {
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const server = spawn('ip', ['netns', 'exec', ns, process.execPath, WEBSERVER, clusterFile, requestsLog], { stdio: ['ignore', 'pipe', 'pipe'] });
    webserver = server;
    await new Promise<void>((resolve, reject) => {
      server.stdout?.once('data', () => resolve());
      server.once('exit', (c) => reject(new Error(`the stand-in CNPG web server exited with ${c}`)));
    });
  } catch (err) {
    await close();
    throw err;
  }
  const envArgs = (env: CnpgPodEnv): string[] => [`POD_NAME=${env.podName}`, `PGDATA=${env.pgdata}`, `PLUGIN_SOCKET_DIR=${env.pluginSocketDir}`];
  return {
    ns, manager, clusterFile, requestsLog, managerLog,
    archiveCommand: (env) => `${envArgs(env).join(' ')} ${manager} wal-archive --log-destination ${managerLog} %p`,
    asPostgres: (env, argv) => ['ip', 'netns', 'exec', ns, 'runuser', '-u', 'postgres', '--', 'env', ...envArgs(env), ...argv],
    close,
  };
}
