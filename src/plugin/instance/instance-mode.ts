/**
 * `pgstow plugin instance`: the sidecar in every PostgreSQL pod. One long-lived process serving Identity,
 * WAL, Backup and Metrics on `<plugin-path>/<name>`, with the ObjectStores and Secrets read from the
 * Kubernetes API, and the primary's background work. SIGTERM: NOT_SERVING at once, calls in flight finish
 * (an Archive is never acknowledged unstored), pending status is written, engines close.
 */
import { memoryBudget, parseMemorySize } from '../../memory-budget.js';
import { pacedBudget } from '../../gc-pacer.js';
import { createJsonLogger, SecretRegistry } from '../json-logger.js';
import { PluginServer } from '../grpc-server.js';
import { pluginMetadata } from '../identity-service.js';
import { KubeApi } from '../kube/kube-api.js';
import type { PluginModeContext } from '../plugin-command.js';
import type { ServedService } from '../protocol/service-types.js';
import { secretsFromEnv } from '../../cli/redact.js';
import { EngineRegistry } from './engine-registry.js';
import { StatusReporter } from './status-reporter.js';
import { Telemetry } from './telemetry.js';
import { walService } from './wal-service.js';
import { backupService } from './backup-service.js';
import { metricsService } from './metrics-service.js';
import { startMaintenanceLoop } from './maintenance.js';
import { missingMemorySettings } from './memory.js';
import { errorMessage } from '../../errors.js';

/** Kubernetes reads are cached this long, and engines re-check their settings as often: rotation ≤ 10 s. */
const REFRESH_MS = 5_000;
/** Calls in flight get this long after SIGTERM (CNPG's default stop grace is longer; kubelet's is 30 s). */
const GRACE_MS = 25_000;

export interface InstanceRuntime {
  kube: KubeApi;
  registry: EngineRegistry;
  telemetry: Telemetry;
  status: StatusReporter;
  secrets: SecretRegistry;
}

export function createRuntime(ctx: PluginModeContext, secrets: SecretRegistry, log: ReturnType<typeof createJsonLogger>): InstanceRuntime {
  const env = ctx.cli.env;
  const kube = new KubeApi({ env, ttlMs: REFRESH_MS });
  // One memory budget for the sidecar (PGSTOW_MAX_MEMORY, default 100 MiB), paced for the life of the process.
  const { budget: memory } = pacedBudget(memoryBudget(sidecarMemorySetting(env.PGSTOW_MAX_MEMORY)));
  const registry = new EngineRegistry({ kube, env, log, secrets, refreshMs: REFRESH_MS, memory });
  const statusInterval = Number(env.PGSTOW_STATUS_INTERVAL_SECONDS ?? 30) * 1000;
  return { kube, registry, telemetry: new Telemetry(), status: new StatusReporter(kube, log, statusInterval), secrets };
}

/** PGSTOW_MAX_MEMORY of the pod, in bytes; a value that is not a quantity fails start-up naming the variable. */
function sidecarMemorySetting(value: string | undefined): number | undefined {
  if (!value) return undefined;
  try {
    return parseMemorySize(value);
  } catch (err) {
    throw new RangeError(`PGSTOW_MAX_MEMORY: ${errorMessage(err)}`, { cause: err });
  }
}

/** What both plugin modes start with: the pod's secrets registered for redaction, the JSON logger, the runtime. */
export function startRuntime(ctx: PluginModeContext) {
  const { settings } = ctx;
  const secrets = new SecretRegistry();
  secrets.add(secretsFromEnv(ctx.cli.env));
  const log = createJsonLogger({ stream: ctx.cli.stdout, level: settings.logLevel, secrets });
  const rt = createRuntime(ctx, secrets, log);
  const deps = { pluginName: settings.pluginName, pod: settings.pod, registry: rt.registry, telemetry: rt.telemetry, status: rt.status, log };
  return { secrets, log, rt, deps };
}

/** Pending status is written, then every engine closes. */
export async function closeRuntime(rt: InstanceRuntime): Promise<void> {
  await rt.status.close();
  await rt.registry.close();
}

export async function run(ctx: PluginModeContext): Promise<number> {
  const { settings } = ctx;
  const { secrets, log, rt, deps } = startRuntime(ctx);
  const services: ServedService[] = [
    walService(deps),
    backupService(deps),
    metricsService({ ...deps, kube: rt.kube }),
  ];
  const server = await PluginServer.start({ address: { kind: 'unix', path: settings.socketPath }, metadata: pluginMetadata(settings.pluginName), services, log, secrets });
  log.info('pgstow plugin instance started', { pod: settings.pod.podName, cluster: settings.pod.clusterName, namespace: settings.pod.namespace });
  const missing = missingMemorySettings(ctx.cli.env);
  if (missing.length > 0) log.warning(`memory: the sidecar runs without ${missing.join(' ')}; its RSS settles higher (docs/cnpg-plugin.md, Resources)`, { code: 'W_PLUGIN_MEMORY_SETTINGS' });
  const stopBackground = new AbortController();
  const delay = Number(ctx.cli.env.PGSTOW_MAINTENANCE_DELAY_SECONDS ?? 30) * 1000;
  const background = startMaintenanceLoop({ ...deps, kube: rt.kube, log: log.child({ task: 'maintenance' }) }, stopBackground.signal, delay);
  await waitForSignal(ctx.cli.signal);
  log.info('stopping: no new calls; waiting for calls in flight', { calls: server.activeCalls });
  stopBackground.abort(new Error('the plugin is shutting down'));
  await Promise.all([server.shutdown(GRACE_MS), background]);
  await closeRuntime(rt);
  log.info('stopped');
  return 0;
}

export function waitForSignal(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
