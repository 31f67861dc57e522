/**
 * `pgstow plugin <mode>`: the CNPG-I plugin processes, with the mode names of plugin-barman-cloud's image.
 * Each mode is a module loaded on demand; a mode serves until SIGTERM and returns its exit code.
 */
import type { ParsedArgs } from '../cli/args.js';
import type { Command, CommandContext } from '../cli/command.js';
import { UsageError } from '../errors.js';
import { PLUGIN_OPTIONS, pluginSettings, type PluginSettings } from './plugin-options.js';

export interface PluginModeContext {
  settings: PluginSettings;
  /** Arguments after the mode (e.g. `unix` for healthcheck). */
  rest: readonly string[];
  args: ParsedArgs;
  cli: CommandContext;
}

export interface PluginMode {
  run(ctx: PluginModeContext): Promise<number>;
}

/** Mode → module. The operator side adds `operator` here. */
export const PLUGIN_MODES: Readonly<Record<string, { summary: string; load: () => Promise<PluginMode> }>> = {
  instance: { summary: 'the sidecar of every PostgreSQL pod: WAL archive/restore, backups, metrics', load: () => import('./instance/instance-mode.js') },
  restore: { summary: 'the sidecar of the recovery Job: lays down PGDATA, restores WAL', load: () => import('./restore/restore-mode.js') },
  operator: { summary: 'the operator side (a Deployment): sidecar injection, per-Cluster RBAC, status; TCP with mutual TLS', load: () => import('./operator/operator-mode.js') },
  healthcheck: { summary: 'healthcheck unix: ask the plugin socket grpc.health.v1 (the sidecar\'s startup probe)', load: () => import('./healthcheck.js') },
};

export const command: Command = {
  spec: (name) => ({
    name: name === 'pgstow plugin' ? name : 'pgstow plugin',
    summary: 'Runs pgstow as a CloudNativePG CNPG-I plugin (a drop-in for plugin-barman-cloud).',
    positionals: [
      { name: 'mode', help: Object.keys(PLUGIN_MODES).join(', ') },
      { name: 'args', help: 'mode arguments', optional: true, variadic: true },
    ],
    options: PLUGIN_OPTIONS,
    epilog: `modes:\n${Object.entries(PLUGIN_MODES).map(([m, d]) => `  ${m.padEnd(12)}${d.summary}`).join('\n')}\n`,
  }),
  async run(args, cli) {
    const mode = args.positionals.mode as string;
    const entry = PLUGIN_MODES[mode];
    if (!entry) throw new UsageError(`unknown plugin mode "${mode}" (choose from ${Object.keys(PLUGIN_MODES).join(', ')})`);
    const settings = pluginSettings(args, cli.env);
    const impl = await entry.load();
    return impl.run({ settings, rest: (args.positionals.args as string[] | undefined) ?? [], args, cli });
  },
};
