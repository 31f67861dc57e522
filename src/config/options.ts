/**
 * The one option table: every command-line option of every command, with the EngineSettings field it sets
 * and, where CloudNativePG has the same setting, the field of the store configuration (barmanObjectStore /
 * ObjectStore spec.configuration) that sets it. The CLI builds its command specs and --help from it;
 * settingsFromCli() applies flags through it and settingsFromObjectStore() applies manifest fields through it,
 * so a flag and its manifest field cannot drift apart. Options without `setting` are per-call (a backup's
 * name, a restore target) or belong to the CLI itself (verbosity, --config).
 */
import { UsageError } from '../errors.js';
import { parseSize, type OptionSpec } from './argv.js';
import { assertSegmentSize } from '../domain/wal/wal-file-name.js';
import { assertTagLimits } from '../storage/object-tags.js';

export type CommandName =
  | 'wal-archive' | 'wal-restore' | 'backup' | 'restore' | 'backup-list' | 'backup-show' | 'backup-delete'
  | 'backup-keep' | 'check-wal-archive' | 'check-store' | 'config' | 'demo';

/** A dotted path into EngineSettings, e.g. "wal.compression". */
export type SettingsPath = string;

export interface SettingTarget {
  path: SettingsPath;
  /** A fixed value (flags such as --gzip); otherwise the option's value, through `parse` when given. */
  value?: unknown;
  parse?: (value: unknown, flag: string) => unknown;
}

export interface OptionDef extends OptionSpec {
  /** Where the value goes in EngineSettings: for every command, or per command. */
  setting?: SettingTarget | Partial<Record<CommandName, SettingTarget>>;
  /** The CloudNativePG store-configuration field that gives the same setting (e.g. "wal.maxParallel"). */
  manifest?: string;
}

const positiveInt = (what: string) => (v: unknown): number => {
  const n = v as number;
  if (!(n >= 1)) throw new UsageError(`argument ${what}: must be a positive integer`);
  return n;
};
const size = (what: string) => (v: unknown): number => parseSize(v as string, what);

/** Barman's --tags items are CSV "key,value" (quoting allowed); --tag splits at the first comma. */
export function parseTags(items: readonly string[] | undefined, flag: string, csv: boolean): Record<string, string> | undefined {
  if (!items || items.length === 0) return undefined;
  const tags: Record<string, string> = {};
  for (const item of items) {
    const fields = csv ? splitCsv(item) : splitFirstComma(item);
    if (!fields || fields.length !== 2 || fields[0] === '') throw new UsageError(`argument ${flag}: invalid tag '${item}' (expected key,value)`);
    tags[fields[0] as string] = fields[1] as string;
  }
  assertTagLimits(tags, flag);
  return tags;
}

function splitFirstComma(s: string): string[] | undefined {
  const i = s.indexOf(',');
  return i < 0 ? undefined : [s.slice(0, i), s.slice(i + 1)];
}

function splitCsv(s: string): string[] | undefined {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] as string;
    if (quoted) {
      if (ch === '"' && s[i + 1] === '"') { cur += '"'; i++; } else if (ch === '"') quoted = false; else cur += ch;
    } else if (ch === '"' && cur === '') quoted = true;
    else if (ch === ',') { out.push(cur); cur = ''; } else cur += ch;
  }
  if (quoted) return undefined;
  out.push(cur);
  return out;
}

/** barman-cloud-backup's --tags: each value is one "key,value" CSV pair. */
export function parseBackupTags(values: readonly string[] | undefined): Record<string, string> | undefined {
  if (!values || values.length === 0) return undefined;
  const tags: Record<string, string> = {};
  for (const v of values) {
    const m = /^("(?:[^"]|"")*"|[^,]*),("(?:[^"]|"")*"|[^,]*)$/.exec(v);
    if (!m) throw new UsageError(`argument --tags: invalid tag '${v}' (expected KEY,VALUE)`);
    const unq = (s: string): string => (s.startsWith('"') ? s.slice(1, -1).replace(/""/g, '"') : s);
    const key = unq(m[1] as string);
    if (!key) throw new UsageError(`argument --tags: invalid tag '${v}' (empty key)`);
    tags[key] = unq(m[2] as string);
  }
  assertTagLimits(tags, '--tags');
  return tags;
}

