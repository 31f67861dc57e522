/**
 * The frozen result of reading a manifest: where the store is, how to authenticate (with Secret values that
 * print as ***), and the WAL/backup/retention settings commands need. settingsFromResolvedConfig()
 * (settings-from-config.ts) turns it into EngineSettings, as CNPG turns the same fields into barman-cloud's
 * environment and flags (cnpg-api §2.1–2.2).
 */
import { createHash } from 'node:crypto';
import type { CloudProvider } from '../storage/store-options.js';
import { Secret } from '../secret.js';
import type { BarmanObjectStoreConfiguration, DataBackupConfiguration, SecretKeySelector, WalBackupConfiguration } from './schema.js';
import { isMissing, MissingSecretsError, type MissingSecret, type SecretResolver, type SecretSource } from './secrets.js';
import type { ConfigTarget } from './load-config.js';
import { providerOf } from './validate.js';
import { workloadIdentityReport, type WorkloadIdentityReport } from './workload-identity.js';

export type CredentialMethod =
  | 's3-access-keys' | 's3-access-keys-session-token' | 's3-iam-role'
  | 'azure-connection-string' | 'azure-storage-key' | 'azure-sas-token' | 'azure-ad-managed-identity' | 'azure-default-credential'
  | 'gcs-application-credentials' | 'gke-workload-identity';

export interface RetentionPolicy {
  /** As written: 30d, 4w, 1m. */
  text: string;
  count: number;
  unit: 'DAYS' | 'WEEKS' | 'MONTHS';
  /** Barman's form, for barman-cloud-backup-delete --retention-policy. */
  barman: string;
  /** Window length in days (a month is 31 days in Barman). */
  days: number;
}

/** One Secret value used by the configuration: which field, which Secret, where it came from. */
export interface SecretUse {
  field: string;
  selector: SecretKeySelector;
  value: Secret;
}

export interface ResolvedConfig {
  /** The store configuration as written in the manifest (secrets are references; values are in `secrets`). */
  configuration: BarmanObjectStoreConfiguration;
  /** The manifest and object this came from. */
  source: { file: string; kind: 'Cluster' | 'ObjectStore'; name: string; namespace: string; namespaceReason: string; path: string; externalCluster?: string };
  provider: CloudProvider;
  providerReason: string;
  destinationPath: string;
  serverName: string | undefined;
  serverNameReason: string;
  endpointURL?: string;
  /** endpointCA, resolved (the PEM reaches the drivers in memory, never through a file). */
  endpointCA?: { value: Secret };
  credentials: {
    method: CredentialMethod;
    reason: string;
    /** Environment variables the method sets, as CNPG sets them for barman-cloud. */
    env: Readonly<Record<string, Secret>>;
    /** Azure --credential equivalent. */
    azureCredential?: 'managed-identity' | 'default';
  };
  /** Literal/secret environment from spec.env (Cluster) or instanceSidecarConfiguration.env (ObjectStore). */
  extraEnv: Readonly<Record<string, string | Secret>>;
  wal: { compression?: WalBackupConfiguration['compression']; encryption?: WalBackupConfiguration['encryption']; maxParallel: number; archiveAdditionalCommandArgs: readonly string[]; restoreAdditionalCommandArgs: readonly string[] };
  data: { compression?: DataBackupConfiguration['compression']; encryption?: DataBackupConfiguration['encryption']; jobs?: number; immediateCheckpoint: boolean; additionalCommandArgs: readonly string[]; restoreAdditionalCommandArgs: readonly string[] };
  tags: Readonly<Record<string, string>>;
  historyTags: Readonly<Record<string, string>>;
  retentionPolicy?: RetentionPolicy;
  secrets: readonly SecretUse[];
  workloadIdentity?: WorkloadIdentityReport;
  /** A digest of every resolved secret value and the CA: changes when anything rotates (never printed with values). */
  fingerprint: string;
}

export function parseRetentionPolicy(text: string): RetentionPolicy | undefined {
  const m = /^([1-9][0-9]*)([dwm])$/.exec(text);
  if (!m) return undefined;
  const count = Number(m[1]);
  const unit = m[2] === 'd' ? 'DAYS' : m[2] === 'w' ? 'WEEKS' : 'MONTHS';
  return { text, count, unit, barman: `RECOVERY WINDOW OF ${count} ${unit}`, days: count * (m[2] === 'd' ? 1 : m[2] === 'w' ? 7 : 31) };
}

interface ResolveContext {
  resolver: SecretResolver;
  namespace: string;
  namespaceReason: string;
  env: Readonly<Record<string, string | undefined>>;
  sources: readonly SecretSource[];
}

type SecretGetter = (field: string, sel: SecretKeySelector | undefined) => Promise<Secret | undefined>;
type Credentials = ResolvedConfig['credentials'];

