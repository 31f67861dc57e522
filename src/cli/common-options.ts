/**
 * Options every barman-cloud command takes (barman/clients/cloud_cli.py), plus pgstow's own, and the
 * translation from parsed options + environment to StoreOptions.
 */
import type { OptionSpec, ParsedArgs } from './args.js';
import { inferProvider } from '../storage/destination.js';
import type { StoreOptions } from '../storage/store-options.js';
import { UsageError } from '../errors.js';

export const COMMON_OPTIONS: readonly OptionSpec[] = [
  { dest: 'version', flags: ['-V', '--version'], type: 'flag', help: 'show program\'s version number and exit' },
  { dest: 'help', flags: ['--help'], type: 'flag', help: 'show this help message and exit' },
  { dest: 'verbose', flags: ['-v', '--verbose'], type: 'count', help: 'increase output verbosity (e.g., -vv is more than -v)', exclusiveGroup: 'verbosity' },
  { dest: 'quiet', flags: ['-q', '--quiet'], type: 'count', help: 'decrease output verbosity (e.g., -qq is less than -q)', exclusiveGroup: 'verbosity' },
  { dest: 'test', flags: ['-t', '--test'], type: 'flag', help: 'test cloud connectivity and exit' },
  { dest: 'cloudProvider', flags: ['--cloud-provider'], type: 'string', choices: ['aws-s3', 'azure-blob-storage', 'google-cloud-storage', 'file'],
    help: 'the cloud provider (default: from the URL scheme; aws-s3 for s3://)' },
  { dest: 'endpointUrl', flags: ['--endpoint-url'], type: 'string', metavar: 'URL', help: 'override default S3 endpoint URL with the given one' },
  { dest: 'awsProfile', flags: ['-P', '--aws-profile', '--profile'], type: 'string', metavar: 'AWS_PROFILE', help: 'profile name (e.g. INI section in AWS credentials file)' },
  { dest: 'readTimeout', flags: ['--read-timeout'], type: 'int', metavar: 'SECONDS', help: 'the time in seconds until a timeout is raised when waiting to read from a connection (default 60)' },
  { dest: 'azureCredential', flags: ['--azure-credential', '--credential'], type: 'string', choices: ['azure-cli', 'managed-identity', 'default'],
    help: 'optionally specify the type of credential to use when authenticating with Azure' },
  { dest: 'endpointCa', flags: ['--endpoint-ca'], type: 'string', metavar: 'FILE', help: '(pgstow) PEM file with CA certificates trusted in addition to the system roots' },
  { dest: 'addressingStyle', flags: ['--s3-addressing-style'], type: 'string', choices: ['auto', 'path', 'virtual'], help: '(pgstow) S3 addressing style (default auto: path when --endpoint-url is set)' },
  { dest: 'config', flags: ['--config'], type: 'string', metavar: 'FILE', help: '(pgstow) CloudNativePG Cluster or ObjectStore manifest to read settings from (also PGSTOW_CONFIG)' },
  { dest: 'debug', flags: ['--debug'], type: 'flag', help: '(pgstow) print stack traces and error causes' },
];

export const EXIT_CODES_EPILOG = `exit codes:
  0  success
  1  the operation failed (e.g. WAL or backup not found, access denied)
  2  the object store could not be reached (network, TLS)
  3  invalid arguments
  4  any other error`;

/** Barman's positional URL + SERVER_NAME pair. */
export function destinationOf(args: ParsedArgs): { url: string; serverName: string } {
  const url = args.positionals.destinationUrl ?? args.positionals.sourceUrl;
  const serverName = args.positionals.serverName;
  if (typeof url !== 'string' || typeof serverName !== 'string') throw new UsageError('the destination URL and server name are required');
  if (serverName === '' || serverName.includes('/')) throw new UsageError(`invalid server name "${serverName}"`);
  return { url, serverName };
}

/** Builds StoreOptions from parsed flags and the environment (the config file layer adds to this later). */
export function storeOptionsFromArgs(args: ParsedArgs, env: Readonly<Record<string, string | undefined>>, url: string): StoreOptions {
  const o = args.options;
  const provider = inferProvider(url, o.cloudProvider as string | undefined);
  const endpointUrl = (o.endpointUrl as string | undefined) ?? undefined;
  const caFile = (o.endpointCa as string | undefined)
    ?? (provider === 'aws-s3' ? env.AWS_CA_BUNDLE : provider === 'azure-blob-storage' ? env.REQUESTS_CA_BUNDLE : undefined);
  const options: StoreOptions = { provider, destinationUrl: url, env };
  if (endpointUrl) options.endpointUrl = endpointUrl;
  if (caFile) options.caFile = caFile;
  if (typeof o.readTimeout === 'number') options.readTimeoutSeconds = o.readTimeout;
  if (provider === 'aws-s3') {
    options.s3 = {};
    if (o.awsProfile) options.s3.profile = o.awsProfile as string;
    if (o.addressingStyle) options.s3.addressingStyle = o.addressingStyle as 'auto' | 'path' | 'virtual';
  }
  if (provider === 'azure-blob-storage') {
    options.azure = {};
    if (o.azureCredential) options.azure.credential = o.azureCredential as 'azure-cli' | 'managed-identity' | 'default';
  }
  if (provider === 'google-cloud-storage') options.gcs = {};
  return options;
}