function compressionLevel(v: unknown): 'low' | 'medium' | 'high' | number {
  const t = String(v).trim().toLowerCase();
  if (t === 'low' || t === 'medium' || t === 'high') return t;
  if (/^-?\d+$/.test(t)) return Number(t);
  throw new UsageError(`argument --compression-level: invalid value '${String(v)}' (low, medium, high or an integer)`);
}

// ---------------------------------------------------------------------------------------------------------
// Options every command takes (barman/clients/cloud_cli.py), plus pgstow's own.

export const COMMON_OPTIONS: readonly OptionDef[] = [
  { dest: 'version', flags: ['-V', '--version'], type: 'flag', help: 'show program\'s version number and exit' },
  { dest: 'help', flags: ['--help'], type: 'flag', help: 'show this help message and exit' },
  { dest: 'verbose', flags: ['-v', '--verbose'], type: 'count', help: 'increase output verbosity (e.g., -vv is more than -v)', exclusiveGroup: 'verbosity' },
  { dest: 'quiet', flags: ['-q', '--quiet'], type: 'count', help: 'decrease output verbosity (e.g., -qq is less than -q)', exclusiveGroup: 'verbosity' },
  { dest: 'test', flags: ['-t', '--test'], type: 'flag', help: 'test cloud connectivity and exit' },
  { dest: 'cloudProvider', flags: ['--cloud-provider'], type: 'string', choices: ['aws-s3', 'azure-blob-storage', 'google-cloud-storage', 'file'],
    help: 'the cloud provider (default: from the URL scheme; aws-s3 for s3://)', setting: { path: 'provider' } },
  { dest: 'endpointUrl', flags: ['--endpoint-url'], type: 'string', metavar: 'URL', help: 'override default S3 endpoint URL with the given one',
    setting: { path: 'endpointUrl' }, manifest: 'endpointURL' },
  // Credentials and the CA: settingsFromCli() turns these, with the environment, into typed credentials.
  { dest: 'awsProfile', flags: ['-P', '--aws-profile', '--profile'], type: 'string', metavar: 'AWS_PROFILE', help: 'profile name (e.g. INI section in AWS credentials file)' },
  { dest: 'readTimeout', flags: ['--read-timeout'], type: 'int', metavar: 'SECONDS', help: 'the time in seconds until a timeout is raised when waiting to read from a connection (default 60)',
    setting: { path: 'readTimeoutSeconds' } },
  { dest: 'azureCredential', flags: ['--azure-credential', '--credential'], type: 'string', choices: ['azure-cli', 'managed-identity', 'default'],
    help: 'optionally specify the type of credential to use when authenticating with Azure' },
  { dest: 'endpointCa', flags: ['--endpoint-ca'], type: 'string', metavar: 'FILE', help: '(pgstow) PEM file with CA certificates trusted in addition to the system roots' },
  { dest: 'addressingStyle', flags: ['--s3-addressing-style'], type: 'string', choices: ['auto', 'path', 'virtual'], help: '(pgstow) S3 addressing style (default auto: path when --endpoint-url is set)',
    setting: { path: 's3.addressingStyle' } },
  { dest: 'config', flags: ['--config'], type: 'string', metavar: 'FILE', help: '(pgstow) CloudNativePG Cluster or ObjectStore manifest to read settings from (also PGSTOW_CONFIG)' },
  { dest: 'secrets', flags: ['--secrets'], type: 'multi', metavar: 'FILE', help: '(pgstow) YAML file with Secret manifests for --config (repeatable; also PGSTOW_SECRETS, ":"-separated)' },
  { dest: 'secretsDir', flags: ['--secrets-dir'], type: 'string', metavar: 'DIR', help: '(pgstow) Secrets mounted as DIR/<secret>/<key>, as Kubernetes mounts them (also PGSTOW_SECRETS_DIR)' },
  { dest: 'kubernetes', flags: ['--kubernetes-secrets'], type: 'string', choices: ['auto', 'always', 'never'], help: '(pgstow) read Secrets from the Kubernetes API: auto = when a kubeconfig or in-cluster service account exists (also PGSTOW_KUBERNETES_SECRETS)' },
  { dest: 'source', flags: ['--source'], type: 'string', metavar: 'NAME', help: '(pgstow) with --config: use spec.externalClusters[NAME].barmanObjectStore (a restore source)' },
  { dest: 'serverName', flags: ['--server-name'], type: 'string', metavar: 'NAME', help: '(pgstow) with --config: the server name (needed for an ObjectStore not referenced by a Cluster)' },
  { dest: 'debug', flags: ['--debug'], type: 'flag', help: '(pgstow) print stack traces and error causes' },
  { dest: 'maxMemory', flags: ['--max-memory'], type: 'string', metavar: 'SIZE',
    help: '(pgstow) memory budget of this process, e.g. 100Mi or 1Gi (default 100Mi; also PGSTOW_MAX_MEMORY): part sizes, read-ahead and concurrency follow from it' },
];

