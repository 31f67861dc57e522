/**
 * Defect 11: a PostgreSQL URI with a password given to -d was taken as a database name and echoed in the error;
 * credentials in a store URL (s3://AK:SECRET@bucket/x) were echoed too. Now -d takes URIs and conninfo strings as
 * libpq does, URLs with credentials are refused with a message naming no secret, and every argument and
 * environment variable that can hold a secret is run through failing commands, with and without --debug: the
 * secret never appears on stdout or stderr. Reported: secrets leaked, over how many inputs.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { runCli, type CliResult } from '../../harness/cli.js';
import { requireServer } from '../../harness/test-env.js';
import { TEST_BUCKET, uniquePrefix } from '../../harness/stores.js';
import { makeTempDir } from '../../harness/tmp.js';
import { freePort } from '../../harness/postgres.js';
import { syntheticSegment } from '../../harness/wal-segments.js';
import { openEngine, type EngineSettings, type Logger } from '../../../src/engine/index.js';

const inputs: string[] = [];
let leaks = 0;
let checks = 0;
after(() => process.stdout.write(`# secrets leaked ${leaks} of ${checks} checks over ${inputs.length} inputs (${inputs.join('; ')})\n`));

/** Runs the command with and without --debug; the secret must be in neither output. */
async function noLeak(label: string, prog: string, args: string[], env: Record<string, string>, secret: string, check?: (r: CliResult) => void): Promise<void> {
  inputs.push(label);
  for (const extra of [[], ['--debug']]) {
    const r = await runCli(prog, [...args, ...extra], { env });
    const out = r.stdout + r.stderr;
    checks++;
    if (out.includes(secret)) leaks++;
    assert.ok(!out.includes(secret), `${label}${extra.length ? ' (--debug)' : ''}: the secret was printed:\n${out}`);
    assert.notEqual(r.code, 0, `${label}: expected a failure, got exit 0`);
    check?.(r);
  }
}

/**
 * The library, as the CNPG plugin calls it: every call of an engine with a refused secret rejects, and neither the
 * error (message, stack, causes, as util.inspect prints it) nor anything logged holds the secret.
 */
async function noLeakInEngine(label: string, settings: EngineSettings, secret: string, walFile: string): Promise<void> {
  inputs.push(`${label} (library: error and log)`);
  const logged: string[] = [];
  const log: Logger = { debug: (m) => logged.push(m), info: (m) => logged.push(m), warning: (c, m) => logged.push(`${c} ${m}`), error: (m) => logged.push(m) };
  const engine = await openEngine(settings, { log });
  try {
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['listBackups', () => engine.listBackups()],
      ['checkWalArchive', () => engine.checkWalArchive()],
      ['archiveWal', () => engine.archiveWal(walFile)],
      ['restoreWal', () => engine.restoreWal('000000010000000000000001', `${walFile}.restored`)],
    ];
    for (const [name, call] of calls) {
      const err = await call().then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof Error, `${label} ${name}: expected a rejection`);
      checks++;
      const seen = [err.message, String(err.stack), inspect(err, { depth: 8 }), JSON.stringify(err), ...logged].join('\n');
      if (seen.includes(secret)) leaks++;
      assert.ok(!seen.includes(secret), `${label} ${name}: the secret is in the error or the log:\n${seen}`);
    }
  } finally {
    await engine.close();
  }
}

