/**
 * The one door from the plugin to the engine. Its names and shapes are a subset of the engine facade
 * (issue 11, `openEngine(settings)` and `settingsFromObjectStore()`), so that switching to the facade changes
 * this file only. Until the facade lands it composes the existing services the way the CLI commands do:
 * an ObjectStore's spec.configuration plus its Secrets → ResolvedConfig (src/config) → StoreOptions → stores.
 */
import type { SecretSource } from '../../config/secrets.js';
import { SecretResolver } from '../../config/secrets.js';
import { resolveStoreConfig, secretValues, toStoreOptions, type ResolvedConfig } from '../../config/resolved-config.js';
import type { ConfigTarget } from '../../config/load-config.js';
import type { BarmanObjectStoreConfiguration } from '../../config/schema.js';
import { ConfigValidationError, validateObjectStore } from '../../config/validate.js';
import { composeStoreFromOptions, type ComposedStore } from '../../app/compose.js';
import type { BackupCompression } from '../../domain/backup/backup-manifest.js';
import type { BackupInfo } from '../../domain/backup/backup-info.js';
import { parseRetentionPolicy } from '../../domain/retention/retention-policy.js';
import { getCodec, resolveLevel } from '../../pipeline/codecs.js';
import { resolveConnection } from '../../postgres/connection-options.js';
import { loadCatalog, type CatalogBackup } from '../../repository/backup-catalog.js';
import { archiveWal as archiveWalService, type ArchiveWalResult } from '../../services/archive-wal.js';
import { checkWalArchive as checkWalArchiveService } from '../../services/check-wal-archive.js';
import { deleteBackups as deleteBackupsService, type DeleteResult } from '../../services/delete-backups.js';
import { restoreBackup as restoreBackupService, type RestoreInput, type RestoreResult } from '../../services/restore-backup.js';
import { parseRecoveryTime } from '../../domain/recovery/recovery-time.js';
import { parseLsn } from '../../domain/wal/lsn.js';
import { restoreWal as restoreWalService, type RestoreWalResult } from '../../services/restore-wal.js';
import { takeBackup as takeBackupService } from '../../services/take-backup.js';
import type { StoreOptions } from '../../storage/store-options.js';
import type { KubeObject } from '../kube/kube-api.js';

export type { ArchiveWalResult, RestoreWalResult, CatalogBackup, DeleteResult, RestoreResult, BackupInfo };

/** What the engine logs through (the plugin's logger fits). */
export interface EngineLog { debug(m: string): void; info(m: string): void; warning(m: string): void }

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

/** Engine settings built from an ObjectStore (the facade's EngineSettings will replace `config`). */
export interface PortSettings {
  readonly config: ResolvedConfig;
  readonly serverName: string;
  /** Changes whenever a Secret value, the CA or a setting changes. */
  readonly fingerprint: string;
  /** Values the logger must never print. */
  readonly secretValues: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  /** *AdditionalCommandArgs the plugin does not apply (it runs no barman-cloud process), for one warning. */
  readonly ignoredArgs: readonly string[];
}

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
  const c = spec.configuration;
  const ignoredArgs = [...(c.wal?.archiveAdditionalCommandArgs ?? []), ...(c.wal?.restoreAdditionalCommandArgs ?? []), ...(c.data?.additionalCommandArgs ?? []), ...(c.data?.restoreAdditionalCommandArgs ?? [])];
  return { config, serverName: src.serverName, fingerprint: config.fingerprint, secretValues: secretValues(config), env: src.env, ignoredArgs };
}

export interface BackupOutcome {
  backupId: string;
  backupName: string | null;
  beginTime: Date;
  endTime: Date;
  beginWal: string;
  endWal: string;
  beginLsn: string;
  endLsn: string;
  timeline: number;
  postgresVersion: number;
  systemId: string;
  backupLabel: string;
  info: BackupInfo;
  stats: { tarBytes: number; storedBytes: number; seconds: number; objects: number };
}

export interface RecoveryWindow {
  firstRecoverabilityPoint: Date | null;
  lastSuccessfulBackupTime: Date | null;
  lastSuccessfulBackupId: string | null;
  lastSuccessfulBackupName: string | null;
  lastFailedBackupTime: Date | null;
}