// ---------------------------------------------------------------------------------------------------------
// WAL commands

const walCodec = (name: string, flags: string[]): OptionDef => ({
  dest: name, flags, type: 'flag', help: `${name}-compress the WAL while uploading to the cloud`, exclusiveGroup: 'compression',
  setting: { path: 'wal.compression', value: name },
});

export const WAL_COMPRESSION_OPTIONS: readonly OptionDef[] = [
  walCodec('gzip', ['-z', '--gzip']), walCodec('bzip2', ['-j', '--bzip2']), walCodec('xz', ['--xz']),
  walCodec('snappy', ['--snappy']), walCodec('zstd', ['--zstd']), walCodec('lz4', ['--lz4']),
  { dest: 'compressionLevel', flags: ['--compression-level'], type: 'string', metavar: 'LEVEL',
    help: 'compression level: low, medium (default), high, or an integer for the chosen algorithm', setting: { path: 'wal.compressionLevel', parse: compressionLevel } },
  // The manifest's wal.compression is one enum, where the command line has one flag per codec.
  { dest: 'walCompression', flags: [], type: 'string', hidden: true, help: 'wal.compression', setting: { path: 'wal.compression' }, manifest: 'wal.compression' },
];

export const WAL_UPLOAD_OPTIONS: readonly OptionDef[] = [
  { dest: 'tags', flags: ['--tags'], type: 'list', metavar: 'KEY,VALUE', help: 'tags to add to archived WAL files in cloud storage', exclusiveGroup: 'tags',
    setting: { path: 'tags', parse: (v) => parseTags(v as string[], '--tags', true) }, manifest: 'tags' },
  { dest: 'tag', flags: ['--tag'], type: 'multi', metavar: 'KEY,VALUE', help: 'a tag to add to archived WAL files (repeatable)', exclusiveGroup: 'tags',
    setting: { path: 'tags', parse: (v) => parseTags(v as string[], '--tag', false) } },
  { dest: 'historyTags', flags: ['--history-tags'], type: 'list', metavar: 'KEY,VALUE', help: 'tags to add to history files in cloud storage', exclusiveGroup: 'htags',
    setting: { path: 'historyTags', parse: (v) => parseTags(v as string[], '--history-tags', true) }, manifest: 'historyTags' },
  { dest: 'historyTag', flags: ['--history-tag'], type: 'multi', metavar: 'KEY,VALUE', help: 'a tag to add to history files (repeatable)', exclusiveGroup: 'htags',
    setting: { path: 'historyTags', parse: (v) => parseTags(v as string[], '--history-tag', false) } },
  { dest: 'encryption', flags: ['-e', '--encryption'], type: 'string', choices: ['AES256', 'aws:kms'], help: 'the encryption algorithm used when storing the uploaded data in S3',
    setting: { path: 'wal.encryption' }, manifest: 'wal.encryption' },
  { dest: 'sseKmsKeyId', flags: ['--sse-kms-key-id'], type: 'string', metavar: 'ID', help: 'the AWS KMS key ID used for server-side encryption (with --encryption aws:kms)', setting: { path: 's3.sseKmsKeyId' } },
  { dest: 'encryptionScope', flags: ['--encryption-scope'], type: 'string', metavar: 'SCOPE', help: 'the name of an encryption scope defined in the Azure Blob Storage service', setting: { path: 'azure.encryptionScope' } },
  { dest: 'kmsKeyName', flags: ['--kms-key-name'], type: 'string', metavar: 'NAME', help: 'the name of the GCP KMS key used for encryption', setting: { path: 'gcs.kmsKeyName' } },
  { dest: 'maxBlockSize', flags: ['--max-block-size'], type: 'string', metavar: 'SIZE', help: 'Azure: the chunk size used to upload blocks (default 4MB)',
    setting: { path: 'azure.maxBlockSize', parse: size('--max-block-size') } },
  { dest: 'maxConcurrency', flags: ['--max-concurrency'], type: 'int', metavar: 'N', help: 'Azure: parallel connections used to upload one file (default 1)',
    setting: { path: 'azure.maxConcurrency', parse: positiveInt('--max-concurrency') } },
  { dest: 'maxSinglePutSize', flags: ['--max-single-put-size'], type: 'string', metavar: 'SIZE', help: 'Azure: largest file uploaded in one request (default 64MB)',
    setting: { path: 'azure.maxSinglePutSize', parse: size('--max-single-put-size') } },
];

