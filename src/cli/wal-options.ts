/**
 * Options shared by wal-archive and wal-restore beyond the common ones: Barman's compression, tag and
 * provider upload options, and pgstow's parallelism and spool settings; plus their translation.
 */
import type { OptionSpec, ParsedArgs } from './args.js';
import { parseSize } from './args.js';
import { ExitCode, PgstowError, UsageError } from '../errors.js';
import { StorageError } from '../storage/errors.js';
import { getCodec, resolveLevel, type Codec } from '../pipeline/codecs.js';
import type { StoreOptions } from '../storage/store-options.js';
import { assertTagLimits } from '../storage/object-tags.js';

export const COMPRESSION_OPTIONS: readonly OptionSpec[] = [
  { dest: 'gzip', flags: ['-z', '--gzip'], type: 'flag', help: 'gzip-compress the WAL while uploading to the cloud', exclusiveGroup: 'compression' },
  { dest: 'bzip2', flags: ['-j', '--bzip2'], type: 'flag', help: 'bzip2-compress the WAL while uploading to the cloud', exclusiveGroup: 'compression' },
  { dest: 'xz', flags: ['--xz'], type: 'flag', help: 'xz-compress the WAL while uploading to the cloud', exclusiveGroup: 'compression' },
  { dest: 'snappy', flags: ['--snappy'], type: 'flag', help: 'snappy-compress the WAL while uploading to the cloud', exclusiveGroup: 'compression' },
  { dest: 'zstd', flags: ['--zstd'], type: 'flag', help: 'zstd-compress the WAL while uploading to the cloud', exclusiveGroup: 'compression' },
  { dest: 'lz4', flags: ['--lz4'], type: 'flag', help: 'lz4-compress the WAL while uploading to the cloud', exclusiveGroup: 'compression' },
  { dest: 'compressionLevel', flags: ['--compression-level'], type: 'string', metavar: 'LEVEL',
    help: 'compression level: low, medium (default), high, or an integer for the chosen algorithm' },
];

export const UPLOAD_OPTIONS: readonly OptionSpec[] = [
  { dest: 'tags', flags: ['--tags'], type: 'list', metavar: 'KEY,VALUE', help: 'tags to add to archived WAL files in cloud storage', exclusiveGroup: 'tags' },
  { dest: 'tag', flags: ['--tag'], type: 'multi', metavar: 'KEY,VALUE', help: 'a tag to add to archived WAL files (repeatable)', exclusiveGroup: 'tags' },
  { dest: 'historyTags', flags: ['--history-tags'], type: 'list', metavar: 'KEY,VALUE', help: 'tags to add to history files in cloud storage', exclusiveGroup: 'htags' },
  { dest: 'historyTag', flags: ['--history-tag'], type: 'multi', metavar: 'KEY,VALUE', help: 'a tag to add to history files (repeatable)', exclusiveGroup: 'htags' },
  { dest: 'encryption', flags: ['-e', '--encryption'], type: 'string', choices: ['AES256', 'aws:kms'], help: 'the encryption algorithm used when storing the uploaded data in S3' },
  { dest: 'sseKmsKeyId', flags: ['--sse-kms-key-id'], type: 'string', metavar: 'ID', help: 'the AWS KMS key ID used for server-side encryption (with --encryption aws:kms)' },
  { dest: 'encryptionScope', flags: ['--encryption-scope'], type: 'string', metavar: 'SCOPE', help: 'the name of an encryption scope defined in the Azure Blob Storage service' },
  { dest: 'kmsKeyName', flags: ['--kms-key-name'], type: 'string', metavar: 'NAME', help: 'the name of the GCP KMS key used for encryption' },
  { dest: 'maxBlockSize', flags: ['--max-block-size'], type: 'string', metavar: 'SIZE', help: 'Azure: the chunk size used to upload blocks (default 4MB)' },
  { dest: 'maxConcurrency', flags: ['--max-concurrency'], type: 'int', metavar: 'N', help: 'Azure: parallel connections used to upload one file (default 1)' },
  { dest: 'maxSinglePutSize', flags: ['--max-single-put-size'], type: 'string', metavar: 'SIZE', help: 'Azure: largest file uploaded in one request (default 64MB)' },
];

