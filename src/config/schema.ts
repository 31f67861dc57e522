/**
 * The one description of the CloudNativePG fields pgstow reads: field names, types, enums, patterns and which
 * ones are required, copied from CNPG's API (barman-cloud pkg/api/config.go, Cluster and ObjectStore CRDs).
 * The structural validator walks these descriptors, and the TypeScript types below are inferred from them,
 * so a field added here is both checked and typed.
 */

export type FieldSchema =
  | { readonly type: 'string'; readonly enum?: readonly string[]; readonly pattern?: RegExp; readonly minLength?: number; readonly required?: boolean }
  | { readonly type: 'boolean'; readonly required?: boolean }
  | { readonly type: 'integer'; readonly minimum?: number; readonly required?: boolean }
  | { readonly type: 'stringMap'; readonly required?: boolean }
  | { readonly type: 'stringList'; readonly required?: boolean }
  | { readonly type: 'list'; readonly items: FieldSchema; readonly required?: boolean }
  /** `open`: unknown fields are allowed (parts of a Cluster pgstow does not use). */
  | { readonly type: 'object'; readonly fields: Readonly<Record<string, FieldSchema>>; readonly open?: boolean; readonly required?: boolean };

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type RequiredKeys<R> = { [K in keyof R]: R[K] extends { required: true } ? K : never }[keyof R];
type OptionalKeys<R> = Exclude<keyof R, RequiredKeys<R>>;

/** The TypeScript type of a value described by a FieldSchema. */
export type Infer<F> =
  F extends { type: 'string'; enum: readonly (infer E)[] } ? E
    : F extends { type: 'string' } ? string
      : F extends { type: 'boolean' } ? boolean
        : F extends { type: 'integer' } ? number
          : F extends { type: 'stringMap' } ? Record<string, string>
            : F extends { type: 'stringList' } ? string[]
              : F extends { type: 'list'; items: infer I } ? Array<Infer<I>>
                : F extends { type: 'object'; fields: infer R } ? Simplify<{ [K in RequiredKeys<R>]: Infer<R[K]> } & { [K in OptionalKeys<R>]?: Infer<R[K]> }>
                  : never;

const str = { type: 'string' } as const;
const bool = { type: 'boolean' } as const;

/** machinery SecretKeySelector: a key of a Secret in the Cluster's namespace. */
export const SECRET_KEY_SELECTOR = {
  type: 'object',
  fields: { name: { type: 'string', required: true, minLength: 1 }, key: { type: 'string', required: true, minLength: 1 } },
} as const satisfies FieldSchema;

export const COMPRESSIONS_WAL = ['bzip2', 'gzip', 'lz4', 'snappy', 'xz', 'zstd'] as const;
/** Base backups: xz and zstd are not valid for barman-cloud-backup (cnpg-api §1.4). */
export const COMPRESSIONS_DATA = ['bzip2', 'gzip', 'lz4', 'snappy'] as const;
export const ENCRYPTIONS = ['AES256', 'aws:kms'] as const;

/** CRD pattern of retentionPolicy (fully anchored, as the CRD has it). */
export const RETENTION_POLICY_PATTERN = /^[1-9][0-9]*[dwm]$/;

export const S3_CREDENTIALS = {
  type: 'object',
  fields: {
    accessKeyId: SECRET_KEY_SELECTOR,
    secretAccessKey: SECRET_KEY_SELECTOR,
    region: SECRET_KEY_SELECTOR,
    sessionToken: SECRET_KEY_SELECTOR,
    inheritFromIAMRole: bool,
  },
} as const satisfies FieldSchema;

export const AZURE_CREDENTIALS = {
  type: 'object',
  fields: {
    connectionString: SECRET_KEY_SELECTOR,
    storageAccount: SECRET_KEY_SELECTOR,
    storageKey: SECRET_KEY_SELECTOR,
    storageSasToken: SECRET_KEY_SELECTOR,
    inheritFromAzureAD: bool,
    useDefaultAzureCredentials: bool,
  },
} as const satisfies FieldSchema;

export const GOOGLE_CREDENTIALS = {
  type: 'object',
  fields: { applicationCredentials: SECRET_KEY_SELECTOR, gkeEnvironment: bool },
} as const satisfies FieldSchema;

export const WAL_CONFIGURATION = {
  type: 'object',
  fields: {
    compression: { type: 'string', enum: COMPRESSIONS_WAL },
    encryption: { type: 'string', enum: ENCRYPTIONS },
    maxParallel: { type: 'integer', minimum: 1 },
    archiveAdditionalCommandArgs: { type: 'stringList' },
    restoreAdditionalCommandArgs: { type: 'stringList' },
  },
} as const satisfies FieldSchema;

export const DATA_CONFIGURATION = {
  type: 'object',
  fields: {
    compression: { type: 'string', enum: COMPRESSIONS_DATA },
    encryption: { type: 'string', enum: ENCRYPTIONS },
    jobs: { type: 'integer', minimum: 1 },
    immediateCheckpoint: bool,
    additionalCommandArgs: { type: 'stringList' },
    restoreAdditionalCommandArgs: { type: 'stringList' },
  },
} as const satisfies FieldSchema;