export const WAL_PARALLEL_OPTIONS: readonly OptionDef[] = [
  { dest: 'maxParallel', flags: ['--max-parallel'], type: 'int', metavar: 'N',
    help: '(pgstow) handle this file plus up to N-1 others in one call (CloudNativePG wal.maxParallel; default 1)',
    setting: { path: 'wal.maxParallel', parse: positiveInt('--max-parallel') }, manifest: 'wal.maxParallel' },
  { dest: 'spoolDir', flags: ['--spool-dir'], type: 'string', metavar: 'DIR',
    help: '(pgstow) spool directory for --max-parallel (default $PGSTOW_SPOOL_DIR or <tmp>/pgstow, per destination and server)' },
];

export const WAL_RESTORE_OPTIONS: readonly OptionDef[] = [
  { dest: 'noPartial', flags: ['--no-partial'], type: 'flag', help: 'do not download partial WAL files' },
  ...WAL_PARALLEL_OPTIONS,
  { dest: 'walSegmentSize', flags: ['--wal-segment-size'], type: 'string', metavar: 'SIZE',
    help: '(pgstow) WAL segment size for prefetching (default: learned from the first restored segment)',
    setting: { path: 'wal.segmentSize', parse: (v) => { const n = parseSize(v as string, '--wal-segment-size'); assertSegmentSize(n); return n; } } },
];

// ---------------------------------------------------------------------------------------------------------
// Base backups

const dataCodec = (name: string, flags: string[], help: string): OptionDef => ({
  dest: name, flags, type: 'flag', help, exclusiveGroup: 'compression', setting: { path: 'data.compression', value: name },
});

