/**
 * `pgstow plugin operator`: the operator side, a Deployment next to CloudNativePG. Serves OperatorLifecycle,
 * ReconcilerHooks and Operator (plus Identity and health) on TCP with mutual TLS 1.3, with the flags of
 * plugin-barman-cloud's image so its manifests' args work unchanged:
 *   --server-address=:9090 --server-cert=/server/tls.crt --server-key=/server/tls.key
 *   --client-cert=/client/tls.crt [--leader-elect] [--log-level=info]
 * and SIDECAR_IMAGE in the environment (the image injected into PostgreSQL Pods).
 * --leader-elect is accepted and changes nothing: all the work is answering CNPG's calls, which any replica
 * can do (RBAC is brought up to date by the ReconcilerHooks on each Cluster reconcile, not by a controller).
 */
import { ConfigError, UsageError } from '../../errors.js';
import { secretsFromEnv } from '../../cli/redact.js';
import { PluginServer } from '../grpc-server.js';
import { pluginMetadata } from '../identity-service.js';
import { createJsonLogger, SecretRegistry } from '../json-logger.js';
import { KubeApi } from '../kube/kube-api.js';
import type { PluginModeContext } from '../plugin-command.js';
import { lifecycleService, operatorService, reconcilerService } from './operator-services.js';
import { RotatingTlsCredentials } from './tls-credentials.js';

/** Calls in flight get this long after SIGTERM; CNPG's own deadline is 30 s per call. */
const GRACE_MS = 20_000;

/** ":9090" → all interfaces; "127.0.0.1:0" → a free port (tests). */
export function parseServerAddress(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`argument --server-address: '${text}' is not HOST:PORT or :PORT`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

function required(ctx: PluginModeContext, dest: string, flag: string): string {
  const v = ctx.args.options[dest];
  if (typeof v !== 'string' || v === '') throw new UsageError(`pgstow plugin operator needs ${flag} (the operator side serves CloudNativePG over TCP with mutual TLS)`);
  return v;
}

export async function run(ctx: PluginModeContext): Promise<number> {
  const { settings } = ctx;
  const address = parseServerAddress(required(ctx, 'serverAddress', '--server-address'));
  const files = { certFile: required(ctx, 'serverCert', '--server-cert'), keyFile: required(ctx, 'serverKey', '--server-key'), clientCaFile: required(ctx, 'clientCert', '--client-cert') };
  const sidecarImage = ctx.cli.env.SIDECAR_IMAGE;
  if (!sidecarImage) throw new ConfigError('SIDECAR_IMAGE is not set: the operator side needs the image to inject into PostgreSQL Pods (the Deployment sets it from the plugin-barman-cloud Secret)');
  const secrets = new SecretRegistry();
  secrets.add(secretsFromEnv(ctx.cli.env));
  const log = createJsonLogger({ stream: ctx.cli.stdout, level: settings.logLevel, secrets, name: 'operator' });
  // How often the certificate files are re-read (tests shorten it).
  const pollMs = Number(ctx.cli.env.PGSTOW_TLS_RELOAD_MS ?? 10_000);
  const credentials = await RotatingTlsCredentials.open(files, log, Number.isFinite(pollMs) && pollMs >= 100 ? pollMs : 10_000);
  const kube = new KubeApi({ env: ctx.cli.env, ttlMs: 5_000 });
  const deps = { kube, sidecarImage, pluginName: settings.pluginName, log };
  const server = await PluginServer.start({
    address: { kind: 'tcp', host: address.host, port: address.port, credentials },
    metadata: pluginMetadata(settings.pluginName),
    services: [lifecycleService(deps), reconcilerService(deps), operatorService(deps)],
    markers: ['TYPE_INSTANCE_SIDECAR_INJECTION'],
    log,
    secrets,
  });
  log.info('pgstow plugin operator started', { address: server.address, sidecarImage, leaderElect: ctx.args.options.leaderElect === true });
  await new Promise<void>((resolve) => {
    if (ctx.cli.signal.aborted) resolve();
    else ctx.cli.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  log.info('stopping', { calls: server.activeCalls });
  await server.shutdown(GRACE_MS);
  credentials.close();
  log.info('stopped');
  return 0;
}
