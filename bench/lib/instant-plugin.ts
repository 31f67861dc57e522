/**
 * BENCH ONLY — the ceiling of CloudNativePG's process per segment, not a plugin: a CNPG-I server on the sidecar's
 * socket that answers every WAL Archive with success at once and stores nothing. With it as the "sidecar",
 * PostgreSQL's archive_command (CloudNativePG's `manager wal-archive`) costs only the manager's process and the
 * six RPCs it makes before Archive, so the load bench's row for it is the most any plugin can archive a minute on
 * this machine (bench/plugin-load.ts). It serves what `pgstow plugin instance` serves, through the project's own
 * server (src/plugin/grpc-server.ts: Identity, Health and the same capabilities), with no engine behind it.
 * Started as `node instant-plugin.js plugin instance --plugin-path DIR [--plugin-name NAME] [--log-level L]`, the
 * argv the bench's startSidecar() gives a pgstow build.
 */
import * as path from 'node:path';
import { PluginServer } from '../../src/plugin/grpc-server.js';
import { pluginMetadata } from '../../src/plugin/identity-service.js';
import { createJsonLogger, parseLogLevel } from '../../src/plugin/json-logger.js';
import { DEFAULT_PLUGIN_NAME } from '../../src/plugin/plugin-config.js';
import { service, type ServedService } from '../../src/plugin/protocol/service-types.js';

function option(name: string): string | undefined {
  const argv = process.argv.slice(2);
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const pluginPath = option('--plugin-path') ?? process.env.PLUGIN_SOCKET_DIR ?? '/plugins';
  const name = option('--plugin-name') ?? DEFAULT_PLUGIN_NAME;
  const log = createJsonLogger({ stream: process.stdout, level: parseLogLevel(option('--log-level') ?? 'warning') });
  // The same capabilities as the real sidecar (WAL, Backup, Metrics), so CloudNativePG makes the same RPCs.
  const services: ServedService[] = [
    service<'WAL'>('WAL', 'TYPE_WAL_SERVICE', {
      GetCapabilities: () => ({ capabilities: [{ rpc: { type: 'TYPE_ARCHIVE_WAL' } }, { rpc: { type: 'TYPE_RESTORE_WAL' } }] }),
      Archive: () => ({}),
    }),
    service<'Backup'>('Backup', 'TYPE_BACKUP_SERVICE', { GetCapabilities: () => ({ capabilities: [{ rpc: { type: 'TYPE_BACKUP' } }] }) }),
    service<'Metrics'>('Metrics', 'TYPE_METRICS', {
      GetCapabilities: () => ({ capabilities: [{ rpc: { type: 'TYPE_METRICS' } }] }),
      Define: () => ({ metrics: [] }),
      Collect: () => ({ metrics: [] }),
    }),
  ];
  const server = await PluginServer.start({ address: { kind: 'unix', path: path.join(pluginPath, name) }, metadata: pluginMetadata(name), services, log });
  const stop = (): void => { void server.shutdown(1000, 1000).then(() => process.exit(0)); };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => { console.error(err); process.exit(1); });