export const BACKUP_OPTIONS: readonly OptionDef[] = [
  dataCodec('gzip', ['-z', '--gzip'], 'gzip-compress the backup while uploading to the cloud'),
  dataCodec('bzip2', ['-j', '--bzip2'], 'bzip2-compress the backup while uploading to the cloud'),
  dataCodec('snappy', ['--snappy'], 'snappy-compress the backup while uploading to the cloud'),
  dataCodec('lz4', ['--lz4'], 'lz4-compress the backup while uploading to the cloud (Barman 3.19 restores it, 3.4 cannot)'),
  dataCodec('zstd', ['--zstd'], '(pgstow) zstd-compress the backup (no Barman restores it)'),
  { dest: 'dataCompression', flags: [], type: 'string', hidden: true, help: 'data.compression', setting: { path: 'data.compression' }, manifest: 'data.compression' },
  { dest: 'compressionLevel', flags: ['--compression-level'], type: 'int', metavar: 'LEVEL', help: 'compression level (gzip default 6)', setting: { path: 'data.compressionLevel' } },
  { dest: 'host', flags: ['-h', '--host'], type: 'string', help: 'host or Unix socket for PostgreSQL connection (default: libpq settings)', setting: { path: 'postgres.host' } },
  { dest: 'port', flags: ['-p', '--port'], type: 'string', help: 'port for PostgreSQL connection (default: libpq settings)', setting: { path: 'postgres.port' } },
  { dest: 'user', flags: ['-U', '--user'], type: 'string', help: 'user name for PostgreSQL connection (default: libpq settings)', setting: { path: 'postgres.user' } },
  { dest: 'dbname', flags: ['-d', '--dbname'], type: 'string', help: 'Database name or conninfo string for Postgres connection (default: postgres)', setting: { path: 'postgres.dbname' } },
  { dest: 'immediateCheckpoint', flags: ['--immediate-checkpoint'], type: 'flag', help: 'forces the initial checkpoint to be done as quickly as possible',
    setting: { path: 'data.immediateCheckpoint' }, manifest: 'data.immediateCheckpoint' },
  { dest: 'jobs', flags: ['-J', '--jobs'], type: 'int', help: 'number of archives and parts uploaded at once (default: 2)',
    setting: { path: 'data.jobs', parse: (v) => { if (!((v as number) >= 1)) throw new UsageError(`argument -J/--jobs: ${String(v)} is not a positive integer`); return v; } }, manifest: 'data.jobs' },
  { dest: 'maxArchiveSize', flags: ['-S', '--max-archive-size'], type: 'string', metavar: 'MAX_ARCHIVE_SIZE', help: 'maximum size of an archive when uploading to cloud storage (default: 100GB)',
    setting: { path: 'data.maxArchiveSize', parse: size('max archive size') } },
  { dest: 'minChunkSize', flags: ['--min-chunk-size'], type: 'string', metavar: 'MIN_CHUNK_SIZE', help: 'minimum size of an individual chunk when uploading to cloud storage',
    setting: { path: 'data.minChunkSize', parse: size('min chunk size') } },
  { dest: 'maxBandwidth', flags: ['--max-bandwidth'], type: 'string', metavar: 'MAX_BANDWIDTH', help: 'maximum upload bandwidth per archive stream (e.g. 10MB for 10 MiB/s)',
    setting: { path: 'data.maxBandwidth', parse: size('max bandwidth') } },
  { dest: 'backupName', flags: ['-n', '--name'], type: 'string', metavar: 'BACKUP_NAME', help: 'a name which can be used to reference this backup in commands such as barman-cloud-restore and barman-cloud-backup-delete' },
  { dest: 'orphanAge', flags: ['--orphan-age'], type: 'int', metavar: 'SECONDS',
    help: '(pgstow) remove unfinished uploads, backups without backup.info and FAILED backups untouched for this long (default 86400)' },
  { dest: 'tags', flags: ['--tags'], type: 'list', metavar: 'KEY,VALUE', help: 'tags to be added to all uploaded files in cloud storage',
    setting: { path: 'tags', parse: (v) => parseBackupTags(v as string[]) }, manifest: 'tags' },
  { dest: 'encryption', flags: ['-e', '--encryption'], type: 'string', choices: ['AES256', 'aws:kms'], help: "the encryption algorithm used when storing the uploaded data in S3: 'AES256'|'aws:kms'",
    setting: { path: 'data.encryption' }, manifest: 'data.encryption' },
  { dest: 'sseKmsKeyId', flags: ['--sse-kms-key-id'], type: 'string', metavar: 'SSE_KMS_KEY_ID', help: 'the AWS KMS key ID used with --encryption aws:kms', setting: { path: 's3.sseKmsKeyId' } },
  { dest: 'encryptionScope', flags: ['--encryption-scope'], type: 'string', metavar: 'ENCRYPTION_SCOPE', help: 'the name of an encryption scope defined in the Azure Blob Storage service', setting: { path: 'azure.encryptionScope' } },
  { dest: 'kmsKeyName', flags: ['--kms-key-name'], type: 'string', metavar: 'KMS_KEY_NAME', help: 'the name of the Google Cloud KMS key used to encrypt the uploaded data', setting: { path: 'gcs.kmsKeyName' } },
  { dest: 'progress', flags: ['--progress'], type: 'string', choices: ['auto', 'bar', 'log', 'off'], help: '(pgstow) progress display on stderr (default auto: a bar on a terminal, log lines otherwise)' },
  { dest: 'snapshotInstance', flags: ['--snapshot-instance'], type: 'string', help: 'snapshot backups are not supported by pgstow', hidden: true },
  { dest: 'snapshotDisk', flags: ['--snapshot-disk'], type: 'multi', help: 'snapshot backups are not supported by pgstow', hidden: true },
  { dest: 'snapshotZone', flags: ['--snapshot-zone'], type: 'string', help: 'snapshot backups are not supported by pgstow', hidden: true },
  { dest: 'snapshotGcpProject', flags: ['--snapshot-gcp-project'], type: 'string', help: 'snapshot backups are not supported by pgstow', hidden: true },
];

