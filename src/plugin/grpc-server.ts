/**
 * Serves a plugin's services with @grpc/grpc-js: Identity built from the served list, grpc.health.v1, and
 * each service's typed handlers wrapped so that a rejected handler answers one status (grpc-status.ts) and
 * never takes the process down. Listens on a Unix socket (the instance side: `<plugin-path>/<name>`, a stale
 * socket file removed first) or, for the operator side, on TCP with the credentials the caller builds
 * (mutual TLS 1.3): the seam is ListenAddress.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData, type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { errorMessage } from '../errors.js';
import { ShuttingDownError } from './plugin-errors.js';
import { grpcCodeOf, GrpcCode, toStatus } from './grpc-status.js';
import { HealthState } from './health-service.js';
import { identityService } from './identity-service.js';
import type { PluginLogger } from './json-logger.js';
import { SecretRegistry } from './json-logger.js';
import { loadCnpgiDefinitions, SERVICE_NAMES } from './protocol/load-protos.js';
import type { GetPluginMetadataResponse, PluginServiceType } from './protocol/messages.js';
import type { CallContext, ServedService } from './protocol/service-types.js';

export type ListenAddress =
  | { kind: 'unix'; path: string }
  | { kind: 'tcp'; host: string; port: number; credentials: ServerCredentials };

export interface PluginServerOptions {
  address: ListenAddress;
  metadata: GetPluginMetadataResponse;
  services: readonly ServedService[];
  /** Marker capabilities (INSTANCE_SIDECAR_INJECTION…) the operator side announces. */
  markers?: readonly PluginServiceType[];
  log: PluginLogger;
  secrets?: SecretRegistry;
}

/**
 * Methods whose answer depends on nothing (an empty request; what the process serves is fixed at start).
 * CloudNativePG's `manager wal-archive` asks all of them before every Archive, a process per WAL segment: the
 * first answer is kept and later calls get it without the per-call machinery (abort signals, in-flight count).
 */
const FIXED_ANSWERS = new Set(['GetPluginMetadata', 'GetPluginCapabilities', 'Probe', 'GetCapabilities']);

/** Codes that are answers, not failures of the plugin: logged at info. */
const EXPECTED = new Set<number>([GrpcCode.NOT_FOUND, GrpcCode.OUT_OF_RANGE]);

export class PluginServer {
  /** Aborted when the shutdown grace period ends: long handlers (a backup) fail cleanly instead of being cut. */
  private readonly stopping = new AbortController();
  private inFlight = 0;
  /** False from the start of shutdown: calls arriving on connections still open are refused. */
  private accepting = true;
  private idle: Array<() => void> = [];

  private constructor(
    private readonly server: Server,
    readonly address: string,
    readonly health: HealthState,
    private readonly socketPath: string | undefined,
    private readonly log: PluginLogger,
  ) {}

