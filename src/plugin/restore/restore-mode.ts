/**
 * `pgstow plugin restore`: the sidecar of CNPG's recovery Job. Serves Identity, RestoreJobHooks (lays down
 * PGDATA) and WAL (the recovering PostgreSQL's restore_command comes back here; with no current primary yet
 * it reads the recovery source). Stops on SIGTERM like the instance sidecar.
 */
import { PluginServer } from '../grpc-server.js';
import { pluginMetadata } from '../identity-service.js';
import type { PluginModeContext } from '../plugin-command.js';
import { closeRuntime, startRuntime, waitForSignal } from '../instance/instance-mode.js';
import { walService } from '../instance/wal-service.js';
import { restoreJobService } from './restore-job-service.js';

export async function run(ctx: PluginModeContext): Promise<number> {
  const { settings } = ctx;
  const { secrets, log, deps, rt } = startRuntime(ctx);
  const server = await PluginServer.start({
    address: { kind: 'unix', path: settings.socketPath }, metadata: pluginMetadata(settings.pluginName), log, secrets,
    services: [restoreJobService(deps), walService(deps)],
  });
  log.info('pgstow plugin restore started', { pod: settings.pod.podName, cluster: settings.pod.clusterName });
  await waitForSignal(ctx.cli.signal);
  await server.shutdown();
  await closeRuntime(rt);
  return 0;
}
