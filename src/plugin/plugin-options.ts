/**
 * The one table of `pgstow plugin <mode>` options (the flags of plugin-barman-cloud's image, so manifests can
 * swap the image) and the pod environment the sidecar reads, as upstream's sidecar does.
 */
import * as path from 'node:path';
import type { OptionSpec, ParsedArgs } from '../cli/args.js';
import { UsageError } from '../errors.js';
import { DEFAULT_CNPG_GROUP, DEFAULT_CNPG_VERSION } from './cluster-definition.js';
import { parseLogLevel, type PluginLogLevel } from './json-logger.js';
import { DEFAULT_PLUGIN_NAME } from './plugin-config.js';

export const PLUGIN_OPTIONS: readonly OptionSpec[] = [
  { dest: 'pluginName', flags: ['--plugin-name'], type: 'string', metavar: 'NAME', help: `plugin name: Identity name and socket file name (default ${DEFAULT_PLUGIN_NAME}, the drop-in for plugin-barman-cloud)` },
  { dest: 'pluginPath', flags: ['--plugin-path'], type: 'string', metavar: 'DIR', help: 'directory of the plugin socket (default $PLUGIN_SOCKET_DIR or /plugins)' },
  { dest: 'logLevel', flags: ['--log-level'], type: 'string', metavar: 'LEVEL', help: 'error, warning, info (default), debug or trace; logs are JSON lines on stdout' },
  { dest: 'serverAddress', flags: ['--server-address'], type: 'string', metavar: 'HOST:PORT', help: 'operator mode: listen on TCP with mutual TLS instead of a socket' },
  { dest: 'serverCert', flags: ['--server-cert'], type: 'string', metavar: 'FILE', help: 'operator mode: server certificate (PEM)' },
  { dest: 'serverKey', flags: ['--server-key'], type: 'string', metavar: 'FILE', help: 'operator mode: server private key (PEM)' },
  { dest: 'clientCert', flags: ['--client-cert'], type: 'string', metavar: 'FILE', help: 'operator mode: CA or certificate clients must present (PEM)' },
  { dest: 'leaderElect', flags: ['--leader-elect'], type: 'flag', help: 'operator mode: accepted for plugin-barman-cloud manifests; every replica answers every call, there is no background controller to elect' },
  { dest: 'pprofServer', flags: ['--pprof-server'], type: 'string', metavar: 'ADDR', hidden: true, help: 'accepted for manifests written for plugin-barman-cloud; ignored' },
];

/** The pod environment, as CNPG's sidecar injection sets it (cnpg-i spec §4.4). */
export interface PodEnvironment {
  namespace: string | undefined;
  clusterName: string | undefined;
  podName: string | undefined;
  pgdata: string;
  spoolDirectory: string;
  cnpgGroup: string;
  cnpgVersion: string;
  pgHost: string | undefined;
  pgPort: number;
}

export function podEnvironment(env: Readonly<Record<string, string | undefined>>): PodEnvironment {
  const port = Number(env.PGPORT ?? 5432);
  return {
    namespace: env.NAMESPACE || undefined,
    clusterName: env.CLUSTER_NAME || undefined,
    podName: env.POD_NAME || undefined,
    pgdata: env.PGDATA || '/var/lib/postgresql/data/pgdata',
    spoolDirectory: env.SPOOL_DIRECTORY || '/controller/wal-restore-spool',
    cnpgGroup: env.CUSTOM_CNPG_GROUP || DEFAULT_CNPG_GROUP,
    cnpgVersion: env.CUSTOM_CNPG_VERSION || DEFAULT_CNPG_VERSION,
    pgHost: env.PGHOST || undefined,
    pgPort: Number.isInteger(port) && port > 0 ? port : 5432,
  };
}

export interface PluginSettings {
  pluginName: string;
  pluginPath: string;
  socketPath: string;
  logLevel: PluginLogLevel;
  pod: PodEnvironment;
}

export function pluginSettings(args: ParsedArgs, env: Readonly<Record<string, string | undefined>>): PluginSettings {
  const pluginName = (args.options.pluginName as string | undefined) ?? DEFAULT_PLUGIN_NAME;
  // The name becomes a file name and the Identity name CNPG matches: DNS-label style, at most 63 characters.
  if (!/^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/.test(pluginName)) {
    throw new UsageError(`argument --plugin-name: '${pluginName}' is not a valid plugin name (lower-case letters, digits, '.' and '-', at most 63 characters)`);
  }
  const pluginPath = (args.options.pluginPath as string | undefined) ?? (env.PLUGIN_SOCKET_DIR || '/plugins');
  const logLevel = parseLogLevel((args.options.logLevel as string | undefined) ?? 'info');
  return { pluginName, pluginPath, socketPath: path.join(pluginPath, pluginName), logLevel, pod: podEnvironment(env) };
}