  static async start(options: PluginServerOptions): Promise<PluginServer> {
    const defs = await loadCnpgiDefinitions();
    const { address, log } = options;
    const secrets = options.secrets ?? new SecretRegistry();
    const served = [identityService(options.metadata, options.services, options.markers ?? []), ...options.services];
    const names = new Set<string>();
    for (const s of served) {
      if (names.has(s.name)) throw new Error(`service ${s.name} is registered twice`);
      names.add(s.name);
    }
    const health = new HealthState(served.map((s) => SERVICE_NAMES[s.name]));
    const grpcServer = new Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
    // Handlers reach the server object (in-flight count, stop signal) that exists only once bound.
    const ref: { current?: PluginServer } = {};
    const track = <T>(run: () => Promise<T>): Promise<T> => (ref.current as PluginServer).track(run);
    const accepting = (): boolean => ref.current?.accepting !== false;
    const signal = (): AbortSignal => (ref.current as PluginServer).stopping.signal;
    for (const s of served) {
      grpcServer.addService(defs[s.name], wrapService(s, { log, secrets, track, signal, accepting }));
    }
    grpcServer.addService(defs.Health, health.implementation());

    let target: string;
    let credentials: ServerCredentials;
    let socketPath: string | undefined;
    if (address.kind === 'unix') {
      socketPath = path.resolve(address.path);
      await prepareSocketPath(socketPath);
      target = `unix://${socketPath}`;
      credentials = ServerCredentials.createInsecure();
    } else {
      target = `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
      credentials = address.credentials;
    }
    const port = await new Promise<number>((resolve, reject) => {
      grpcServer.bindAsync(target, credentials, (err, p) => (err ? reject(err) : resolve(p)));
    });
    const shown = address.kind === 'unix' ? target : `${address.host}:${port}`;
    const server = new PluginServer(grpcServer, shown, health, socketPath, log);
    ref.current = server;
    log.info('serving CNPG-I', { address: shown, plugin: options.metadata.name, services: served.map((s) => SERVICE_NAMES[s.name]) });
    return server;
  }

  /** Calls being handled now. */
  get activeCalls(): number {
    return this.inFlight;
  }

  private async track<T>(run: () => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await run();
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) for (const f of this.idle.splice(0)) f();
    }
  }

  /**
   * Graceful stop: NOT_SERVING at once, no new calls, calls in flight run to their end (an Archive finishes or
   * fails: never acknowledged unstored). After `graceMs` their signal is aborted; after `graceMs + forceMs`
   * the server is closed whatever runs.
   */
  async shutdown(graceMs = 25_000, forceMs = 5_000): Promise<void> {
    this.accepting = false;
    this.health.setAll('NOT_SERVING');
    this.health.endWatches();
    const drained = new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    const timers: NodeJS.Timeout[] = [];
    const bounded = new Promise<void>((resolve) => {
      timers.push(setTimeout(() => {
        if (this.inFlight > 0) this.log.warning('shutdown grace period over: cancelling calls still running', { calls: this.inFlight });
        this.stopping.abort(new Error('the plugin is shutting down'));
        timers.push(setTimeout(() => { this.server.forceShutdown(); resolve(); }, forceMs));
      }, graceMs));
    });
    await Promise.race([drained, bounded]);
    for (const t of timers) clearTimeout(t);
    if (this.socketPath) await fsp.rm(this.socketPath, { force: true }).catch(() => undefined);
  }

  /** Resolves when no call is in flight. */
  whenIdle(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise((resolve) => this.idle.push(resolve));
  }
}

/** A socket left by a previous run is removed; anything else at that path is an error, never deleted. */
async function prepareSocketPath(socketPath: string): Promise<void> {
  await fsp.mkdir(path.dirname(socketPath), { recursive: true });
  let st;
  try {
    st = await fsp.lstat(socketPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) throw new Error(`${socketPath} exists and is not a socket: refusing to replace it`);
  await fsp.unlink(socketPath);
}

interface WrapContext {
  log: PluginLogger;
  secrets: SecretRegistry;
  track: <T>(run: () => Promise<T>) => Promise<T>;
  signal: () => AbortSignal;
  accepting: () => boolean;
}

function wrapService(s: ServedService, w: WrapContext): UntypedServiceImplementation {
  const { log, secrets, track } = w;
  const out: UntypedServiceImplementation = {};
  for (const [method, handler] of Object.entries(s.implementation as Record<string, unknown>)) {
    if (typeof handler !== 'function') continue;
    const fn = handler as (req: unknown, ctx: CallContext) => unknown;
    const name = `${s.name}/${method}`;
    const fixed = FIXED_ANSWERS.has(method) ? { answer: undefined as unknown } : undefined;
    out[method] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      if (!w.accepting()) {
        callback(toStatus(new ShuttingDownError(name)));
        return;
      }
      if (fixed?.answer !== undefined) {
        if (log.enabled('trace')) log.trace('call done', { rpc: name, ms: 0 });
        callback(null, fixed.answer);
        return;
      }
      const cancelled = new AbortController();
      call.on('cancelled', () => cancelled.abort(new Error('the client cancelled the call')));
      const ctx: CallContext = { method: name, metadata: call.metadata, signal: AbortSignal.any([cancelled.signal, w.signal()]) };
      const started = performance.now();
      track(async () => fn(call.request, ctx)).then(
        (res) => {
          log.trace('call done', { rpc: name, ms: Math.round(performance.now() - started) });
          if (fixed) fixed.answer = res ?? {};
          callback(null, res ?? {});
        },
        (err: unknown) => {
          const code = grpcCodeOf(err);
          const fields = { rpc: name, code: GrpcCode[code], ms: Math.round(performance.now() - started) };
          if (EXPECTED.has(code)) log.info(errorMessage(err), fields);
          else log.error(errorMessage(err), fields);
          callback(toStatus(err, (t) => secrets.redact(t)));
        },
      );
    };
  }
  return out;
}
