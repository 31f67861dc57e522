/**
 * barman-cloud-backup / pgstow backup: parse Barman's options, open the store, run takeBackup, print the
 * summary. Exit codes as barman-cloud-backup: 0 done, 1 backup failed (backup.info says FAILED) or cannot
 * connect to PostgreSQL, 2 store unreachable, 3 bad arguments, 4 anything else.
 */
import type { OptionSpec } from '../args.js';
import { parseSize } from '../args.js';
import type { Command, CommandContext } from '../command.js';
import { COMMON_OPTIONS, EXIT_CODES_EPILOG, destinationOf, memoryBudgetOf, storeOptionsFromArgs } from '../common-options.js';
import { pacedBudget } from '../../gc-pacer.js';
import { composeStoreFromOptions } from '../../app/compose.js';
import { ExitCode, PgstowError, UsageError } from '../../errors.js';
import type { BackupCompression } from '../../domain/backup/backup-manifest.js';
import { resolveConnection } from '../../postgres/connection-options.js';
import { takeBackup } from '../../services/take-backup.js';
import { formatBytes, ProgressReporter } from '../progress.js';
import { assertTagLimits } from '../../storage/object-tags.js';

const OPTIONS: readonly OptionSpec[] = [
  ...COMMON_OPTIONS,
  { dest: 'gzip', flags: ['-z', '--gzip'], type: 'flag', help: 'gzip-compress the backup while uploading to the cloud', exclusiveGroup: 'compression' },
  { dest: 'bzip2', flags: ['-j', '--bzip2'], type: 'flag', help: 'bzip2-compress the backup while uploading to the cloud', exclusiveGroup: 'compression' },
  { dest: 'snappy', flags: ['--snappy'], type: 'flag', help: 'snappy-compress the backup while uploading to the cloud', exclusiveGroup: 'compression' },
  { dest: 'lz4', flags: ['--lz4'], type: 'flag', help: '(pgstow) lz4-compress the backup (barman-cloud cannot restore it)', exclusiveGroup: 'compression' },
  { dest: 'zstd', flags: ['--zstd'], type: 'flag', help: '(pgstow) zstd-compress the backup (barman-cloud cannot restore it)', exclusiveGroup: 'compression' },
  { dest: 'compressionLevel', flags: ['--compression-level'], type: 'int', metavar: 'LEVEL', help: 'compression level (gzip default 6)' },
  { dest: 'host', flags: ['-h', '--host'], type: 'string', help: 'host or Unix socket for PostgreSQL connection (default: libpq settings)' },
  { dest: 'port', flags: ['-p', '--port'], type: 'string', help: 'port for PostgreSQL connection (default: libpq settings)' },
  { dest: 'user', flags: ['-U', '--user'], type: 'string', help: 'user name for PostgreSQL connection (default: libpq settings)' },
  { dest: 'dbname', flags: ['-d', '--dbname'], type: 'string', help: 'Database name or conninfo string for Postgres connection (default: postgres)' },
  { dest: 'immediateCheckpoint', flags: ['--immediate-checkpoint'], type: 'flag', help: 'forces the initial checkpoint to be done as quickly as possible' },
  { dest: 'jobs', flags: ['-J', '--jobs'], type: 'int', help: 'number of archives and parts uploaded at once (default: 2)' },
  { dest: 'maxArchiveSize', flags: ['-S', '--max-archive-size'], type: 'string', metavar: 'MAX_ARCHIVE_SIZE', help: 'maximum size of an archive when uploading to cloud storage (default: 100GB)' },
  { dest: 'minChunkSize', flags: ['--min-chunk-size'], type: 'string', metavar: 'MIN_CHUNK_SIZE', help: 'minimum size of an individual chunk when uploading to cloud storage' },
  { dest: 'maxBandwidth', flags: ['--max-bandwidth'], type: 'string', metavar: 'MAX_BANDWIDTH', help: 'maximum upload bandwidth per archive stream (e.g. 10MB for 10 MiB/s)' },
  { dest: 'backupName', flags: ['-n', '--name'], type: 'string', metavar: 'BACKUP_NAME', help: 'a name which can be used to reference this backup in commands such as barman-cloud-restore and barman-cloud-backup-delete' },
  { dest: 'orphanAge', flags: ['--orphan-age'], type: 'int', metavar: 'SECONDS',
    help: '(pgstow) remove unfinished uploads, backups without backup.info and FAILED backups untouched for this long (default 86400)' },
  { dest: 'tags', flags: ['--tags'], type: 'list', metavar: 'KEY,VALUE', help: 'tags to be added to all uploaded files in cloud storage' },
  { dest: 'encryption', flags: ['-e', '--encryption'], type: 'string', choices: ['AES256', 'aws:kms'], help: "the encryption algorithm used when storing the uploaded data in S3: 'AES256'|'aws:kms'" },
  { dest: 'sseKmsKeyId', flags: ['--sse-kms-key-id'], type: 'string', metavar: 'SSE_KMS_KEY_ID', help: 'the AWS KMS key ID used with --encryption aws:kms' },
  { dest: 'encryptionScope', flags: ['--encryption-scope'], type: 'string', metavar: 'ENCRYPTION_SCOPE', help: 'the name of an encryption scope defined in the Azure Blob Storage service' },
  { dest: 'kmsKeyName', flags: ['--kms-key-name'], type: 'string', metavar: 'KMS_KEY_NAME', help: 'the name of the Google Cloud KMS key used to encrypt the uploaded data' },
  { dest: 'progress', flags: ['--progress'], type: 'string', choices: ['auto', 'bar', 'log', 'off'], help: '(pgstow) progress display on stderr (default auto: a bar on a terminal, log lines otherwise)' },
  { dest: 'snapshotInstance', flags: ['--snapshot-instance'], type: 'string', help: 'snapshot backups are not supported by pgstow', hidden: true },
  { dest: 'snapshotDisk', flags: ['--snapshot-disk'], type: 'multi', help: 'snapshot backups are not supported by pgstow', hidden: true },
  { dest: 'snapshotZone', flags: ['--snapshot-zone'], type: 'string', help: 'snapshot backups are not supported by pgstow', hidden: true },
  { dest: 'snapshotGcpProject', flags: ['--snapshot-gcp-project'], type: 'string', help: 'snapshot backups are not supported by pgstow', hidden: true },
];