export async function resolveStoreConfig(target: ConfigTarget, ctx: ResolveContext): Promise<ResolvedConfig> {
  const store = target.store;
  const p = target.path;
  const provider = providerOf(store) as CloudProvider;
  const missing: MissingSecret[] = [];
  const uses: SecretUse[] = [];
  const get: SecretGetter = async (field, sel) => {
    if (!sel) return undefined;
    const r = await ctx.resolver.resolve(`${p}.${field}`, ctx.namespace, sel);
    if (isMissing(r)) { missing.push(r); return undefined; }
    uses.push({ field: `${p}.${field}`, selector: sel, value: r });
    return r;
  };
  const credentials = store.s3Credentials ? await s3Credentials(store.s3Credentials, get)
    : store.azureCredentials ? await azureCredentials(store.azureCredentials, get) : await googleCredentials(store.googleCredentials ?? {}, get);
  const ca = await get('endpointCA', store.endpointCA);
  const extraEnv = await resolveEnv(target, ctx, missing, uses);
  if (missing.length > 0) throw new MissingSecretsError(missing);
  const resolved = baseConfig(target, ctx, provider, credentials, extraEnv, uses);
  if (ca) resolved.endpointCA = { value: ca };
  const wi = await workloadIdentityReport(credentials.method, target.serviceAccountAnnotations, ctx.env);
  if (wi) resolved.workloadIdentity = wi;
  // Secret values are hashed (JSON shows them as ***); the rest of the settings through their JSON form.
  const hash = createHash('sha256');
  for (const u of uses) hash.update(`${u.field}\0${u.value.reveal()}\0`);
  if (ca) hash.update(`endpointCA\0${ca.reveal()}\0`);
  hash.update(JSON.stringify({ ...resolved, workloadIdentity: undefined }));
  resolved.fingerprint = hash.digest('hex');
  return Object.freeze(resolved);
}

async function s3Credentials(s3: NonNullable<ConfigTarget['store']['s3Credentials']>, get: SecretGetter): Promise<Credentials> {
  if (s3.inheritFromIAMRole) {
    return { method: 's3-iam-role', reason: 's3Credentials.inheritFromIAMRole is true: the AWS default chain (IRSA web identity, Pod Identity, instance profile); region and sessionToken references are ignored, as in CNPG', env: {} };
  }
  const env: Record<string, Secret> = {};
  const id = await get('s3Credentials.accessKeyId', s3.accessKeyId);
  const secret = await get('s3Credentials.secretAccessKey', s3.secretAccessKey);
  if (id) env.AWS_ACCESS_KEY_ID = id;
  if (secret) env.AWS_SECRET_ACCESS_KEY = secret;
  const token = await get('s3Credentials.sessionToken', s3.sessionToken);
  if (token) env.AWS_SESSION_TOKEN = token;
  const region = await get('s3Credentials.region', s3.region);
  if (region) env.AWS_DEFAULT_REGION = region;
  return {
    method: s3.sessionToken ? 's3-access-keys-session-token' : 's3-access-keys',
    reason: `s3Credentials.accessKeyId and secretAccessKey${s3.sessionToken ? ' with sessionToken (temporary credentials)' : ''}: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY${s3.sessionToken ? '/AWS_SESSION_TOKEN' : ''}${s3.region ? ' and AWS_DEFAULT_REGION' : ''}`,
    env,
  };
}

async function azureCredentials(az: NonNullable<ConfigTarget['store']['azureCredentials']>, get: SecretGetter): Promise<Credentials> {
  const env: Record<string, Secret> = {};
  if (az.connectionString) {
    const cs = await get('azureCredentials.connectionString', az.connectionString);
    if (cs) env.AZURE_STORAGE_CONNECTION_STRING = cs;
    return { method: 'azure-connection-string', reason: 'azureCredentials.connectionString: AZURE_STORAGE_CONNECTION_STRING', env };
  }
  const account = await get('azureCredentials.storageAccount', az.storageAccount);
  if (account) env.AZURE_STORAGE_ACCOUNT = account;
  if (az.storageKey) {
    const key = await get('azureCredentials.storageKey', az.storageKey);
    if (key) env.AZURE_STORAGE_KEY = key;
    return { method: 'azure-storage-key', reason: 'azureCredentials.storageAccount + storageKey: AZURE_STORAGE_ACCOUNT/AZURE_STORAGE_KEY (shared key)', env };
  }
  if (az.storageSasToken) {
    const sas = await get('azureCredentials.storageSasToken', az.storageSasToken);
    if (sas) env.AZURE_STORAGE_SAS_TOKEN = sas;
    return { method: 'azure-sas-token', reason: 'azureCredentials.storageAccount + storageSasToken: AZURE_STORAGE_ACCOUNT/AZURE_STORAGE_SAS_TOKEN', env };
  }
  if (az.useDefaultAzureCredentials) {
    return { method: 'azure-default-credential',
      reason: 'azureCredentials.useDefaultAzureCredentials: DefaultAzureCredential (environment, workload identity, managed identity, Azure CLI), as --credential default', env, azureCredential: 'default' };
  }
  return { method: 'azure-ad-managed-identity',
    reason: 'azureCredentials.inheritFromAzureAD: managed identity / Azure AD workload identity, as --credential managed-identity', env, azureCredential: 'managed-identity' };
}