/** The subset of the facade's Engine the plugin calls. */
export interface PortEngine {
  readonly settings: PortSettings;
  readonly description: string;
  archiveWal(walPath: string, options?: { maxParallel?: number; spoolDir?: string; signal?: AbortSignal }): Promise<ArchiveWalResult>;
  restoreWal(walName: string, destPath: string, options?: { maxParallel?: number; spoolDir?: string; signal?: AbortSignal }): Promise<RestoreWalResult>;
  takeBackup(options: { name?: string; postgres: { host?: string; port?: string | number; user?: string; dbname?: string }; signal?: AbortSignal; log: EngineLog }): Promise<BackupOutcome>;
  restoreBackup(options: { backupId: string; destination: string; auto?: { targetTime?: string; targetLsn?: string; targetTli?: number | 'latest' }; signal?: AbortSignal }): Promise<RestoreResult>;
  listBackups(options?: { signal?: AbortSignal }): Promise<{ backups: readonly CatalogBackup[]; recoveryWindow: RecoveryWindow }>;
  deleteBackups(options: { retentionPolicy: string; signal?: AbortSignal; now?: Date }): Promise<DeleteResult>;
  checkWalArchive(options?: { timeline?: number; signal?: AbortSignal }): Promise<{ bucketMissing: boolean }>;
  close(): Promise<void>;
}

export async function openEngine(settings: PortSettings, options: { log: EngineLog }): Promise<PortEngine> {
  return new ServiceEngine(settings, options.log);
}

type Purpose = 'wal' | 'data';

class ServiceEngine implements PortEngine {
  private readonly stores = new Map<Purpose, Promise<ComposedStore>>();
  readonly description: string;

  constructor(readonly settings: PortSettings, private readonly log: EngineLog) {
    this.description = `${settings.config.destinationPath} (server ${settings.serverName})`;
  }

  /** WAL and backups may ask for different S3 server-side encryption: one store each, opened on first use. */
  private store(purpose: Purpose): Promise<ComposedStore> {
    const c = this.settings.config;
    const encryption = purpose === 'wal' ? c.wal.encryption : c.data.encryption;
    const shared = c.wal.encryption === c.data.encryption;
    const key: Purpose = shared ? 'wal' : purpose;
    let p = this.stores.get(key);
    if (!p) {
      const options: StoreOptions = toStoreOptions(c, this.settings.env);
      if (options.s3 && encryption) options.s3.encryption = encryption;
      if (options.s3 && purpose === 'data') options.s3.uploadConcurrency = c.data.jobs ?? 2;
      if (options.azure && purpose === 'data') options.azure.maxConcurrency = c.data.jobs ?? 2;
      p = composeStoreFromOptions(options, this.settings.serverName);
      p.catch(() => this.stores.delete(key));
      this.stores.set(key, p);
    }
    return p;
  }

  async archiveWal(walPath: string, o: { maxParallel?: number; spoolDir?: string; signal?: AbortSignal } = {}): Promise<ArchiveWalResult> {
    const { store, layout, options } = await this.store('wal');
    const c = this.settings.config;
    const codec = c.wal.compression ? getCodec(c.wal.compression) : undefined;
    return archiveWalService({ store, layout, log: this.log }, {
      walPath, codec, level: codec ? resolveLevel(codec, undefined) : undefined,
      maxParallel: o.maxParallel ?? c.wal.maxParallel,
      ...(o.spoolDir ? { spoolDir: o.spoolDir } : {}), ...(o.signal ? { signal: o.signal } : {}),
      ...(Object.keys(c.tags).length ? { tags: c.tags } : {}), ...(Object.keys(c.historyTags).length ? { historyTags: c.historyTags } : {}),
      verifyMd5: options.s3?.encryption !== 'aws:kms',
    });
  }

  async restoreWal(walName: string, destPath: string, o: { maxParallel?: number; spoolDir?: string; signal?: AbortSignal } = {}): Promise<RestoreWalResult> {
    const { store, layout } = await this.store('wal');
    return restoreWalService({ store, layout, log: this.log }, {
      walName, destPath, maxParallel: o.maxParallel ?? this.settings.config.wal.maxParallel,
      ...(o.spoolDir ? { spoolDir: o.spoolDir } : {}), ...(o.signal ? { signal: o.signal } : {}),
    });
  }

  async takeBackup(o: Parameters<PortEngine['takeBackup']>[0]): Promise<BackupOutcome> {
    const { store, layout } = await this.store('data');
    const c = this.settings.config;
    const pg = o.postgres;
    const connection = resolveConnection({
      ...(pg.host !== undefined ? { host: pg.host } : {}), ...(pg.port !== undefined ? { port: String(pg.port) } : {}),
      ...(pg.user !== undefined ? { user: pg.user } : {}), ...(pg.dbname !== undefined ? { dbname: pg.dbname } : {}),
    }, this.settings.env);
    const r = await takeBackupService({ store, layout }, {
      connection, compression: (c.data.compression ?? 'none') as BackupCompression, jobs: c.data.jobs ?? 2,
      immediateCheckpoint: c.data.immediateCheckpoint, log: o.log,
      ...(o.name ? { name: o.name } : {}), ...(o.signal ? { signal: o.signal } : {}),
      ...(Object.keys(c.tags).length ? { tags: c.tags } : {}),
    });
    return outcomeOf(r.backupId, r.info, r.stats);
  }