describe('secrets never reach the output', () => {
  const dir = makeTempDir('secrets');
  const fsDest = `file://${path.join(dir, 'store')}`;

  it('-d with a postgresql:// URI or a conninfo string holding a password: used as libpq does, never echoed', async () => {
    const port = await freePort(); // nobody listens: the connection fails after the -d value was parsed
    const uriPw = 'uRi-Pa55word-9f1c';
    await noLeak('-d postgresql:// URI', 'pgstow', ['backup', '-d', `postgresql://postgres:${uriPw}@127.0.0.1:${port}/postgres`, fsDest, 'pg1'], {}, uriPw,
      (r) => assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port}`), 'the URI was used as a connection (its host named)'));
    const encoded = 'p%40ss%2Fw0rd-7a2e';
    await noLeak('-d URI, percent-encoded password', 'barman-cloud-backup', ['--cloud-provider', 'file', '-d', `postgres://u:${encoded}@127.0.0.1:${port}/db`, fsDest, 'pg1'], {}, decodeURIComponent(encoded));
    const kvPw = 'kv Pa55 word-3b7d';
    await noLeak('-d conninfo password', 'pgstow', ['backup', '-d', `host=127.0.0.1 port=${port} dbname=postgres password='${kvPw}'`, fsDest, 'pg1'], {}, kvPw);
    await noLeak('-d malformed conninfo', 'pgstow', ['backup', '-d', `host=127.0.0.1 password=broken-${kvPw.replace(/ /g, '')} nonsense`, fsDest, 'pg1'], {}, `broken-${kvPw.replace(/ /g, '')}`);
    await noLeak('PGPASSWORD', 'pgstow', ['backup', '-h', '127.0.0.1', '-p', String(port), fsDest, 'pg1'], { PGPASSWORD: 'pgPassWord-env-51c' }, 'pgPassWord-env-51c');
  });

  it('credentials inside a destination or endpoint URL: exit 3, the message names no secret', async () => {
    const cases: Array<[string, string[]]> = [
      ['s3://KEY:SECRET@bucket', ['s3://AKIAEXAMPLE:s3Url-SECRET-0042@bucket/x', 'srv']],
      ['gs://user:pw@bucket', ['gs://user:gsUrl-SECRET-0043@bucket/x', 'srv']],
      ['https://user:pw@account.blob…', ['https://acct:azUrl-SECRET-0044@acct.blob.core.windows.net/c/x', 'srv']],
      ['--endpoint-url http://user:pw@host', ['--endpoint-url', 'http://minio:epUrl-SECRET-0045@127.0.0.1:1', 's3://bucket/x', 'srv']],
      ['an unknown scheme with credentials', ['ftp://u:ftpUrl-SECRET-0046@host/x', 'srv']],
    ];
    for (const [label, args] of cases) {
      const secret = /(\w+Url-SECRET-\d+)/.exec(args.join(' '))?.[1] as string;
      await noLeak(label, 'barman-cloud-backup-list', args, { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'x'.repeat(40) }, secret,
        (r) => { assert.equal(r.code, 3, r.stderr); });
    }
  });

  it('S3 secrets in the environment, on a store that refuses them (moto)', async (t) => {
    const moto = requireServer(t, 'moto');
    if (!moto) return;
    const url = `s3://${TEST_BUCKET}/${uniquePrefix('secrets')}`;
    const args = ['--cloud-provider', 'aws-s3', '--endpoint-url', moto.endpoint, url, 'srv'];
    await noLeak('AWS_SECRET_ACCESS_KEY', 'barman-cloud-backup-list', args, { AWS_ACCESS_KEY_ID: moto.accessKeyId, AWS_SECRET_ACCESS_KEY: 'awsSecretEnv-0051-wrongwrongwrongwrong' }, 'awsSecretEnv-0051-wrongwrongwrongwrong');
    await noLeak('AWS_SESSION_TOKEN', 'barman-cloud-check-wal-archive', args,
      { AWS_ACCESS_KEY_ID: moto.accessKeyId, AWS_SECRET_ACCESS_KEY: moto.secretAccessKey, AWS_SESSION_TOKEN: 'awsSessionToken-0052-xyz' }, 'awsSessionToken-0052-xyz');
    const creds = path.join(dir, 'aws-credentials');
    fs.writeFileSync(creds, `[leaky]\naws_access_key_id = ${moto.accessKeyId}\naws_secret_access_key = awsProfileSecret-0053-wrongwrongwrong\n`);
    await noLeak('a profile\'s aws_secret_access_key (-P)', 'barman-cloud-backup-list', ['-P', 'leaky', ...args],
      { AWS_SHARED_CREDENTIALS_FILE: creds, AWS_CONFIG_FILE: path.join(dir, 'no-config'), AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' }, 'awsProfileSecret-0053-wrongwrongwrong');
    const token = path.join(dir, 'irsa-token');
    fs.writeFileSync(token, 'eyJhbGciOiJSUzI1NiJ9.irsaToken-0054-notreal.c2ln');
    await noLeak('the IRSA web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)', 'barman-cloud-backup-list', ['--read-timeout', '2', ...args],
      { AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/pgstow', AWS_WEB_IDENTITY_TOKEN_FILE: token, AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:1',
        AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' }, 'irsaToken-0054-notreal');
  });

  it('Azure secrets in the environment, on a store that refuses them (Azurite)', async (t) => {
    const az = requireServer(t, 'azurite');
    if (!az) return;
    const url = `${az.accountUrl}/${TEST_BUCKET}/${uniquePrefix('secrets')}`;
    const args = ['--cloud-provider', 'azure-blob-storage', url, 'srv'];
    const wrongKey = Buffer.from('azureKeyEnv-0061-not-the-key').toString('base64');
    await noLeak('AZURE_STORAGE_CONNECTION_STRING (AccountKey)', 'barman-cloud-backup-list', args,
      { AZURE_STORAGE_CONNECTION_STRING: `DefaultEndpointsProtocol=http;AccountName=${az.account};AccountKey=${wrongKey};BlobEndpoint=${az.accountUrl};` }, wrongKey);
    const sas = 'sv=2022-11-02&ss=b&srt=sco&sp=rl&se=2030-01-01T00:00:00Z&sig=azSasSig0062forged';
    await noLeak('AZURE_STORAGE_SAS_TOKEN', 'barman-cloud-backup-list', ['--cloud-provider', 'azure-blob-storage', `${az.accountUrl}/${TEST_BUCKET}/x`, 'srv'],
      { AZURE_STORAGE_SAS_TOKEN: sas, AZURE_STORAGE_CONNECTION_STRING: '' }, 'azSasSig0062forged');
    await noLeak('AZURE_STORAGE_KEY', 'barman-cloud-check-wal-archive', ['--cloud-provider', 'azure-blob-storage', '--read-timeout', '2', 'https://127.0.0.1:1/acct/c/x', 'srv'],
      { AZURE_STORAGE_KEY: Buffer.from('azureKey-0063').toString('base64'), AZURE_STORAGE_CONNECTION_STRING: '' }, Buffer.from('azureKey-0063').toString('base64'));
    const clientSecret = 'azClientSecret-0064-zzz';
    await noLeak('AZURE_CLIENT_SECRET', 'barman-cloud-backup-list', ['--cloud-provider', 'azure-blob-storage', '--read-timeout', '2', 'https://127.0.0.1:1/acct/c/x', 'srv'],
      { AZURE_STORAGE_CONNECTION_STRING: '', AZURE_TENANT_ID: '00000000-0000-0000-0000-000000000001', AZURE_CLIENT_ID: '00000000-0000-0000-0000-000000000002',
        AZURE_CLIENT_SECRET: clientSecret, AZURE_AUTHORITY_HOST: 'https://127.0.0.1:1' }, clientSecret);
  });

  it('GCS: a key file\'s private key is never printed', async () => {
    const key = path.join(dir, 'sa.json');
    const privateKey = '-----BEGIN PRIVATE KEY-----\\ngcsPrivateKey0071notreal\\n-----END PRIVATE KEY-----\\n';
    fs.writeFileSync(key, JSON.stringify({ type: 'service_account', client_email: 'x@p.iam.gserviceaccount.com', private_key: privateKey, token_uri: 'http://127.0.0.1:1/token' }));
    await noLeak('GOOGLE_APPLICATION_CREDENTIALS (private key)', 'barman-cloud-backup-list', ['--cloud-provider', 'google-cloud-storage', '--endpoint-url', 'http://127.0.0.1:1', 'gs://b/x', 'srv'],
      { GOOGLE_APPLICATION_CREDENTIALS: key }, 'gcsPrivateKey0071notreal');
  });

  it('the library (what the plugin calls), wrong S3 secret and Azure key: no secret in errors or logs', async (t) => {
    const moto = requireServer(t, 'moto');
    const az = requireServer(t, 'azurite');
    if (!moto || !az) return;
    const wal = path.join(dir, '000000010000000000000002');
    fs.writeFileSync(wal, syntheticSegment('000000010000000000000002'));
    const s3Secret = 'libS3Secret-0081-wrongwrongwrongwrong';
    await noLeakInEngine('engine S3 secretAccessKey', {
      destination: `s3://${TEST_BUCKET}/${uniquePrefix('secrets-lib')}`, serverName: 'srv', endpointUrl: moto.endpoint, readTimeoutSeconds: 5,
      credentials: { kind: 's3-access-key', accessKeyId: moto.accessKeyId, secretAccessKey: s3Secret },
    }, s3Secret, wal);
    const azKey = Buffer.from('libAzureKey-0082-not-the-key').toString('base64');
    await noLeakInEngine('engine Azure connection string', {
      destination: `${az.accountUrl}/${TEST_BUCKET}/${uniquePrefix('secrets-lib')}`, serverName: 'srv', provider: 'azure-blob-storage',
      credentials: { kind: 'azure-connection-string', connectionString: `DefaultEndpointsProtocol=http;AccountName=${az.account};AccountKey=${azKey};BlobEndpoint=${az.accountUrl};` },
    }, azKey, wal);
  });
});
