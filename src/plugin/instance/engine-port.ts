/**
 * The one door from the plugin to the engine: an ObjectStore resource and its Secrets become EngineSettings
 * (the same settingsFromObjectStore() a `--config` command uses, with CloudNativePG's rule for the
 * *AdditionalCommandArgs as a merge, per command), and each (ObjectStore, server name) gets its engines from
 * openEngine().
 * Nothing here composes stores or calls services: the engine does.
 */
import type { SecretSource } from '../../config/secrets.js';
import { SecretResolver } from '../../config/secrets.js';
import { resolveStoreConfig, secretValues, type ResolvedConfig } from '../../config/resolved-config.js';
import type { ConfigTarget } from '../../config/load-config.js';
import type { BarmanObjectStoreConfiguration } from '../../config/schema.js';
import { settingsFromResolvedConfig } from '../../config/settings-from-config.js';
import { additionalArgsFor, withAdditionalArgs } from '../../config/settings-from-manifest.js';
import { ConfigValidationError, validateObjectStore } from '../../config/validate.js';
import { openEngine as openFacade } from '../../engine/open-engine.js';
import type { Engine, EngineSettings, RestoreBackupOptions, TakeBackupOptions } from '../../engine/index.js';
import type { OptionValues } from '../../config/settings-from-cli.js';
import type { Logger, WarningCode } from '../../logger.js';
import type { MemoryBudget } from '../../memory-budget.js';
import type { KubeObject } from '../kube/kube-api.js';

export type { CatalogBackup, RecoveryWindow, DeleteBackupsResult, RestoreBackupResult } from '../../engine/index.js';

/** What the engine logs through: the plugin's logger (warnings keep their stable code as a field). */
export interface EngineLog {
  debug(m: string): void;
  info(m: string): void;
  warning(m: string, fields?: Record<string, unknown>): void;
  error?(m: string, fields?: Record<string, unknown>): void;
}

/** An ObjectStore resource and the server name to use in it. */
export interface ObjectStoreSource {
  namespace: string;
  name: string;
  resource: KubeObject;
  serverName: string;
  secrets: SecretSource;
  /** The sidecar's environment (proxies, AWS_* tuning, TMPDIR…); credentials come from the Secrets. */
  env: Readonly<Record<string, string | undefined>>;
}

/** The calls CloudNativePG gives additional command args for, by the command whose options parse them. */
export type PortCommand = 'wal-archive' | 'wal-restore' | 'backup' | 'restore';

/** One command's settings: the manifest, then that command's *AdditionalCommandArgs filling what it leaves unset. */
export interface PortCommandSettings {
  readonly settings: EngineSettings;
  /** Per-call values the args give (e.g. --no-partial, --orphan-age, --streams), used where a call says nothing. */
  readonly values: OptionValues;
}