export const PARALLEL_OPTIONS: readonly OptionSpec[] = [
  { dest: 'maxParallel', flags: ['--max-parallel'], type: 'int', metavar: 'N',
    help: '(pgstow) handle this file plus up to N-1 others in one call (CloudNativePG wal.maxParallel; default 1)' },
  { dest: 'spoolDir', flags: ['--spool-dir'], type: 'string', metavar: 'DIR',
    help: '(pgstow) spool directory for --max-parallel (default $PGSTOW_SPOOL_DIR or <tmp>/pgstow, per destination and server)' },
];

export function codecFromArgs(args: ParsedArgs): { codec: Codec | undefined; level: number | undefined; warning?: string } {
  const o = args.options;
  const name = (['gzip', 'bzip2', 'xz', 'snappy', 'zstd', 'lz4'] as const).find((n) => o[n] === true);
  const codec = name ? getCodec(name) : undefined;
  const levelText = o.compressionLevel as string | undefined;
  if (levelText !== undefined && !codec) throw new UsageError('--compression-level requires a compression option (-z, -j, --xz, --snappy, --zstd or --lz4)');
  const level = codec ? resolveLevel(codec, levelText) : undefined;
  // Barman (>= 3.14) uses the nearest level its codec has for an integer out of range; so does pgstow, saying so.
  const asked = levelText !== undefined && /^[+-]?\d+$/.test(levelText) ? parseInt(levelText, 10) : undefined;
  const warning = codec && asked !== undefined && asked !== level
    ? `--compression-level ${asked} is out of range for ${codec.name} (${codec.levels.min} to ${codec.levels.max}): using ${level}` : undefined;
  return { codec, level, ...(warning ? { warning } : {}) };
}

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

/** Adds the upload options (encryption, Azure sizes, GCS KMS) to StoreOptions. */
export function applyUploadOptions(args: ParsedArgs, options: StoreOptions): void {
  const o = args.options;
  if (o.sseKmsKeyId !== undefined && o.encryption !== 'aws:kms') {
    throw new UsageError('--sse-kms-key-id can only be used with --encryption aws:kms');
  }
  if (options.s3) {
    if (o.encryption) options.s3.encryption = o.encryption as 'AES256' | 'aws:kms';
    if (o.sseKmsKeyId) options.s3.sseKmsKeyId = o.sseKmsKeyId as string;
  }
  if (options.azure) {
    if (o.encryptionScope) options.azure.encryptionScope = o.encryptionScope as string;
    if (o.maxBlockSize) options.azure.maxBlockSize = parseSize(o.maxBlockSize as string, '--max-block-size');
    if (o.maxSinglePutSize) options.azure.maxSinglePutSize = parseSize(o.maxSinglePutSize as string, '--max-single-put-size');
    if (o.maxConcurrency !== undefined) {
      if ((o.maxConcurrency as number) < 1) throw new UsageError('argument --max-concurrency: must be a positive integer');
      options.azure.maxConcurrency = o.maxConcurrency as number;
    }
  }
  if (options.gcs && o.kmsKeyName) options.gcs.kmsKeyName = o.kmsKeyName as string;
}

export function maxParallelFrom(args: ParsedArgs): number {
  const n = (args.options.maxParallel as number | undefined) ?? 1;
  if (n < 1) throw new UsageError('argument --max-parallel: must be a positive integer');
  return n;
}

/**
 * Barman's WAL commands exit 1 only for what the operation itself decided (wal-restore: the WAL is not in the
 * archive; pgstow's refused overwrite); a provider error (access denied, bad credentials, missing bucket, damaged
 * object) is "any other error", exit 4. That matters on restore: CloudNativePG logs exit 1 as "WAL not found" at
 * info level and PostgreSQL may take it for the end of the archive, hiding a permission problem.
 */
export function asWalCommandError(err: unknown): unknown {
  if (err instanceof StorageError && err.exitCode === ExitCode.OPERATION) {
    return new PgstowError(err.code, ExitCode.GENERAL, err.message, { cause: err });
  }
  return err;
}