async function googleCredentials(g: NonNullable<ConfigTarget['store']['googleCredentials']>, get: SecretGetter): Promise<Credentials> {
  if (g.gkeEnvironment) {
    return { method: 'gke-workload-identity', reason: 'googleCredentials.gkeEnvironment is true: Application Default Credentials from the GKE metadata server (Workload Identity)', env: {} };
  }
  const env: Record<string, Secret> = {};
  const json = await get('googleCredentials.applicationCredentials', g.applicationCredentials);
  if (json) env.GOOGLE_APPLICATION_CREDENTIALS_JSON = json;
  return { method: 'gcs-application-credentials', reason: 'googleCredentials.applicationCredentials: the service-account JSON key, handed to the driver as it is (never written to a file)', env };
}

/** spec.env (Cluster) or spec.instanceSidecarConfiguration.env (ObjectStore): values and secretKeyRefs. */
async function resolveEnv(target: ConfigTarget, ctx: ResolveContext, missing: MissingSecret[], uses: SecretUse[]): Promise<Record<string, string | Secret>> {
  const extraEnv: Record<string, string | Secret> = {};
  const envBase = target.kind === 'Cluster' ? 'spec.env' : 'spec.instanceSidecarConfiguration.env';
  for (const [i, e] of target.env.entries()) {
    if (e.value !== undefined) extraEnv[e.name] = e.value;
    else if (e.valueFrom?.secretKeyRef) {
      const r = await ctx.resolver.resolve(`${envBase}[${i}].valueFrom.secretKeyRef`, ctx.namespace, e.valueFrom.secretKeyRef);
      if (isMissing(r)) missing.push(r);
      else { extraEnv[e.name] = r; uses.push({ field: `${envBase}[${i}]`, selector: e.valueFrom.secretKeyRef, value: r }); }
    }
  }
  return extraEnv;
}

function baseConfig(target: ConfigTarget, ctx: ResolveContext, provider: CloudProvider, credentials: Credentials, extraEnv: Record<string, string | Secret>, uses: SecretUse[]): ResolvedConfig {
  const store = target.store;
  const p = target.path;
  const resolved: ResolvedConfig = {
    configuration: store,
    source: { file: target.file, kind: target.kind, name: target.name, namespace: ctx.namespace, namespaceReason: ctx.namespaceReason, path: target.path },
    provider,
    providerReason: `${p}.${provider === 'aws-s3' ? 's3Credentials' : provider === 'azure-blob-storage' ? 'azureCredentials' : 'googleCredentials'} is set (CNPG passes --cloud-provider ${provider})`,
    destinationPath: store.destinationPath,
    serverName: target.serverName,
    serverNameReason: target.serverNameReason,
    credentials,
    extraEnv,
    wal: {
      maxParallel: store.wal?.maxParallel ?? 1,
      archiveAdditionalCommandArgs: store.wal?.archiveAdditionalCommandArgs ?? [],
      restoreAdditionalCommandArgs: store.wal?.restoreAdditionalCommandArgs ?? [],
    },
    data: {
      immediateCheckpoint: store.data?.immediateCheckpoint ?? false,
      additionalCommandArgs: store.data?.additionalCommandArgs ?? [],
      restoreAdditionalCommandArgs: store.data?.restoreAdditionalCommandArgs ?? [],
    },
    tags: store.tags ?? {},
    historyTags: store.historyTags ?? {},
    secrets: uses,
    fingerprint: '',
  };
  if (target.externalCluster !== undefined) resolved.source.externalCluster = target.externalCluster;
  if (store.endpointURL) resolved.endpointURL = store.endpointURL;
  if (store.wal?.compression) resolved.wal.compression = store.wal.compression;
  if (store.wal?.encryption) resolved.wal.encryption = store.wal.encryption;
  if (store.data?.compression) resolved.data.compression = store.data.compression;
  if (store.data?.encryption) resolved.data.encryption = store.data.encryption;
  if (store.data?.jobs !== undefined) resolved.data.jobs = store.data.jobs;
  if (target.retentionPolicy) {
    const rp = parseRetentionPolicy(target.retentionPolicy);
    if (rp) resolved.retentionPolicy = rp;
  }
  return resolved;
}

/** Every secret value, for the output redactor (ctx.secrets). */
export function secretValues(config: ResolvedConfig): string[] {
  const out: string[] = [];
  for (const u of config.secrets) {
    // The account name and region are in URLs and messages users need; CNPG keeps them in Secrets, but they are not secret.
    if (/\.(storageAccount|region)$/.test(u.field)) continue;
    const v = u.value.reveal();
    if (v.length >= 4) out.push(v, v.trim());
    // Parts of an Azure connection string and the private key of a GCS JSON key are secrets on their own.
    for (const m of v.matchAll(/(?:AccountKey|SharedAccessSignature)=([^;]+)/gi)) if (m[1]) out.push(m[1]);
    for (const m of v.matchAll(/"private_key"\s*:\s*"([^"]+)"/g)) if (m[1]) out.push(m[1]);
  }
  return [...new Set(out)].filter((s) => s.length >= 4);
}