// ---------------------------------------------------------------------------------------------------------
// Restore

export const RESTORE_OPTIONS: ReadonlyArray<OptionDef & { pgstowOnly?: boolean }> = [
  { dest: 'tablespace', flags: ['--tablespace'], type: 'multi', metavar: 'NAME:LOCATION', help: 'tablespace relocation rule' },
  { dest: 'targetTli', flags: ['--target-tli'], type: 'string', metavar: 'TARGET_TLI', help: 'the target timeline (a number, current or latest); chooses the backup with BACKUP_ID auto' },
  { dest: 'targetLsn', flags: ['--target-lsn'], type: 'string', metavar: 'TARGET_LSN', help: 'the target LSN; with BACKUP_ID auto chooses the newest backup ending before it', exclusiveGroup: 'autoTarget' },
  { dest: 'targetTime', flags: ['--target-time'], type: 'string', metavar: 'TARGET_TIME', help: 'the target time; with BACKUP_ID auto chooses the newest backup ending before it', exclusiveGroup: 'autoTarget' },
  { dest: 'snapshotRecoveryInstance', flags: ['--snapshot-recovery-instance'], type: 'string', help: 'instance where the disks recovered from the snapshots are attached (snapshot backups are not supported by pgstow)' },
  { dest: 'snapshotRecoveryZone', flags: ['--snapshot-recovery-zone'], type: 'string', hidden: true, help: 'deprecated' },
  { dest: 'awsRegion', flags: ['--aws-region'], type: 'string', help: 'the AWS region of the snapshot recovery instance (snapshot backups only)' },
  { dest: 'gcpZone', flags: ['--gcp-zone'], type: 'string', help: 'zone of the snapshot recovery instance (snapshot backups only)' },
  { dest: 'azureResourceGroup', flags: ['--azure-resource-group'], type: 'string', help: 'resource group of the snapshot recovery instance (snapshot backups only)' },
  { dest: 'jobs', flags: ['-J', '--jobs'], type: 'int', metavar: 'JOBS', help: '(pgstow) objects downloaded and extracted at once (default 2)',
    setting: { path: 'data.jobs', parse: (v) => { if (!((v as number) >= 1)) throw new UsageError('argument --jobs: must be a positive number'); return v; } } },
  { dest: 'streams', flags: ['--streams'], type: 'int', metavar: 'N', help: '(pgstow) parallel ranged downloads per object (default 4)' },
  { dest: 'recoveryTargetTime', flags: ['--recovery-target-time'], type: 'string', metavar: 'TIME', help: '(pgstow) write recovery settings to stop at this time (no zone = UTC)', exclusiveGroup: 'recoveryTarget' },
  { dest: 'recoveryTargetLsn', flags: ['--recovery-target-lsn'], type: 'string', metavar: 'LSN', help: '(pgstow) write recovery settings to stop at this LSN', exclusiveGroup: 'recoveryTarget' },
  { dest: 'recoveryTargetXid', flags: ['--recovery-target-xid'], type: 'string', metavar: 'XID', help: '(pgstow) write recovery settings to stop at this transaction', exclusiveGroup: 'recoveryTarget' },
  { dest: 'recoveryTargetName', flags: ['--recovery-target-name'], type: 'string', metavar: 'NAME', help: '(pgstow) write recovery settings to stop at this restore point', exclusiveGroup: 'recoveryTarget' },
  { dest: 'recoveryTargetImmediate', flags: ['--recovery-target-immediate'], type: 'flag', help: '(pgstow) write recovery settings to stop as soon as the backup is consistent', exclusiveGroup: 'recoveryTarget' },
  { dest: 'recoveryTargetLatest', flags: ['--recovery-target-latest'], type: 'flag', help: '(pgstow) write recovery settings to replay every archived WAL', exclusiveGroup: 'recoveryTarget' },
  { dest: 'recoveryTargetTimeline', flags: ['--recovery-target-timeline'], type: 'string', metavar: 'TLI', help: '(pgstow) recovery_target_timeline: latest, current or a number' },
  { dest: 'recoveryTargetTimeline', flags: ['--target-timeline'], type: 'string', metavar: 'TLI', pgstowOnly: true, help: '(pgstow) alias of --recovery-target-timeline (not --target-tli, which only chooses the backup)' },
  { dest: 'recoveryTargetAction', flags: ['--recovery-target-action'], type: 'string', choices: ['promote', 'pause', 'shutdown'], help: '(pgstow) what PostgreSQL does at the target (default promote)' },
  { dest: 'recoveryTargetExclusive', flags: ['--recovery-target-exclusive'], type: 'flag', help: '(pgstow) stop just before the time/LSN/xid target instead of just after' },
  { dest: 'allowUnverified', flags: ['--allow-unverified'], type: 'flag',
    help: '(pgstow) restore a backup that cannot be verified (status not DONE, backup.info inconsistent or contradicting its manifest, manifest missing), with warnings' },
  { dest: 'restoreCommand', flags: ['--restore-command'], type: 'string', metavar: 'COMMAND', help: '(pgstow) restore_command to write instead of pgstow wal-restore with this command\'s destination and options' },
];

