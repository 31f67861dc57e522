/**
 * Defect 10: refused credentials gave exit 1 on check-wal-archive, backup-list, restore and backup-delete (and show,
 * keep), where Barman gives 4 on S3 and 2 on Azure. Each command runs with a wrong secret (and, on S3, with a valid
 * key outside its permissions) through pgstow's barman-cloud-* drop-ins and through barman-cloud 3.4 itself: the
 * exit codes must be equal.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { runCli } from '../../harness/cli.js';
import { requireServer, skipUnlessInstalled } from '../../harness/test-env.js';
import { TEST_BUCKET, uniquePrefix } from '../../harness/stores.js';
import { makeTempDir } from '../../harness/tmp.js';

const hasBarman = fs.existsSync('/usr/bin/barman-cloud-backup-list');
const ID = '20260101T000000';
const work = makeTempDir('cred-exit');

function commands(url: string): Array<[string, string[]]> {
  return [
    ['barman-cloud-check-wal-archive', [url, 'srv']],
    ['barman-cloud-backup-list', [url, 'srv']],
    ['barman-cloud-backup-show', [url, 'srv', ID]],
    ['barman-cloud-backup-delete', [url, 'srv', '-b', ID]],
    ['barman-cloud-backup-keep', [url, 'srv', ID, '-s']],
    ['barman-cloud-restore', [url, 'srv', ID, path.join(work, uniquePrefix('r'))]],
  ];
}

function barmanExit(prog: string, args: string[], env: Record<string, string>): number {
  const r = spawnSync(`/usr/bin/${prog}`, args, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
  return r.status ?? -1;
}

async function expect(label: string, common: string[], url: string, env: Record<string, string>, expected: number, secret: string,
  only?: readonly string[]): Promise<void> {
  for (const [prog, args] of commands(url).filter(([p]) => !only || only.includes(p))) {
    const r = await runCli(prog, [...common, ...args], { env });
    assert.equal(r.code, expected, `${label} ${prog}: ${r.stderr}`);
    assert.ok(!r.stderr.includes(secret), 'no secret printed');
    if (hasBarman) assert.equal(r.code, barmanExit(prog, [...common, ...args], env), `${label} ${prog}: barman-cloud 3.4 gives another exit code`);
  }
}

describe('refused credentials: the exit codes barman-cloud gives', { skip: skipUnlessInstalled('barman-cloud 3.4 (barman-cli-cloud)', hasBarman) }, () => {
  it('S3 (moto): a wrong secret and a key without the permission exit 4', async (t) => {
    const moto = requireServer(t, 'moto');
    if (!moto?.extra?.limitedAccessKeyId || !moto.extra.limitedSecretAccessKey) return;
    const common = ['--cloud-provider', 'aws-s3', '--endpoint-url', moto.endpoint];
    const url = `s3://${TEST_BUCKET}/${uniquePrefix('cred')}`;
    const wrong = 'wrongWRONGwrongWRONGwrongWRONGwrong2222';
    await expect('wrong secret', common, url, { AWS_ACCESS_KEY_ID: moto.accessKeyId, AWS_SECRET_ACCESS_KEY: wrong, AWS_DEFAULT_REGION: moto.region }, 4, wrong);
    // A key limited to another prefix: pgstow needs no bucket-level permission (it never sends HeadBucket, which
    // Barman's connectivity test does), so only what reads outside the prefix is refused: show and restore.
    await expect('no permission', common, url, {
      AWS_ACCESS_KEY_ID: moto.extra.limitedAccessKeyId, AWS_SECRET_ACCESS_KEY: moto.extra.limitedSecretAccessKey, AWS_DEFAULT_REGION: moto.region,
    }, 4, moto.extra.limitedSecretAccessKey, ['barman-cloud-backup-show', 'barman-cloud-restore']);
  });

  it('Azure (Azurite): a wrong account key exits 2', async (t) => {
    const az = requireServer(t, 'azurite');
    if (!az) return;
    const wrongKey = Buffer.from('not the account key, long enough').toString('base64');
    const cs = `DefaultEndpointsProtocol=http;AccountName=${az.account};AccountKey=${wrongKey};BlobEndpoint=${az.accountUrl};`;
    await expect('wrong key', ['--cloud-provider', 'azure-blob-storage'], `${az.accountUrl}/${TEST_BUCKET}/${uniquePrefix('cred')}`,
      { AZURE_STORAGE_CONNECTION_STRING: cs }, 2, wrongKey);
  });
});
