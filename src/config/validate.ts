/**
 * CloudNativePG's admission rules for the backup configuration, applied to a manifest before pgstow uses it:
 * the structure from schema.ts (types, enums, patterns, required fields, unknown fields inside
 * barmanObjectStore), then barman-cloud's webhook rules (exactly one credential kind, the S3/Azure/GCS method
 * rules), the retention policy and the recovery-target rules. Unlike CNPG, every error is kept (CNPG
 * overwrites per-provider lists) and each names the real field path.
 */
import { ConfigError } from '../errors.js';
import { parseDestination } from '../storage/destination.js';
import type { CloudProvider } from '../storage/store-options.js';
import {
  BARMAN_OBJECT_STORE, CLUSTER, OBJECT_STORE, RETENTION_POLICY_PATTERN,
  type BarmanObjectStoreConfiguration, type ClusterManifest, type FieldSchema, type ObjectStoreManifest, type RecoveryTarget,
} from './schema.js';

export interface FieldError {
  /** e.g. spec.backup.barmanObjectStore.s3Credentials */
  path: string;
  message: string;
}

/** All the errors of one manifest, reported at once (exit 3). */
export class ConfigValidationError extends ConfigError {
  readonly errors: readonly FieldError[];
  constructor(source: string, errors: readonly FieldError[]) {
    const lines = errors.map((e) => `  ${e.path}: ${e.message}`);
    super(`${source} is not a valid configuration (${errors.length} error${errors.length === 1 ? '' : 's'}):\n${lines.join('\n')}`);
    this.errors = errors;
  }
}
ConfigValidationError.prototype.name = 'ConfigValidationError';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

/** Structural check of `value` against `schema`; appends to `errors`. */
export function checkSchema(value: unknown, schema: FieldSchema, path: string, errors: FieldError[]): void {
  switch (schema.type) {
    case 'string':
      if (typeof value !== 'string') { errors.push({ path, message: `must be a string, got ${describe(value)}` }); return; }
      if (schema.minLength !== undefined && value.length < schema.minLength) errors.push({ path, message: 'must not be empty' });
      else if (schema.enum && !schema.enum.includes(value)) errors.push({ path, message: `unsupported value "${value}": supported values: ${schema.enum.map((e) => `"${e}"`).join(', ')}` });
      else if (schema.pattern && !schema.pattern.test(value)) errors.push({ path, message: `"${value}" does not match ${String(schema.pattern).slice(1, -1)}` });
      return;
    case 'boolean':
      if (typeof value !== 'boolean') errors.push({ path, message: `must be true or false, got ${describe(value)}` });
      return;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) { errors.push({ path, message: `must be an integer, got ${describe(value)}` }); return; }
      if (schema.minimum !== undefined && value < schema.minimum) errors.push({ path, message: `must be greater than or equal to ${schema.minimum}` });
      return;
    case 'stringMap':
      if (!isPlainObject(value)) { errors.push({ path, message: `must be a map of strings, got ${describe(value)}` }); return; }
      for (const [k, v] of Object.entries(value)) if (typeof v !== 'string') errors.push({ path: `${path}.${k}`, message: `must be a string, got ${describe(v)} (quote it in YAML)` });
      return;
    case 'stringList':
      if (!Array.isArray(value)) { errors.push({ path, message: `must be a list of strings, got ${describe(value)}` }); return; }
      value.forEach((v, i) => { if (typeof v !== 'string') errors.push({ path: `${path}[${i}]`, message: `must be a string, got ${describe(v)}` }); });
      return;
    case 'list':
      if (!Array.isArray(value)) { errors.push({ path, message: `must be a list, got ${describe(value)}` }); return; }
      value.forEach((v, i) => checkSchema(v, schema.items, `${path}[${i}]`, errors));
      return;
    case 'object': {
      if (!isPlainObject(value)) { errors.push({ path, message: `must be an object, got ${describe(value)}` }); return; }
      for (const [name, field] of Object.entries(schema.fields)) {
        const v = value[name];
        if (v === undefined || v === null) {
          if (field.required) errors.push({ path: `${path}.${name}`, message: 'Required value' });
          continue;
        }
        checkSchema(v, field, `${path}.${name}`, errors);
      }
      if (!schema.open) {
        for (const name of Object.keys(value)) {
          if (!(name in schema.fields)) errors.push({ path: `${path}.${name}`, message: `unknown field "${name}" (supported: ${Object.keys(schema.fields).join(', ')})` });
        }
      }
      return;
    }
  }
}