// ---------------------------------------------------------------------------------------------------------
// Catalog commands

export const FORMAT_OPTION: OptionDef = {
  dest: 'format', flags: ['--format'], type: 'string', metavar: 'FORMAT',
  help: "output format: 'console' (default) or 'json' (Barman: anything other than console is json)",
};

export const NO_WAL_OPTION: OptionDef = {
  dest: 'noWal', flags: ['--no-wal'], type: 'flag', help: '(pgstow) do not list the WAL archive (no recoverability window / continuity)',
};

export const BACKUP_DELETE_OPTIONS: readonly OptionDef[] = [
  { dest: 'backupId', flags: ['-b', '--backup-id'], type: 'string', metavar: 'BACKUP_ID', help: 'Backup ID (or name, or shortcut) of the backup to be deleted', exclusiveGroup: 'what' },
  { dest: 'retentionPolicy', flags: ['-r', '--retention-policy'], type: 'string', metavar: 'RETENTION_POLICY',
    help: 'delete all backups eligible for deletion according to the policy. Syntax: REDUNDANCY value | RECOVERY WINDOW OF value {DAYS | WEEKS | MONTHS} | 30d/4w/1m', exclusiveGroup: 'what' },
  { dest: 'minimumRedundancy', flags: ['-m', '--minimum-redundancy'], type: 'int', metavar: 'MINIMUM_REDUNDANCY', help: 'The minimum number of backups that should always be available.',
    setting: { path: 'minimumRedundancy', parse: (v) => { if ((v as number) < 0) throw new UsageError(`argument -m/--minimum-redundancy: ${String(v)} is not a non-negative integer`); return v; } } },
  { dest: 'dryRun', flags: ['--dry-run'], type: 'flag', help: 'Find the objects which need to be deleted but do not delete them' },
  { dest: 'batchSize', flags: ['--batch-size'], type: 'int', metavar: 'DELETE_BATCH_SIZE', help: 'The maximum number of objects to be deleted in a single request to the cloud provider' },
  { dest: 'checkObjectLock', flags: ['--check-object-lock'], type: 'flag', help: 'accepted for compatibility; pgstow reports a locked object as a failed delete' },
  { dest: 'orphanAge', flags: ['--orphan-age'], type: 'int', metavar: 'SECONDS',
    help: '(pgstow) remove unfinished uploads, backups without backup.info and FAILED backups untouched for this long (default 86400)' },
  FORMAT_OPTION,
];

