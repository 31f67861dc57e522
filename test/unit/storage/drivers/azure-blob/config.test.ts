import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDestination } from '../../../../../src/storage/destination.js';
import { envStoreOptions, type EnvStoreDescription } from '../../../../harness/store-options.js';
import {
  AZURE_DEFAULT_TUNING, blockSizeFor, describeAuth, parseConnectionString, resolveAzureAuth, resolveTuning,
} from '../../../../../src/storage/drivers/azure-blob/config.js';
import { ConfigError } from '../../../../../src/errors.js';

const URL_CLOUD = 'https://acct.blob.core.windows.net/backups/pg/main';
const auth = (env: Record<string, string>, extra: Partial<EnvStoreDescription> = {}, url = URL_CLOUD) =>
  resolveAzureAuth(parseDestination(url, 'azure-blob-storage'), envStoreOptions({ provider: 'azure-blob-storage', destinationUrl: url, env, ...extra }));

describe('azure-blob credential precedence (Barman)', () => {
  const all = { AZURE_STORAGE_CONNECTION_STRING: 'AccountName=cs;AccountKey=a2V5;EndpointSuffix=core.windows.net', AZURE_STORAGE_SAS_TOKEN: '?sv=1&sig=x', AZURE_STORAGE_KEY: 'a2V5' };
  it('--credential beats every environment secret', () => {
    const a = auth(all, { azure: { credential: 'managed-identity' } });
    assert.equal(a.kind, 'token');
    assert.equal(a.blobEndpoint, 'https://acct.blob.core.windows.net');
  });
  it('connection string > SAS > key > DefaultAzureCredential', () => {
    assert.equal(auth(all).kind, 'connection-string');
    const { AZURE_STORAGE_CONNECTION_STRING: _cs, ...noCs } = all;
    const sas = auth(noCs);
    assert.equal(sas.kind, 'sas');
    assert.equal(sas.kind === 'sas' && sas.sasToken, 'sv=1&sig=x', 'leading "?" dropped');
    const key = auth({ AZURE_STORAGE_KEY: 'a2V5' });
    assert.deepEqual([key.kind, key.accountName], ['shared-key', 'acct']);
    const def = auth({ AZURE_STORAGE_KEY: '  ' });
    assert.deepEqual([def.kind, def.kind === 'token' && def.credential], ['token', 'default'], 'empty values count as unset');
  });
  it('the emulator form takes the account from the first path segment', () => {
    const a = auth({ AZURE_STORAGE_KEY: 'a2V5' }, {}, 'http://127.0.0.1:10000/devstoreaccount1/c/p');
    assert.deepEqual([a.accountName, a.blobEndpoint], ['devstoreaccount1', 'http://127.0.0.1:10000/devstoreaccount1']);
  });
  it('messages name the source, never the secret', () => {
    assert.equal(describeAuth(auth({ AZURE_STORAGE_KEY: 'c2VjcmV0' })), 'AZURE_STORAGE_KEY for account acct');
    assert.ok(!describeAuth(auth(all)).includes('a2V5'));
  });
});

describe('azure-blob connection strings', () => {
  it('BlobEndpoint decides the endpoint', () => {
    assert.deepEqual(parseConnectionString('DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1/;'),
      { accountName: 'devstoreaccount1', accountKey: 'a2V5', blobEndpoint: 'http://127.0.0.1:10000/devstoreaccount1' });
  });
  it('else protocol + account + EndpointSuffix (sovereign clouds)', () => {
    assert.equal(parseConnectionString('DefaultEndpointsProtocol=https;AccountName=a;AccountKey=k;EndpointSuffix=core.chinacloudapi.cn').blobEndpoint, 'https://a.blob.core.chinacloudapi.cn');
  });
  it('SAS connection strings, UseDevelopmentStorage, and malformed strings', () => {
    const sas = parseConnectionString('BlobEndpoint=https://a.blob.core.windows.net;SharedAccessSignature=sv=2020&sig=abc');
    assert.deepEqual([sas.accountName, sas.sasToken, sas.accountKey], ['a', 'sv=2020&sig=abc', undefined]);
    assert.equal(parseConnectionString('UseDevelopmentStorage=true').blobEndpoint, 'http://127.0.0.1:10000/devstoreaccount1');
    assert.throws(() => parseConnectionString('garbage'), ConfigError);
    assert.throws(() => parseConnectionString('AccountName=a'), ConfigError);
  });
});

describe('azure-blob tuning', () => {
  it('defaults, validation, and block growth so big objects fit in 50 000 blocks', () => {
    assert.deepEqual(resolveTuning(undefined), AZURE_DEFAULT_TUNING);
    assert.equal(resolveTuning({ maxBlockSize: 1024, maxConcurrency: 2, maxSinglePutSize: 0 }).singlePutSize, 0);
    assert.throws(() => resolveTuning({ maxConcurrency: 0 }), ConfigError);
    assert.throws(() => resolveTuning({ maxBlockSize: 1.5 }), ConfigError);
    const t = resolveTuning(undefined);
    assert.equal(blockSizeFor(t, undefined), t.blockSize);
    assert.equal(blockSizeFor(t, 1024 ** 4), Math.ceil(1024 ** 4 / 50_000));
  });
});