/** The provider CNPG passes as --cloud-provider: chosen by the credentials block, not by the URL. */
export function providerOf(cfg: BarmanObjectStoreConfiguration): CloudProvider | undefined {
  if (cfg.s3Credentials) return 'aws-s3';
  if (cfg.azureCredentials) return 'azure-blob-storage';
  if (cfg.googleCredentials) return 'google-cloud-storage';
  return undefined;
}

/** barman-cloud webhooks.ValidateBackupConfiguration + the credential Validate* methods. */
export function validateBarmanObjectStore(cfg: BarmanObjectStoreConfiguration, path: string, errors: FieldError[]): void {
  const kinds = [cfg.s3Credentials, cfg.azureCredentials, cfg.googleCredentials].filter((c) => c !== undefined && c !== null).length;
  if (kinds === 0) errors.push({ path, message: 'missing credentials. One and only one of azureCredentials, s3Credentials and googleCredentials are required' });
  if (kinds > 1) errors.push({ path, message: 'too many credentials. One and only one of azureCredentials, s3Credentials and googleCredentials are required' });

  const s3 = obj<NonNullable<BarmanObjectStoreConfiguration['s3Credentials']>>(cfg.s3Credentials);
  if (s3) {
    const p = `${path}.s3Credentials`;
    let methods = 0;
    if (s3.inheritFromIAMRole) methods++;
    if (s3.accessKeyId && s3.secretAccessKey) methods++;
    else if (s3.accessKeyId || s3.secretAccessKey) {
      methods++;
      errors.push({ path: p, message: 'when using AWS credentials both accessKeyId and secretAccessKey must be provided' });
    }
    if (methods === 0) errors.push({ path: p, message: 'at least one AWS authentication method should be supplied' });
    if (methods > 1) errors.push({ path: p, message: 'only one AWS authentication method should be supplied' });
  }

  const az = obj<NonNullable<BarmanObjectStoreConfiguration['azureCredentials']>>(cfg.azureCredentials);
  if (az) {
    const p = `${path}.azureCredentials`;
    const methods = [az.inheritFromAzureAD, az.useDefaultAzureCredentials, az.storageKey, az.storageSasToken].filter(Boolean).length;
    if (methods !== 1 && !az.connectionString) {
      errors.push({ path: p, message: 'when connection string is not specified, one and only one of storage key, storage SAS token, Azure AD authentication, or default Azure credentials is required' });
    }
    if ((methods !== 0 || az.storageAccount) && az.connectionString) {
      errors.push({ path: p, message: 'when connection string is specified, the other parameters must be empty' });
    }
    if ((az.storageKey || az.storageSasToken) && !az.storageAccount) {
      errors.push({ path: p, message: 'storage account must be specified when using storage key or SAS token' });
    }
  }

  const gcs = obj<NonNullable<BarmanObjectStoreConfiguration['googleCredentials']>>(cfg.googleCredentials);
  if (gcs) {
    const p = `${path}.googleCredentials`;
    if (!gcs.gkeEnvironment && !gcs.applicationCredentials) errors.push({ path: p, message: 'if gkeEnvironment is false, secret with credentials must be provided' });
    if (gcs.gkeEnvironment && gcs.applicationCredentials) errors.push({ path: p, message: 'if gkeEnvironment is true, secret with credentials must not be provided' });
  }

  // pgstow's own check (Barman would fail later, at the first archive_command): the URL must suit the provider.
  const provider = providerOf(cfg);
  if (provider && kinds === 1 && typeof cfg.destinationPath === 'string' && cfg.destinationPath !== '') {
    try {
      parseDestination(cfg.destinationPath, provider);
    } catch (err) {
      errors.push({ path: `${path}.destinationPath`, message: (err as Error).message });
    }
  }
  if (typeof cfg.endpointURL === 'string' && cfg.endpointURL !== '') {
    try {
      const u = new URL(cfg.endpointURL);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') errors.push({ path: `${path}.endpointURL`, message: `"${cfg.endpointURL}" must be an http:// or https:// URL` });
    } catch {
      errors.push({ path: `${path}.endpointURL`, message: `"${cfg.endpointURL}" is not a URL` });
    }
  }
}

