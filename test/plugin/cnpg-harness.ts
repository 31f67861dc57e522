/**
 * Plays CloudNativePG against the pgstow sidecar (spec §7.1): the sidecar runs as its own process (as the
 * postgres OS user, like the pod's UID 26) on a socket in a temp plugins dir, with the pod environment CNPG
 * injects and a kubeconfig pointing at the loopback API server; every call opens a new connection and loads
 * the plugin first (GetPluginMetadata, GetPluginCapabilities, GetCapabilities of each advertised service,
 * Probe), as the instance manager's short-lived commands do.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CnpgiClient } from '../../src/plugin/protocol/client.js';
import type { MethodName, PluginServiceType, RequestOf, ResponseOf, ServiceName } from '../../src/plugin/protocol/messages.js';
import { REPO_ROOT } from '../harness/postgres.js';
import { chownToPostgres, postgresUser } from '../harness/tmp.js';
import { PLUGIN } from './cnpg-fixtures.js';

export const PGSTOW_BIN = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'bin', 'pgstow.js');
export const WAL_CLIENT = path.join(REPO_ROOT, 'dist', 'test', 'plugin', 'wal-client.js');

const SERVICE_OF: Partial<Record<PluginServiceType, ServiceName>> = {
  TYPE_WAL_SERVICE: 'WAL', TYPE_BACKUP_SERVICE: 'Backup', TYPE_RESTORE_JOB: 'RestoreJobHooks', TYPE_METRICS: 'Metrics',
  TYPE_OPERATOR_SERVICE: 'Operator', TYPE_LIFECYCLE_SERVICE: 'OperatorLifecycle', TYPE_RECONCILER_HOOKS: 'ReconcilerHooks', TYPE_POSTGRES: 'Postgres',
};

export interface SidecarOptions {
  mode: 'instance' | 'restore';
  /** Directory holding the socket (the pod's /plugins). */
  pluginPath: string;
  env: Record<string, string>;
  logLevel?: string;
  pluginName?: string;
  /** The pgstow entry point to run (default this checkout's dist): benches compare builds side by side. */
  bin?: string;
}

export class Sidecar {
  private readonly logChunks: string[] = [];
  readonly socket: string;
  private exited: Promise<number | null>;

  constructor(readonly proc: ChildProcess, readonly options: SidecarOptions) {
    this.socket = path.join(options.pluginPath, options.pluginName ?? PLUGIN);
    proc.stdout?.on('data', (d: Buffer) => this.logChunks.push(d.toString()));
    proc.stderr?.on('data', (d: Buffer) => this.logChunks.push(d.toString()));
    this.exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
  }

  get log(): string { return this.logChunks.join(''); }

  /** Parsed JSON log lines. */
  logLines(): Array<Record<string, unknown>> {
    return this.log.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** SIGTERM and wait; returns the exit code. */
  async stop(timeoutMs = 40_000): Promise<number | null> {
    if (this.proc.exitCode !== null) return this.proc.exitCode;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    try { return await this.exited; } finally { clearTimeout(timer); }
  }

  waitExit(): Promise<number | null> { return this.exited; }
}

/** Starts `pgstow plugin <mode>` as the postgres user and waits until its health service answers SERVING. */
export async function startSidecar(options: SidecarOptions): Promise<Sidecar> {
  fs.mkdirSync(options.pluginPath, { recursive: true });
  chownToPostgres(options.pluginPath);
  const user = postgresUser();
  const args = [options.bin ?? PGSTOW_BIN, 'plugin', options.mode, '--plugin-path', options.pluginPath, '--log-level', options.logLevel ?? 'debug'];
  if (options.pluginName) args.push('--plugin-name', options.pluginName);
  const proc = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: options.pluginPath, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'], ...(user ? { uid: user.uid, gid: user.gid } : {}),
  });
  const sidecar = new Sidecar(proc, options);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`the sidecar exited with ${proc.exitCode}:\n${sidecar.log}`);
    const client = await CnpgiClient.connect(`unix://${sidecar.socket}`, undefined, { 'grpc.use_local_subchannel_pool': 1 });
    try {
      const h = await client.call('Health', 'Check', { service: '' }, { timeoutMs: 1000 });
      if (h.status === 'SERVING') return sidecar;
    } catch {
      // not listening yet
    } finally {
      client.close();
    }
    if (Date.now() > deadline) { proc.kill('SIGKILL'); throw new Error(`the sidecar did not serve within 30 s:\n${sidecar.log}`); }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Runs a program without blocking this process, which also serves the Kubernetes API the sidecar reads (a
 * synchronous child process would stall the sidecar's configuration reads). Rejects on a non-zero exit.
 */
export function run(cmd: string, args: readonly string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-8000); });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 600_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out); else reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${err}`));
    });
  });
}

export interface LoadedPlugin { name: string; version: string; capabilities: PluginServiceType[]; services: Partial<Record<ServiceName, string[]>> }

/** CloudNativePG's LoadPlugin: metadata, capabilities, GetCapabilities of each advertised service. */
export async function loadPlugin(client: CnpgiClient, expectedName = PLUGIN): Promise<LoadedPlugin> {
  const md = await client.call('Identity', 'GetPluginMetadata', {});
  if (md.name !== expectedName) throw new Error(`plugin metadata name ${md.name} differs from the socket name ${expectedName}`);
  const caps = (await client.call('Identity', 'GetPluginCapabilities', {})).capabilities.map((c) => c.service?.type).filter((t): t is PluginServiceType => t !== undefined);
  const services: LoadedPlugin['services'] = {};
  for (const cap of caps) {
    const svc = SERVICE_OF[cap];
    if (!svc) continue;
    const r = await (client.call as (s: ServiceName, m: string, q: unknown) => Promise<{ capabilities?: unknown[]; reconciler_capabilities?: unknown[]; lifecycle_capabilities?: unknown[] }>)(svc, 'GetCapabilities', {});
    services[svc] = (r.capabilities ?? r.reconciler_capabilities ?? r.lifecycle_capabilities ?? []).map((c) => JSON.stringify(c));
  }
  return { name: md.name, version: md.version, capabilities: caps, services };
}

/** One call as the instance manager makes it: new connection, load, Probe, the call, close. */
export async function cnpgCall<S extends ServiceName, M extends MethodName<S>>(socket: string, serviceName: S, method: M, request: RequestOf<S, M>, opts: { timeoutMs?: number } = {}): Promise<ResponseOf<S, M>> {
  const client = await CnpgiClient.connect(`unix://${socket}`, undefined, { 'grpc.use_local_subchannel_pool': 1 });
  try {
    await loadPlugin(client);
    await client.call('Identity', 'Probe', {});
    return await client.call(serviceName, method, request, opts);
  } finally {
    client.close();
  }
}
