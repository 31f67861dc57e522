/** Which proxy a store request takes: botocore's variables (through urllib and requests) and NO_PROXY's rules. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bypassed, proxyFor, proxyLabel } from '../../../src/storage/proxy-choice.js';
import { proxyVariables } from '../../../src/config/settings-from-cli.js';
import { resolveS3Settings } from '../../../src/storage/drivers/s3/config.js';
import { parseDestination } from '../../../src/storage/destination.js';
import { ConfigError } from '../../../src/errors.js';
import { settingsFromObjectStore } from '../../../src/config/settings-from-manifest.js';
import { storeOptionsFor } from '../../../src/app/compose.js';
import type { BarmanObjectStoreConfiguration } from '../../../src/config/schema.js';

test('proxyVariables: lower case over upper case, ALL_PROXY for a scheme without its own, blank is unset', () => {
  assert.equal(proxyVariables({}), undefined);
  assert.equal(proxyVariables({ HTTPS_PROXY: ' ', NO_PROXY: '*' }), undefined);
  assert.deepEqual(proxyVariables({ HTTPS_PROXY: 'http://up:1', https_proxy: 'http://low:2' }), { https: 'http://low:2' });
  assert.deepEqual(proxyVariables({ ALL_PROXY: 'http://all:3', HTTP_PROXY: 'http://h:4', no_proxy: 'a.b' }), { https: 'http://all:3', http: 'http://h:4', noProxy: 'a.b' });
});

test('proxyFor: the variable of the endpoint scheme, a scheme added when missing', () => {
  const vars = { https: 'proxy.corp:3128', http: 'http://plain:8080' };
  assert.equal(proxyFor(vars, new URL('https://s3.eu-west-1.amazonaws.com'))?.href, 'http://proxy.corp:3128/');
  assert.equal(proxyFor(vars, new URL('http://minio:9000'))?.href, 'http://plain:8080/');
  assert.equal(proxyFor({ http: 'http://plain:8080' }, new URL('https://minio:9000')), undefined);
  assert.equal(proxyFor(undefined, new URL('https://minio:9000')), undefined);
});

test('NO_PROXY: *, names and parent domains, host:port, IP addresses and CIDR ranges', () => {
  const u = (s: string): URL => new URL(s);
  assert.equal(bypassed('*', u('https://anything')), true);
  assert.equal(bypassed('example.com', u('https://s3.example.com')), true);
  assert.equal(bypassed('.example.com', u('https://s3.example.com')), true);
  assert.equal(bypassed('*.example.com', u('https://example.com')), true);
  assert.equal(bypassed('example.com', u('https://badexample.com')), false, 'a domain boundary, not any suffix');
  assert.equal(bypassed('minio:9000', u('http://minio:9000')), true);
  assert.equal(bypassed('minio:9001', u('http://minio:9000')), false);
  assert.equal(bypassed('minio:443', u('https://minio')), true, 'the scheme default port');
  assert.equal(bypassed('10.0.0.0/8, other', u('http://10.2.3.4:9000')), true);
  assert.equal(bypassed('10.0.0.0/8', u('http://11.2.3.4:9000')), false);
  assert.equal(bypassed('fd00::/8', u('http://[fd12::1]:9000')), true);
  assert.equal(bypassed('127.0.0.1', u('http://127.0.0.1:9000')), true);
  assert.equal(bypassed('10.0.0.0/8', u('http://ten.example')), false, 'a range never matches a name');
  assert.equal(bypassed('', u('http://minio')), false);
});

test('proxyLabel: never the credentials', () => {
  assert.equal(proxyLabel(new URL('http://user:pa55@proxy:3128')), 'http://proxy:3128');
});

test('the S3 settings: the proxy for the endpoint, or AWS regional host without one; other schemes refused without the value', () => {
  const dest = parseDestination('s3://b/p', 'aws-s3');
  const base = { provider: 'aws-s3' as const, destinationUrl: 's3://b/p' };
  assert.equal(resolveS3Settings(dest, { ...base, endpointUrl: 'https://minio:9000', proxy: { https: 'http://p:1' } }).proxy?.host, 'p:1');
  assert.equal(resolveS3Settings(dest, { ...base, endpointUrl: 'https://minio:9000', proxy: { https: 'http://p:1', noProxy: 'minio' } }).proxy, undefined);
  assert.equal(resolveS3Settings(dest, { ...base, s3: { region: 'eu-west-3' }, proxy: { https: 'http://p:1', noProxy: '.amazonaws.com' } }).proxy, undefined);
  assert.equal(resolveS3Settings(dest, { ...base, proxy: { https: 'http://p:1' } }).proxy?.host, 'p:1');
  assert.throws(() => resolveS3Settings(dest, { ...base, proxy: { https: 'socks5://u:hidden@p:1080' } }),
    (err: unknown) => err instanceof ConfigError && /socks5/.test(err.message) && !err.message.includes('hidden'));
});

test('the sidecar: an S3 ObjectStore takes the proxy variables of the process environment through to the store options', () => {
  const configuration = {
    destinationPath: 's3://bucket/path', endpointURL: 'https://minio.internal:9000',
    s3Credentials: { accessKeyId: { name: 'c', key: 'id' }, secretAccessKey: { name: 'c', key: 'secret' } },
  } as BarmanObjectStoreConfiguration;
  const input = { configuration, serverName: 'pg', secret: ((sel: { key: string }) => `v-${sel.key}`) as never };
  assert.equal(settingsFromObjectStore({ ...input, env: {} }).proxy, undefined);
  const settings = settingsFromObjectStore({ ...input, env: { HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: '.svc' } });
  assert.deepEqual(settings.proxy, { https: 'http://proxy:3128', noProxy: '.svc' });
  const options = storeOptionsFor(settings, 'wal', undefined);
  assert.deepEqual(options.proxy, { https: 'http://proxy:3128', noProxy: '.svc' });
  assert.equal(resolveS3Settings(parseDestination('s3://bucket/path', 'aws-s3'), options).endpointLabel, 'https://minio.internal:9000 through the proxy http://proxy:3128');
});
