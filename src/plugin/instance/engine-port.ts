/**
 * The one door from the plugin to the engine: an ObjectStore resource and its Secrets become EngineSettings
 * (the same settingsFromObjectStore() a `--config` command uses, with CloudNativePG's rule for the
 * *AdditionalCommandArgs as a merge), and each (ObjectStore, server name) gets one engine from openEngine().
 * Nothing here composes stores or calls services: the engine does.
 */
import type { SecretSource } from '../../config/secrets.js';
import { SecretResolver } from '../../config/secrets.js';
import { resolveStoreConfig, secretValues, type ResolvedConfig } from '../../config/resolved-config.js';
import type { ConfigTarget } from '../../config/load-config.js';
import type { CommandName } from '../../config/options.js';
import type { BarmanObjectStoreConfiguration } from '../../config/schema.js';
import { settingsFromResolvedConfig } from '../../config/settings-from-config.js';
import { additionalArgsFor, withAdditionalArgs } from '../../config/settings-from-manifest.js';
import { ConfigValidationError, validateObjectStore } from '../../config/validate.js';
import { openEngine as openFacade } from '../../engine/open-engine.js';
import type { Engine, EngineSettings } from '../../engine/index.js';
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

/** Engine settings built from an ObjectStore, with what the registry needs to tell generations apart. */
export interface PortSettings {
  readonly config: ResolvedConfig;
  /** What the engine runs with: the manifest, then its *AdditionalCommandArgs filling what it leaves unset. */
  readonly engine: EngineSettings;
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

const ADDITIONAL_ARGS: ReadonlyArray<[CommandName, string]> = [
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
  // CloudNativePG's rule: additional command args never override what the manifest sets; they fill the rest.
  let engine = settingsFromResolvedConfig(config, src.env, src.serverName);
  for (const [command, field] of ADDITIONAL_ARGS) {
    engine = withAdditionalArgs(engine, command, additionalArgsFor(command, spec.configuration), `${where} spec.configuration.${field}`).settings;
  }
  return { config, engine, serverName: src.serverName, fingerprint: config.fingerprint, secretValues: secretValues(config), env: src.env };
}

/** One engine on the ObjectStore's settings; `memory` is the sidecar's one budget, shared by every engine. */
export async function openEngine(settings: PortSettings, options: { log: EngineLog; memory?: MemoryBudget }): Promise<PortEngine> {
  const engine = await openFacade(settings.engine, { log: engineLogger(options.log), ...(options.memory ? { memory: options.memory } : {}) });
  // The facade's calls are closures over the engine: a copy with the port's settings beside them works alike.
  return { ...engine, settings };
}

function engineLogger(log: EngineLog): Logger {
  return {
    debug: (m) => log.debug(m),
    info: (m) => log.info(m),
    warning: (code: WarningCode, m: string) => log.warning(m, { code }),
    error: (m) => (log.error ? log.error(m) : log.warning(m)),
  };
}