/** BarmanObjectStoreConfiguration (Cluster spec.backup.barmanObjectStore, externalClusters[], ObjectStore spec.configuration). */
export const BARMAN_OBJECT_STORE = {
  type: 'object',
  fields: {
    destinationPath: { type: 'string', required: true, minLength: 1 },
    endpointURL: str,
    endpointCA: SECRET_KEY_SELECTOR,
    serverName: str,
    s3Credentials: S3_CREDENTIALS,
    azureCredentials: AZURE_CREDENTIALS,
    googleCredentials: GOOGLE_CREDENTIALS,
    wal: WAL_CONFIGURATION,
    data: DATA_CONFIGURATION,
    tags: { type: 'stringMap' },
    historyTags: { type: 'stringMap' },
  },
} as const satisfies FieldSchema;

/** core/v1 EnvVar, as much as pgstow resolves: a literal value or a Secret key. */
export const ENV_VAR = {
  type: 'object',
  open: true,
  fields: {
    name: { type: 'string', required: true, minLength: 1 },
    value: str,
    valueFrom: { type: 'object', open: true, fields: { secretKeyRef: SECRET_KEY_SELECTOR } },
  },
} as const satisfies FieldSchema;

export const RECOVERY_TARGET = {
  type: 'object',
  fields: {
    backupID: str,
    targetTLI: str,
    targetXID: str,
    targetName: str,
    targetLSN: str,
    targetTime: str,
    targetImmediate: bool,
    exclusive: bool,
  },
} as const satisfies FieldSchema;

const METADATA = {
  type: 'object',
  open: true,
  fields: {
    name: str,
    namespace: str,
    labels: { type: 'stringMap' },
    annotations: { type: 'stringMap' },
  },
} as const satisfies FieldSchema;

/** The parts of a postgresql.cnpg.io/v1 Cluster pgstow reads; everything else in the spec is left alone. */
export const CLUSTER = {
  type: 'object',
  open: true,
  fields: {
    metadata: METADATA,
    spec: {
      type: 'object',
      open: true,
      fields: {
        env: { type: 'list', items: ENV_VAR },
        serviceAccountTemplate: { type: 'object', open: true, fields: { metadata: METADATA } },
        backup: {
          type: 'object',
          open: true,
          fields: {
            barmanObjectStore: BARMAN_OBJECT_STORE,
            retentionPolicy: { type: 'string', pattern: RETENTION_POLICY_PATTERN },
            target: { type: 'string', enum: ['primary', 'prefer-standby'] },
          },
        },
        externalClusters: {
          type: 'list',
          items: {
            type: 'object',
            open: true,
            fields: { name: { type: 'string', required: true, minLength: 1 }, barmanObjectStore: BARMAN_OBJECT_STORE },
          },
        },
        bootstrap: {
          type: 'object',
          open: true,
          fields: {
            recovery: {
              type: 'object',
              open: true,
              fields: {
                source: str,
                backup: { type: 'object', open: true, fields: { name: { type: 'string', required: true } } },
                volumeSnapshots: { type: 'object', open: true, fields: {} },
                recoveryTarget: RECOVERY_TARGET,
              },
            },
          },
        },
        plugins: {
          type: 'list',
          items: {
            type: 'object',
            open: true,
            fields: { name: { type: 'string', required: true }, isWALArchiver: bool, parameters: { type: 'stringMap' } },
          },
        },
      },
    },
  },
} as const satisfies FieldSchema;

/** barmancloud.cnpg.io/v1 ObjectStore (plugin-barman-cloud). */
export const OBJECT_STORE = {
  type: 'object',
  open: true,
  fields: {
    metadata: METADATA,
    spec: {
      type: 'object',
      required: true,
      fields: {
        configuration: { ...BARMAN_OBJECT_STORE, required: true },
        retentionPolicy: { type: 'string', pattern: RETENTION_POLICY_PATTERN },
        instanceSidecarConfiguration: {
          type: 'object',
          open: true,
          fields: { env: { type: 'list', items: ENV_VAR }, retentionPolicyIntervalSeconds: { type: 'integer', minimum: 1 } },
        },
      },
    },
  },
} as const satisfies FieldSchema;

export type SecretKeySelector = Infer<typeof SECRET_KEY_SELECTOR>;
export type S3Credentials = Infer<typeof S3_CREDENTIALS>;
export type AzureCredentials = Infer<typeof AZURE_CREDENTIALS>;
export type GoogleCredentials = Infer<typeof GOOGLE_CREDENTIALS>;
export type WalBackupConfiguration = Infer<typeof WAL_CONFIGURATION>;
export type DataBackupConfiguration = Infer<typeof DATA_CONFIGURATION>;
export type BarmanObjectStoreConfiguration = Infer<typeof BARMAN_OBJECT_STORE>;
export type EnvVar = Infer<typeof ENV_VAR>;
export type RecoveryTarget = Infer<typeof RECOVERY_TARGET>;
export type ClusterManifest = Infer<typeof CLUSTER>;
export type ObjectStoreManifest = Infer<typeof OBJECT_STORE>;

export const CLUSTER_API_VERSION = 'postgresql.cnpg.io/v1';
export const OBJECT_STORE_API_VERSION = 'barmancloud.cnpg.io/v1';
export const BARMAN_PLUGIN_NAME = 'barman-cloud.cloudnative-pg.io';