/** Recovery-target rules of the Cluster webhook (cnpg-api §2.8). */
export function validateRecovery(cluster: ClusterManifest, errors: FieldError[]): void {
  const recovery = cluster.spec?.bootstrap?.recovery;
  if (!recovery) return;
  const base = 'spec.bootstrap.recovery';
  const sources = [recovery.source ? 'source' : undefined, recovery.backup ? 'backup' : undefined, recovery.volumeSnapshots ? 'volumeSnapshots' : undefined].filter(Boolean);
  if (sources.length > 1) errors.push({ path: base, message: `only one of source, backup and volumeSnapshots may be set (found ${sources.join(', ')})` });
  if (recovery.source) {
    const ext = cluster.spec?.externalClusters?.find((e) => e.name === recovery.source);
    if (!ext) errors.push({ path: `${base}.source`, message: `external cluster "${recovery.source}" is not defined in spec.externalClusters` });
  }
  const t: RecoveryTarget | undefined = recovery.recoveryTarget;
  if (!t) return;
  const p = `${base}.recoveryTarget`;
  const targets = (['targetTime', 'targetLSN', 'targetXID', 'targetName', 'targetImmediate'] as const)
    .filter((k) => t[k] !== undefined && t[k] !== '' && t[k] !== false);
  if (targets.length > 1) errors.push({ path: p, message: `recovery target too broad: only one of targetTime, targetLSN, targetXID, targetName and targetImmediate may be set (found ${targets.join(', ')})` });
  const snapshots = Boolean(recovery.volumeSnapshots);
  if (!snapshots) {
    for (const k of ['targetName', 'targetXID', 'targetImmediate'] as const) {
      if (t[k] !== undefined && t[k] !== '' && t[k] !== false && !t.backupID) {
        errors.push({ path: `${p}.${k}`, message: `${k} requires backupID to be set: a backup must be chosen explicitly for this kind of target` });
      }
    }
  } else if (t.backupID) {
    errors.push({ path: `${p}.backupID`, message: 'backupID cannot be used with volumeSnapshots' });
  }
  if (typeof t.targetTLI === 'string' && t.targetTLI !== 'latest' && !/^[1-9][0-9]*$/.test(t.targetTLI)) {
    errors.push({ path: `${p}.targetTLI`, message: `"${t.targetTLI}" must be "latest" or a positive integer` });
  }
  if (typeof t.targetXID === 'string' && t.targetXID !== '' && !(/^[0-9]+$/.test(t.targetXID) && Number(t.targetXID) <= 0xffffffff)) {
    errors.push({ path: `${p}.targetXID`, message: `"${t.targetXID}" is not a valid transaction ID (an unsigned 32-bit integer)` });
  }
  if (typeof t.targetLSN === 'string' && t.targetLSN !== '' && !/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/.test(t.targetLSN)) {
    errors.push({ path: `${p}.targetLSN`, message: `"${t.targetLSN}" is not a valid LSN (expected e.g. 0/3000060)` });
  }
  if (typeof t.targetName === 'string' && (Buffer.byteLength(t.targetName) >= 64 || /\p{Cc}/u.test(t.targetName))) {
    errors.push({ path: `${p}.targetName`, message: 'must be shorter than 64 bytes and contain no control characters' });
  }
  if (typeof t.targetTime === 'string' && t.targetTime !== '' && Number.isNaN(parseTargetTime(t.targetTime))) {
    errors.push({ path: `${p}.targetTime`, message: `"${t.targetTime}" is not a valid time (RFC 3339 or PostgreSQL format, e.g. 2026-01-02 15:04:05+00)` });
  }
}

