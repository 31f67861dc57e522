/**
 * `pgstow plugin restore`: the sidecar of CNPG's recovery Job. Serves Identity, RestoreJobHooks (lays down
 * PGDATA) and WAL (the recovering PostgreSQL's restore_command comes back here; with no current primary yet
 * it reads the recovery source). Stops on SIGTERM like the instance sidecar.
 */
import { secretsFromEnv } from '../../cli/redact.js';
import { PluginServer } from '../grpc-server.js';
import { pluginMetadata } from '../identity-service.js';
import { createJsonLogger, SecretRegistry } from '../json-logger.js';
import type { PluginModeContext } from '../plugin-command.js';
import { createRuntime, waitForSignal } from '../instance/instance-mode.js';
import { walService } from '../instance/wal-service.js';
import { restoreJobService } from './restore-job-service.js';

export async function run(ctx: PluginModeContext): Promise<number> {
  const { settings } = ctx;
  const secrets = new SecretRegistry();
  secrets.add(secretsFromEnv(ctx.cli.env));
  const log = createJsonLogger({ stream: ctx.cli.stdout, level: settings.logLevel, secrets });
  const rt = createRuntime(ctx, secrets, log);
  const deps = { pluginName: settings.pluginName, pod: settings.pod, registry: rt.registry, telemetry: rt.telemetry, status: rt.status, log };
  const server = await PluginServer.start({
    address: { kind: 'unix', path: settings.socketPath }, metadata: pluginMetadata(settings.pluginName), log, secrets,
    services: [restoreJobService(deps), walService(deps)],
  });
  log.info('pgstow plugin restore started', { pod: settings.pod.podName, cluster: settings.pod.clusterName });
  await waitForSignal(ctx.cli.signal);
  await server.shutdown();
  await rt.status.close();
  await rt.registry.close();
  return 0;
}
