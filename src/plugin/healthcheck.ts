/**
 * `pgstow plugin healthcheck unix`: the sidecar's startup probe. Asks grpc.health.v1.Health/Check ("", the
 * whole server) on `<plugin-path>/<name>` within 5 s; exit 0 only for SERVING, and one line saying why not.
 */
import { UsageError } from '../errors.js';
import type { PluginModeContext } from './plugin-command.js';
import { CnpgiClient } from './protocol/client.js';

const TIMEOUT_MS = 5_000;

export async function run(ctx: PluginModeContext): Promise<number> {
  const [transport, ...extra] = ctx.rest;
  if (transport !== 'unix' || extra.length > 0) throw new UsageError('usage: pgstow plugin healthcheck unix');
  const socket = ctx.settings.socketPath;
  const client = await CnpgiClient.connect(`unix://${socket}`);
  try {
    const res = await client.call('Health', 'Check', { service: '' }, { timeoutMs: TIMEOUT_MS });
    if (res.status === 'SERVING') return 0;
    ctx.cli.stderr.write(`pgstow plugin healthcheck: ${socket} answers ${res.status}\n`);
    return 1;
  } catch (err) {
    ctx.cli.stderr.write(`pgstow plugin healthcheck: ${socket}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    client.close();
  }
}
