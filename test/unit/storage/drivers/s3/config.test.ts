/** The S3 settings rules that decide compatibility: addressing, checksums, region, credentials, part size. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { choosePartSize, MIB, resolveS3Settings } from '../../../../../src/storage/drivers/s3/config.js';
import { parseDestination } from '../../../../../src/storage/destination.js';
import { ConfigError } from '../../../../../src/errors.js';
import { envStoreOptions, type EnvStoreDescription } from '../../../../harness/store-options.js';

/** The settings a command line with this environment gets (the environment is read by the CLI's settings builder). */
function settings(o: Partial<EnvStoreDescription> = {}, url = 's3://bucket/prefix') {
  const options = envStoreOptions({ provider: 'aws-s3', destinationUrl: url, env: {}, ...o });
  return resolveS3Settings(parseDestination(url, 'aws-s3'), options);
}

describe('S3 settings', () => {
  it('AWS itself: virtual-host style, SDK default checksums, region us-east-1 by default', () => {
    const s = settings();
    assert.equal(s.bucket, 'bucket');
    assert.equal(s.endpoint, undefined);
    assert.equal(s.forcePathStyle, false);
    assert.equal(s.requestChecksumCalculation, 'WHEN_SUPPORTED');
    assert.equal(s.region, 'us-east-1');
  });

  it('an endpoint URL (MinIO, Ceph, Spaces…): path style and when_required checksums, as Barman/botocore', () => {
    const s = settings({ endpointUrl: 'https://nyc3.digitaloceanspaces.com/' });
    assert.equal(s.endpoint, 'https://nyc3.digitaloceanspaces.com');
    assert.equal(s.forcePathStyle, true);
    assert.equal(s.requestChecksumCalculation, 'WHEN_REQUIRED');
    assert.equal(s.responseChecksumValidation, 'WHEN_REQUIRED');
    assert.equal(settings({ endpointUrl: 'http://minio:9000', s3: { addressingStyle: 'virtual' } }).forcePathStyle, false);
    assert.equal(settings({ s3: { addressingStyle: 'path' } }).forcePathStyle, true);
  });

  it('AWS_REQUEST_CHECKSUM_CALCULATION / AWS_RESPONSE_CHECKSUM_VALIDATION are honoured, and checked', () => {
    const s = settings({ endpointUrl: 'http://minio:9000', env: { AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_SUPPORTED', AWS_RESPONSE_CHECKSUM_VALIDATION: 'when_supported' } });
    assert.equal(s.requestChecksumCalculation, 'WHEN_SUPPORTED');
    assert.equal(s.responseChecksumValidation, 'WHEN_SUPPORTED');
    assert.equal(settings({ env: { AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required' } }).requestChecksumCalculation, 'WHEN_REQUIRED');
    assert.throws(() => settings({ env: { AWS_REQUEST_CHECKSUM_CALCULATION: 'always' } }), ConfigError);
  });

  it('region: AWS_REGION over AWS_DEFAULT_REGION', () => {
    assert.equal(settings({ env: { AWS_DEFAULT_REGION: 'eu-west-1' } }).region, 'eu-west-1');
    assert.equal(settings({ env: { AWS_REGION: 'eu-central-1', AWS_DEFAULT_REGION: 'eu-west-1' } }).region, 'eu-central-1');
  });

  it('credentials as CloudNativePG passes them, then profile, IRSA, default chain', () => {
    assert.deepEqual(settings({ env: { AWS_ACCESS_KEY_ID: 'AKIA1', AWS_SECRET_ACCESS_KEY: 's', AWS_SESSION_TOKEN: 't' } }).credentials,
      { kind: 'static', accessKeyId: 'AKIA1', secretAccessKey: 's', sessionToken: 't' });
    assert.deepEqual(settings({ s3: { profile: 'backup' }, env: { AWS_ACCESS_KEY_ID: 'AKIA1', AWS_SECRET_ACCESS_KEY: 's' } }).credentials, { kind: 'profile', profile: 'backup' });
    assert.deepEqual(settings({ env: { AWS_ROLE_ARN: 'arn:aws:iam::1:role/r', AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/token' } }).credentials,
      { kind: 'web-identity', roleArn: 'arn:aws:iam::1:role/r', tokenFile: '/var/run/token' });
    assert.deepEqual(settings().credentials, { kind: 'default-chain' });
    assert.throws(() => settings({ env: { AWS_ACCESS_KEY_ID: 'AKIA1' } }), /AWS_SECRET_ACCESS_KEY is not/);
    assert.throws(() => settings({ env: { AWS_SECRET_ACCESS_KEY: 'secret-value' } }), (e: Error) => e instanceof ConfigError && !e.message.includes('secret-value'));
  });

  it('bad option values are ConfigErrors', () => {
    assert.throws(() => settings({ endpointUrl: 'not a url' }), ConfigError);
    assert.throws(() => settings({ endpointUrl: 'ftp://x' }), ConfigError);
    assert.throws(() => settings({ s3: { partSize: 1024 } }), ConfigError);
    assert.throws(() => settings({ s3: { maxParts: 20_000 } }), ConfigError);
    assert.throws(() => settings({ s3: { sseKmsKeyId: 'k' } }), /aws:kms/);
  });

  it('part size: fits the expected size into maxParts, at least 8 MiB, whole MiB, configured size wins', () => {
    const s = { partSize: 0, maxParts: 10_000 };
    assert.equal(choosePartSize(s, undefined), 16 * MIB);
    assert.equal(choosePartSize(s, 100 * MIB), 8 * MIB);
    // 1 TiB × 1.25 / 10 000 parts = 131.07 MiB → 132 MiB parts.
    assert.equal(choosePartSize(s, 1024 * 1024 * MIB), 132 * MIB);
    assert.equal(choosePartSize({ partSize: 0, maxParts: 100 }, 1000 * MIB), 13 * MIB);
    assert.equal(choosePartSize({ partSize: 64 * MIB, maxParts: 10_000 }, 10 * MIB), 64 * MIB);
  });
});