const RESERVED_NAMES = new Set(['latest', 'last', 'oldest', 'first', 'last-failed']);

/** Barman's check_backup_name. */
export function checkBackupName(name: string): string {
  if (name === '') throw new UsageError('argument -n/--name: Backup name cannot be empty');
  if (/^\d{8}T\d{6}$/.test(name)) throw new UsageError(`argument -n/--name: Backup name '${name}' is not allowed: backup ID`);
  if (RESERVED_NAMES.has(name)) throw new UsageError(`argument -n/--name: Backup name '${name}' is not allowed: reserved word`);
  if (/[\r\n]/.test(name)) throw new UsageError('argument -n/--name: Backup name cannot contain a line break');
  return name;
}

/** Barman's --tags: each value is a "key,value" CSV pair. */
export function parseTags(values: readonly string[] | undefined): Record<string, string> | undefined {
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

function compressionOf(o: Record<string, unknown>): BackupCompression {
  if (o.gzip) return 'gzip';
  if (o.bzip2) return 'bzip2';
  if (o.snappy) return 'snappy';
  if (o.lz4) return 'lz4';
  if (o.zstd) return 'zstd';
  return 'none';
}

export const command: Command = {
  spec: (name) => ({
    name,
    summary: 'Take a base backup of a local PostgreSQL server and ship the tar archives to an object store.',
    positionals: [
      { name: 'destinationUrl', help: 'URL of the cloud destination, such as a bucket in AWS S3. For example: s3://bucket/path/to/folder' },
      { name: 'serverName', help: 'the name of the server as configured in Barman' },
    ],
    options: OPTIONS,
    epilog: EXIT_CODES_EPILOG,
  }),

  async run(args, ctx: CommandContext) {
    const o = args.options;
    if (o.snapshotInstance || o.snapshotDisk || o.snapshotZone || o.snapshotGcpProject) {
      throw new PgstowError('ERR_UNSUPPORTED', ExitCode.GENERAL, 'snapshot backups (--snapshot-*) are not supported by pgstow');
    }
    const jobs = (o.jobs as number | undefined) ?? 2;
    if (jobs < 1) throw new UsageError(`argument -J/--jobs: ${jobs} is not a positive integer`);
    const backupName = o.backupName === undefined ? undefined : checkBackupName(o.backupName as string);
    let maxArchiveSize = parseSize((o.maxArchiveSize as string | undefined) ?? '100GB', 'max archive size');
    if (maxArchiveSize > 1024 ** 4) {
      ctx.log.warning('max archive size is above the 1 TiB limit: using 1 TiB');
      maxArchiveSize = 1024 ** 4;
    }
    const minChunkSize = o.minChunkSize === undefined ? undefined : parseSize(o.minChunkSize as string, 'min chunk size');
    const maxBandwidth = o.maxBandwidth === undefined ? undefined : parseSize(o.maxBandwidth as string, 'max bandwidth');
    const tags = parseTags(o.tags as string[] | undefined);
    const compression = compressionOf(o);
    const { url, serverName } = destinationOf(args);
    const storeOptions = storeOptionsFromArgs(args, ctx.env, url);
    if (o.sseKmsKeyId && o.encryption !== 'aws:kms') {
      throw new PgstowError('ERR_OPTION_CONFLICT', ExitCode.GENERAL, '--sse-kms-key-id can only be used with --encryption aws:kms');
    }
    if (storeOptions.s3) {
      if (o.encryption) storeOptions.s3.encryption = o.encryption as 'AES256' | 'aws:kms';
      if (o.sseKmsKeyId) storeOptions.s3.sseKmsKeyId = o.sseKmsKeyId as string;
      storeOptions.s3.uploadConcurrency = jobs;
      // With --min-chunk-size, Barman's chunk size: max(2 × max-archive-size / 10000 parts, 5 MiB, the option).
      // Otherwise the driver sizes parts from the expected volume size (smaller parts, less memory).
      if (minChunkSize !== undefined) storeOptions.s3.partSize = Math.max(2 * Math.floor(maxArchiveSize / 10000), 5 * 1024 * 1024, minChunkSize);
    }
    if (storeOptions.azure) {
      if (o.encryptionScope) storeOptions.azure.encryptionScope = o.encryptionScope as string;
      storeOptions.azure.maxConcurrency = jobs;
      if (minChunkSize !== undefined) storeOptions.azure.maxBlockSize = Math.max(2 * Math.floor(maxArchiveSize / 50000), 64 * 1024, minChunkSize);
    }
    if (storeOptions.gcs && o.kmsKeyName) storeOptions.gcs.kmsKeyName = o.kmsKeyName as string;
    const connection = resolveConnection({
      ...(o.host !== undefined ? { host: o.host as string } : {}),
      ...(o.port !== undefined ? { port: o.port as string } : {}),
      ...(o.user !== undefined ? { user: o.user as string } : {}),
      ...(o.dbname !== undefined ? { dbname: o.dbname as string } : {}),
    }, ctx.env);

    const stderr = ctx.stderr as typeof ctx.stderr & { isTTY?: boolean };
    const progressMode = ((o.progress as string | undefined) ?? 'auto') === 'auto'
      ? (stderr.isTTY ? 'bar' : 'log')
      : (o.progress as 'bar' | 'log' | 'off');
    // Barman-mode default logging is WARNING: keep progress log lines for -v or explicit --progress log.
    const effectiveMode = progressMode === 'log' && ctx.log.level !== 'debug' && ctx.log.level !== 'info' && o.progress === undefined ? 'off' : progressMode;
    const progress = new ProgressReporter(stderr, ctx.log, effectiveMode);

    const { budget: memory, stop: stopPacer } = pacedBudget(memoryBudgetOf(args, ctx.env));
    const composed = await composeStoreFromOptions(storeOptions, serverName).catch((err: unknown) => { stopPacer(); throw err; });
    try {
      if (o.test) {
        for await (const entry of composed.store.list(composed.layout.basePrefix, { delimiter: '/' })) { void entry; break; }
        return ExitCode.OK;
      }
      const result = await takeBackup({ store: composed.store, layout: composed.layout }, {
        connection, compression, jobs, maxArchiveSize, memory, log: ctx.log, signal: ctx.signal,
        immediateCheckpoint: Boolean(o.immediateCheckpoint),
        ...(o.compressionLevel !== undefined ? { compressionLevel: o.compressionLevel as number } : {}),
        ...(backupName !== undefined ? { name: backupName } : {}),
        ...(maxBandwidth !== undefined ? { maxBandwidth } : {}),
        ...(tags ? { tags } : {}),
        ...(typeof o.orphanAge === 'number' && o.orphanAge >= 0 ? { garbageAgeMs: o.orphanAge * 1000 } : {}), removeFailed: !ctx.barmanMode,
        onProgress: (p) => progress.update(p),
      });
      progress.finish();
      const s = result.stats;
      const mbps = s.tarBytes / 1e6 / Math.max(s.seconds, 0.001);
      const summary = `backup ${result.backupId}${backupName ? ` (${backupName})` : ''} done: ${formatBytes(s.tarBytes)} in ${s.objects} archive(s), ${formatBytes(s.storedBytes)} stored`
        + ` (${compression}), ${s.seconds.toFixed(1)} s, ${mbps.toFixed(1)} MB/s; WAL ${result.info.beginWal} .. ${result.info.endWal}`;
      if (ctx.barmanMode) ctx.log.info(summary);
      else ctx.stderr.write(`${summary}\n`);
      return ExitCode.OK;
    } finally {
      stopPacer();
      progress.finish();
      await composed.store.close();
    }
  },
};