export const BACKUP_KEEP_OPTIONS: readonly OptionDef[] = [
  { dest: 'release', flags: ['-r', '--release'], type: 'flag', help: 'If specified, the command will remove the keep annotation and the backup will be eligible for deletion', exclusiveGroup: 'keep' },
  { dest: 'status', flags: ['-s', '--status'], type: 'flag', help: 'Print the keep status of the backup', exclusiveGroup: 'keep' },
  { dest: 'target', flags: ['--target'], type: 'string', choices: ['full', 'standalone'], help: 'Specify the recovery target for this backup', exclusiveGroup: 'keep' },
];

export const CHECK_WAL_ARCHIVE_OPTIONS: readonly OptionDef[] = [
  { dest: 'timeline', flags: ['--timeline'], type: 'int', metavar: 'TIMELINE', help: 'the earliest timeline whose WALs should cause the check to fail' },
];

/** The options of each command, in --help order. */
export const COMMAND_OPTIONS: Readonly<Record<CommandName, readonly OptionDef[]>> = {
  'wal-archive': [...COMMON_OPTIONS, ...WAL_COMPRESSION_OPTIONS, ...WAL_UPLOAD_OPTIONS, ...WAL_PARALLEL_OPTIONS],
  'wal-restore': [...COMMON_OPTIONS, ...WAL_RESTORE_OPTIONS],
  'backup': [...COMMON_OPTIONS, ...BACKUP_OPTIONS],
  'restore': [...COMMON_OPTIONS, ...RESTORE_OPTIONS],
  'backup-list': [...COMMON_OPTIONS, FORMAT_OPTION, NO_WAL_OPTION],
  'backup-show': [...COMMON_OPTIONS, FORMAT_OPTION, NO_WAL_OPTION],
  'backup-delete': [...COMMON_OPTIONS, ...BACKUP_DELETE_OPTIONS],
  'backup-keep': [...COMMON_OPTIONS, ...BACKUP_KEEP_OPTIONS],
  'check-wal-archive': [...COMMON_OPTIONS, ...CHECK_WAL_ARCHIVE_OPTIONS],
  'check-store': COMMON_OPTIONS,
  'config': [...COMMON_OPTIONS, { dest: 'format', flags: ['--format'], type: 'string', choices: ['text', 'json'], help: 'output format (default text)' },
    { dest: 'objectStoreName', flags: ['--object-store-name'], type: 'string', metavar: 'NAME', help: 'migrate: name of the Cluster\'s ObjectStore (default <cluster>-store)' }],
  'demo': [
    ...COMMON_OPTIONS,
    { dest: 'keep', flags: ['--keep'], type: 'flag', help: 'keep the store and data directories (printed at the end)' },
    { dest: 'dir', flags: ['--dir'], type: 'string', metavar: 'DIR', help: 'parent directory for the demo files (default: the system temp directory)' },
    { dest: 'rows', flags: ['--rows'], type: 'int', metavar: 'N', help: 'rows in the first load (default 20000)' },
  ],
};

/** The setting an option sets for a command, if any. */
export function settingOf(o: OptionDef, command: CommandName): SettingTarget | undefined {
  const s = o.setting;
  if (!s) return undefined;
  if ('path' in s && typeof s.path === 'string') return s as SettingTarget;
  return (s as Partial<Record<CommandName, SettingTarget>>)[command];
}
