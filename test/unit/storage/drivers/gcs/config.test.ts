import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveGcsConfig } from '../../../../../src/storage/drivers/gcs/config.js';
import { loadCa } from '../../../../../src/app/compose.js';
import { ConfigError, UsageError } from '../../../../../src/errors.js';
import { envStoreOptions, type EnvStoreDescription } from '../../../../harness/store-options.js';
import { makeTempDir, removeDir } from '../../../../harness/tmp.js';

const dir = makeTempDir('gcs-config');
after(() => removeDir(dir));
const dest = { provider: 'google-cloud-storage' as const, bucket: 'b', prefix: 'p' };
/** What a command line with this environment gets (the environment is read by the CLI's settings builder). */
const opts = (o: Partial<EnvStoreDescription>) => envStoreOptions({ provider: 'google-cloud-storage', destinationUrl: 'gs://b/p', env: {}, ...o });
const key = (name: string, body: object): string => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, JSON.stringify(body));
  return f;
};

describe('resolveGcsConfig', () => {
  it('defaults: Google endpoint, ADC, 16 MiB chunks, conditional create trusted', async () => {
    const c = await resolveGcsConfig(dest, opts({}));
    assert.equal(c.apiEndpoint, undefined);
    assert.equal(c.emulator, false);
    assert.equal(c.auth.kind, 'application-default');
    assert.equal(c.chunkSize, 16 * 1024 * 1024);
  });

  it('STORAGE_EMULATOR_HOST alone: emulator, anonymous; --endpoint-url wins and authenticates', async () => {
    const e = await resolveGcsConfig(dest, opts({ env: { STORAGE_EMULATOR_HOST: '127.0.0.1:9023' } }));
    assert.equal(e.apiEndpoint, 'https://127.0.0.1:9023');
    assert.equal(e.emulator, true);
    assert.equal(e.auth.kind, 'anonymous');
    const u = await resolveGcsConfig(dest, opts({ endpointUrl: 'http://h:1/', env: { STORAGE_EMULATOR_HOST: 'http://x:2' } }));
    assert.equal(u.apiEndpoint, 'http://h:1');
    assert.equal(u.emulator, false);
    assert.equal(u.auth.kind, 'application-default');
  });

  it('STORAGE_EMULATOR_HOST: anonymous whatever GOOGLE_APPLICATION_CREDENTIALS names (a key, an empty file, no file), as Barman', async () => {
    const f = key('sa-emu.json', { type: 'service_account', client_email: 'a@p.iam.gserviceaccount.com', private_key: 'k' });
    const empty = path.join(dir, 'empty-emu.json');
    fs.writeFileSync(empty, '');
    for (const file of [f, empty, path.join(dir, 'absent.json')]) {
      const c = await resolveGcsConfig(dest, opts({ env: { GOOGLE_APPLICATION_CREDENTIALS: file, STORAGE_EMULATOR_HOST: 'http://127.0.0.1:9023' } }));
      assert.equal(c.auth.kind, 'anonymous', file);
      assert.match(c.auth.label, /GOOGLE_APPLICATION_CREDENTIALS ignored/);
    }
  });

  it('chunk size is rounded up to 256 KiB; nonsense is a usage error', async () => {
    assert.equal((await resolveGcsConfig(dest, opts({ gcs: { chunkSize: 1 } }))).chunkSize, 256 * 1024);
    assert.equal((await resolveGcsConfig(dest, opts({ gcs: { chunkSize: 5 * 1024 * 1024 } }))).chunkSize, 5 * 1024 * 1024);
    await assert.rejects(resolveGcsConfig(dest, opts({ gcs: { chunkSize: 0 } })), UsageError);
  });

  it('a service-account key: its client_email in the label, a non-Google token_uri kept, Google ones not', async () => {
    const f = key('sa.json', { type: 'service_account', client_email: 'a@p.iam.gserviceaccount.com', private_key: 'k', token_uri: 'https://oauth2.googleapis.com/token' });
    const c = await resolveGcsConfig(dest, opts({ env: { GOOGLE_APPLICATION_CREDENTIALS: f } }));
    assert.equal(c.auth.kind, 'key-file');
    assert.match(c.auth.label, /a@p\.iam\.gserviceaccount\.com/);
    assert.equal(c.auth.kind === 'key-file' ? c.auth.tokenUri : 'x', undefined);
    const g = key('sa2.json', { type: 'service_account', client_email: 'a@p', private_key: 'k', token_uri: 'https://sts.example/token' });
    const c2 = await resolveGcsConfig(dest, opts({ env: { GOOGLE_APPLICATION_CREDENTIALS: g } }));
    assert.equal(c2.auth.kind === 'key-file' ? c2.auth.tokenUri : undefined, 'https://sts.example/token');
  });

  it('broken key files are ConfigErrors naming the file and never echoing it', async () => {
    const noEmail = key('noemail.json', { type: 'service_account', private_key: 'SECRETKEY' });
    await assert.rejects(resolveGcsConfig(dest, opts({ env: { GOOGLE_APPLICATION_CREDENTIALS: noEmail } })),
      (e: unknown) => e instanceof ConfigError && /noemail\.json has no "client_email"/.test(e.message) && !e.message.includes('SECRETKEY'));
    const noType = key('notype.json', { client_email: 'x' });
    await assert.rejects(resolveGcsConfig(dest, opts({ env: { GOOGLE_APPLICATION_CREDENTIALS: noType } })), /has no "type" field/);
    await assert.rejects(resolveGcsConfig(dest, opts({ env: { GOOGLE_APPLICATION_CREDENTIALS: path.join(dir, 'none.json') } })), /none\.json does not exist/);
    // An empty variable is unset (ADC), as in Google's libraries.
    assert.equal((await resolveGcsConfig(dest, opts({ env: { GOOGLE_APPLICATION_CREDENTIALS: '' } }))).auth.kind, 'application-default');
  });

  it('an unreadable or non-PEM CA file is a ConfigError (the one CA loader every driver gets its CA from)', async () => {
    await assert.rejects(loadCa({ file: path.join(dir, 'nope.pem') }), ConfigError);
    const notPem = path.join(dir, 'not.pem');
    fs.writeFileSync(notPem, 'hello');
    await assert.rejects(loadCa({ file: notPem }), /holds no PEM certificate/);
  });
});