  async restoreBackup(o: Parameters<PortEngine['restoreBackup']>[0]): Promise<RestoreResult> {
    const { store, layout } = await this.store('data');
    return restoreBackupService({ store, layout, log: this.log, ...(o.signal ? { signal: o.signal } : {}) }, {
      backupId: o.backupId, recoveryDir: o.destination, jobs: this.settings.config.data.jobs ?? 2,
      ...(o.auto ? { auto: autoCriteria(o.auto) } : {}),
    });
  }

  async listBackups(o: { signal?: AbortSignal } = {}): Promise<{ backups: readonly CatalogBackup[]; recoveryWindow: RecoveryWindow }> {
    const { store, layout } = await this.store('data');
    const catalog = await loadCatalog(store, layout, o.signal ? { signal: o.signal } : {});
    return { backups: catalog.backups, recoveryWindow: recoveryWindowOf(catalog.backups) };
  }

  async deleteBackups(o: { retentionPolicy: string; signal?: AbortSignal; now?: Date }): Promise<DeleteResult> {
    const { store, layout } = await this.store('data');
    return deleteBackupsService({ store, layout, warn: (m) => this.log.warning(m), info: (m) => this.log.info(m) }, {
      selection: { kind: 'policy', policy: parseRetentionPolicy(o.retentionPolicy) },
      ...(o.signal ? { signal: o.signal } : {}), ...(o.now ? { now: o.now } : {}),
    });
  }

  async checkWalArchive(o: { timeline?: number; signal?: AbortSignal } = {}): Promise<{ bucketMissing: boolean }> {
    const { store, layout } = await this.store('wal');
    const r = await checkWalArchiveService({ store, layout }, { ...(o.timeline !== undefined ? { timeline: o.timeline } : {}), ...(o.signal ? { signal: o.signal } : {}) });
    return { bucketMissing: r.bucketMissing };
  }

  async close(): Promise<void> {
    const opened = [...this.stores.values()];
    this.stores.clear();
    await Promise.all(opened.map(async (p) => { try { await (await p).store.close(); } catch { /* never opened */ } }));
  }
}

function autoCriteria(a: NonNullable<Parameters<PortEngine['restoreBackup']>[0]['auto']>): NonNullable<RestoreInput['auto']> {
  const out: NonNullable<RestoreInput['auto']> = {};
  if (a.targetTime) out.targetTime = parseRecoveryTime(a.targetTime);
  if (a.targetLsn) out.targetLsn = parseLsn(a.targetLsn);
  if (a.targetTli !== undefined) out.targetTli = a.targetTli;
  return out;
}

function outcomeOf(backupId: string, info: BackupInfo, stats: BackupOutcome['stats']): BackupOutcome {
  return {
    backupId, backupName: info.backupName, info, stats,
    beginTime: info.beginTime?.toDate() ?? new Date(0), endTime: info.endTime?.toDate() ?? new Date(0),
    beginWal: info.beginWal ?? '', endWal: info.endWal ?? '', beginLsn: info.beginXlog ?? '', endLsn: info.endXlog ?? '',
    timeline: info.timeline ?? 0, postgresVersion: info.version ?? 0, systemId: info.systemid ?? '', backupLabel: info.backupLabel ?? '',
  };
}

/** CNPG's ObjectStore status from the catalog: first point = end of the oldest DONE backup. */
export function recoveryWindowOf(backups: readonly CatalogBackup[]): RecoveryWindow {
  const done = backups.filter((b) => b.info.status === 'DONE' && b.info.endTime);
  const failed = backups.filter((b) => b.info.status === 'FAILED');
  const newest = done.at(-1);
  const lastFailed = failed.at(-1);
  return {
    firstRecoverabilityPoint: done[0]?.info.endTime?.toDate() ?? null,
    lastSuccessfulBackupTime: newest?.info.endTime?.toDate() ?? null,
    lastSuccessfulBackupId: newest?.id ?? null,
    lastSuccessfulBackupName: newest?.info.backupName ?? null,
    lastFailedBackupTime: (lastFailed?.info.endTime ?? lastFailed?.info.beginTime)?.toDate() ?? null,
  };
}