/** RFC 3339 or PostgreSQL's "YYYY-MM-DD HH:MM:SS[.ffffff][±HH[:MM]]"; no zone means UTC. */
export function parseTargetTime(text: string): number {
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?)\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i.exec(text.trim());
  if (!m) return NaN;
  let zone = m[3] ?? 'Z';
  if (/^[+-]\d{2}$/.test(zone)) zone += ':00';
  else if (/^[+-]\d{4}$/.test(zone)) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
  return Date.parse(`${m[1]}T${m[2]}${zone.toUpperCase()}`);
}

/** `v` when it is a plain object: semantic rules run after structural errors too, so they must not trust types. */
function obj<T>(v: unknown): T | undefined {
  return isPlainObject(v) ? (v as T) : undefined;
}

/** Validates a Cluster the way its admission webhook does (the parts pgstow uses). Every error at once. */
export function validateCluster(doc: unknown): FieldError[] {
  const errors: FieldError[] = [];
  checkSchema(doc, CLUSTER, '', errors);
  const spec = obj<NonNullable<ClusterManifest['spec']>>(obj<ClusterManifest>(doc)?.spec);
  const store = obj<BarmanObjectStoreConfiguration>(obj<{ barmanObjectStore?: unknown }>(spec?.backup)?.barmanObjectStore);
  if (store) validateBarmanObjectStore(store, '.spec.backup.barmanObjectStore', errors);
  // External clusters are not run through CNPG's credential validator; pgstow checks them too, since it uses them.
  const externals = Array.isArray(spec?.externalClusters) ? spec.externalClusters : [];
  externals.forEach((ext, i) => {
    if (!isPlainObject(ext)) return;
    if (typeof ext.name === 'string' && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ext.name)) errors.push({ path: `.spec.externalClusters[${i}].name`, message: `"${ext.name}" is not a valid name (lower case letters, digits and "-")` });
    const s = obj<BarmanObjectStoreConfiguration>(ext.barmanObjectStore);
    if (s) validateBarmanObjectStore(s, `.spec.externalClusters[${i}].barmanObjectStore`, errors);
  });
  if (store && Array.isArray(spec?.plugins) && spec.plugins.some((p) => isPlainObject(p) && p.isWALArchiver === true)) {
    errors.push({ path: '.spec.backup.barmanObjectStore', message: 'cannot be used together with a plugin that has isWALArchiver: true' });
  }
  const recovery = obj<Record<string, unknown>>(obj<Record<string, unknown>>(spec?.bootstrap)?.recovery);
  if (recovery && (recovery.recoveryTarget === undefined || isPlainObject(recovery.recoveryTarget))) {
    validateRecovery({ spec: { ...spec, externalClusters: externals.filter(isPlainObject) } } as ClusterManifest, errors);
  }
  return dedupe(errors).map(trimRoot);
}

/** Validates a barmancloud.cnpg.io/v1 ObjectStore (its CRD and CEL rules). Every error at once. */
export function validateObjectStore(doc: unknown): FieldError[] {
  const errors: FieldError[] = [];
  checkSchema(doc, OBJECT_STORE, '', errors);
  const cfg = obj<BarmanObjectStoreConfiguration>(obj<Record<string, unknown>>(obj<ObjectStoreManifest>(doc)?.spec)?.configuration);
  if (cfg) {
    if (cfg.serverName !== undefined) errors.push({ path: '.spec.configuration.serverName', message: 'serverName is not supported in an ObjectStore: set it in the plugin parameters (or with --server-name)' });
    validateBarmanObjectStore(cfg, '.spec.configuration', errors);
  }
  return dedupe(errors).map(trimRoot);
}

function dedupe(errors: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errors.filter((e) => { const k = `${e.path}\0${e.message}`; if (seen.has(k)) return false; seen.add(k); return true; });
}

/** Validates a bare BarmanObjectStoreConfiguration (used for stores built by flags + file fragments). */
export function validateStoreConfiguration(cfg: unknown, path: string): FieldError[] {
  const errors: FieldError[] = [];
  checkSchema(cfg, BARMAN_OBJECT_STORE, path, errors);
  if (errors.length === 0) validateBarmanObjectStore(cfg as BarmanObjectStoreConfiguration, path, errors);
  return errors;
}

function trimRoot(e: FieldError): FieldError {
  return { path: e.path.replace(/^\./, '') || '(document)', message: e.message };
}

export { RETENTION_POLICY_PATTERN };