/** Engine settings built from an ObjectStore, with what the registry needs to tell generations apart. */
export interface PortSettings {
  readonly config: ResolvedConfig;
  /** The manifest's settings: what every call without additional command args runs with (catalog, retention, checks). */
  readonly engine: EngineSettings;
  /**
   * Commands whose *AdditionalCommandArgs are set, each with its own settings: the args of one command never
   * reach another (CNPG passes them to that barman-cloud command only), e.g. wal-archive's --tags or
   * --read-timeout are not a backup's.
   */
  readonly commands: Readonly<Partial<Record<PortCommand, PortCommandSettings>>>;
  readonly serverName: string;
  /** Changes whenever a Secret value, the CA or a setting changes. */
  readonly fingerprint: string;
  /** Values the logger must never print. */
  readonly secretValues: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** The facade's Engine, with the settings it was opened from. */
export interface PortEngine extends Omit<Engine, 'settings'> {
  readonly settings: PortSettings;
}

const ADDITIONAL_ARGS: ReadonlyArray<[PortCommand, string]> = [
  ['wal-archive', 'wal.archiveAdditionalCommandArgs'], ['wal-restore', 'wal.restoreAdditionalCommandArgs'],
  ['backup', 'data.additionalCommandArgs'], ['restore', 'data.restoreAdditionalCommandArgs'],
];

/** Validates the ObjectStore and resolves its Secrets (every missing one named at once). */
export async function settingsFromObjectStore(src: ObjectStoreSource): Promise<PortSettings> {
  const where = `ObjectStore ${src.namespace}/${src.name}`;
  const errors = validateObjectStore(src.resource);
  if (errors.length > 0) throw new ConfigValidationError(where, errors);
  const spec = src.resource.spec as { configuration: BarmanObjectStoreConfiguration; retentionPolicy?: string };
  const target: ConfigTarget = {
    file: where, kind: 'ObjectStore', name: src.name, namespace: src.namespace, path: 'spec.configuration',
    store: spec.configuration, serverName: src.serverName, serverNameReason: 'the plugin parameters of the Cluster',
    retentionPolicy: spec.retentionPolicy,
    // instanceSidecarConfiguration.env is injected into the sidecar's environment by the operator side.
    env: [], serviceAccountAnnotations: {},
  };
  const config = await resolveStoreConfig(target, {
    resolver: new SecretResolver([src.secrets]), namespace: src.namespace, namespaceReason: 'the Cluster namespace', env: src.env, sources: [src.secrets],
  });
  const engine = settingsFromResolvedConfig(config, src.env, src.serverName);
  // CloudNativePG's rule: additional command args never override what the manifest sets; they fill the rest,
  // for their own command only.
  const commands: Partial<Record<PortCommand, PortCommandSettings>> = {};
  for (const [command, field] of ADDITIONAL_ARGS) {
    const extra = additionalArgsFor(command, spec.configuration);
    if (extra.length > 0) commands[command] = withAdditionalArgs(engine, command, extra, `${where} spec.configuration.${field}`);
  }
  return { config, engine, commands, serverName: src.serverName, fingerprint: config.fingerprint, secretValues: secretValues(config), env: src.env };
}

/**
 * The engines of one ObjectStore: one on the manifest's settings, and one per command whose additional command
 * args change them (opened on that command's first call). `memory` is the sidecar's one budget, shared by all.
 */
export async function openEngine(settings: PortSettings, options: { log: EngineLog; memory?: MemoryBudget }): Promise<PortEngine> {
  const open = (s: EngineSettings): Promise<Engine> => openFacade(s, { log: engineLogger(options.log), ...(options.memory ? { memory: options.memory } : {}) });
  const base = await open(settings.engine);
  const opened = new Map<PortCommand, Promise<Engine>>();
  const engineFor = (command: PortCommand): Promise<Engine> => {
    const own = settings.commands[command];
    if (!own) return Promise.resolve(base);
    let e = opened.get(command);
    if (!e) {
      e = open(own.settings);
      opened.set(command, e);
      // A failed open is not kept: the next call tries again.
      e.catch(() => { if (opened.get(command) === e) opened.delete(command); });
    }
    return e;
  };
  const v = (command: PortCommand): OptionValues => settings.commands[command]?.values ?? {};
  return {
    // The facade's calls are closures over their engine: a copy with the port's settings beside them works alike.
    ...base, settings,
    archiveWal: async (walPath, o) => (await engineFor('wal-archive')).archiveWal(walPath, o),
    restoreWal: async (walName, dest, o = {}) => (await engineFor('wal-restore')).restoreWal(walName, dest,
      { ...(v('wal-restore').noPartial === true ? { noPartial: true } : {}), ...o }),
    takeBackup: async (o = {}) => (await engineFor('backup')).takeBackup({ ...backupCallDefaults(v('backup')), ...o }),
    restoreBackup: async (o) => (await engineFor('restore')).restoreBackup({ ...restoreCallDefaults(v('restore')), ...o }),
    close: async () => {
      const others = [...opened.values()].map((e) => e.then((x) => x.close(), () => undefined));
      await Promise.all([base.close(), ...others]);
    },
  };
}

/** A backup's per-call options from its additional command args (the plugin names the backup itself). */
function backupCallDefaults(values: OptionValues): Partial<TakeBackupOptions> {
  const age = values.orphanAge;
  return typeof age === 'number' && age >= 0 ? { garbageAgeMs: age * 1000 } : {};
}

function restoreCallDefaults(values: OptionValues): Partial<RestoreBackupOptions> {
  return {
    ...(typeof values.streams === 'number' ? { streamsPerObject: values.streams } : {}),
    ...(values.allowUnverified === true ? { allowUnverified: true } : {}),
  };
}

function engineLogger(log: EngineLog): Logger {
  return {
    debug: (m) => log.debug(m),
    info: (m) => log.info(m),
    warning: (code: WarningCode, m: string) => log.warning(m, { code }),
    error: (m) => (log.error ? log.error(m) : log.warning(m)),
  };
}
