/**
 * Defect 7: CloudNativePG runs barman-cloud-check-wal-archive, then barman-cloud-wal-archive on a new cluster's
 * first segment. Barman ≥ 3.16 creates a missing bucket in check-wal-archive, Barman 3.4 in wal-archive; pgstow
 * exited 0, then 4 ("bucket does not exist") on every retry, so archiving never started. Now both create it where
 * the credentials allow, and say which permission is missing where they do not.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { runCli } from '../../harness/cli.js';
import { requireServer } from '../../harness/test-env.js';
import { makeTempDir } from '../../harness/tmp.js';
import { syntheticSegment } from '../../harness/wal-segments.js';

const SEG = '000000010000000000000001';
const fresh = (label: string): string => `pgstow-${label}-${randomBytes(4).toString('hex')}`;

function walFile(): string {
  const f = path.join(makeTempDir('bucket-creation'), SEG);
  fs.writeFileSync(f, syntheticSegment(SEG));
  return f;
}

describe('a destination whose bucket or container does not exist yet', () => {
  it('S3 (moto): check-wal-archive creates the bucket (Barman ≥ 3.16), then wal-archive and wal-restore work', async (t) => {
    const moto = requireServer(t, 'moto');
    if (!moto) return;
    const env = { AWS_ACCESS_KEY_ID: moto.accessKeyId, AWS_SECRET_ACCESS_KEY: moto.secretAccessKey, AWS_DEFAULT_REGION: moto.region };
    const args = ['--cloud-provider', 'aws-s3', '--endpoint-url', moto.endpoint];
    const url = `s3://${fresh('cnpg')}/cluster-example`;
    const check = await runCli('barman-cloud-check-wal-archive', [...args, url, 'cluster-example'], { env });
    assert.equal(check.code, 0, check.stderr);
    const file = walFile();
    const archive = await runCli('barman-cloud-wal-archive', [...args, url, 'cluster-example', file], { env });
    assert.equal(archive.code, 0, archive.stderr);
    const dest = path.join(path.dirname(file), 'restored');
    assert.equal((await runCli('barman-cloud-wal-restore', [...args, url, 'cluster-example', SEG, dest], { env })).code, 0);
    assert.ok(fs.readFileSync(dest).equals(fs.readFileSync(file)));
  });

  it('S3 (moto): wal-archive alone creates it too (Barman 3.4)', async (t) => {
    const moto = requireServer(t, 'moto');
    if (!moto) return;
    const env = { AWS_ACCESS_KEY_ID: moto.accessKeyId, AWS_SECRET_ACCESS_KEY: moto.secretAccessKey, AWS_DEFAULT_REGION: moto.region };
    const args = ['--cloud-provider', 'aws-s3', '--endpoint-url', moto.endpoint];
    const url = `s3://${fresh('b34')}/p`;
    const r = await runCli('barman-cloud-wal-archive', [...args, '-z', url, 'srv', walFile()], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await runCli('barman-cloud-check-wal-archive', [...args, url, 'srv'], { env })).code, 1, 'the archive now holds WAL');
  });

  it('S3 (moto): credentials that may not create buckets: exit 4 naming the bucket and s3:CreateBucket, no secret', async (t) => {
    const moto = requireServer(t, 'moto');
    if (!moto?.extra?.noCreateAccessKeyId || !moto.extra.noCreateSecretAccessKey) return;
    const env = { AWS_ACCESS_KEY_ID: moto.extra.noCreateAccessKeyId, AWS_SECRET_ACCESS_KEY: moto.extra.noCreateSecretAccessKey, AWS_DEFAULT_REGION: moto.region };
    const args = ['--cloud-provider', 'aws-s3', '--endpoint-url', moto.endpoint];
    const bucket = fresh('denied');
    for (const [prog, extra] of [['barman-cloud-check-wal-archive', []], ['barman-cloud-wal-archive', [walFile()]]] as Array<[string, string[]]>) {
      const r = await runCli(prog, [...args, `s3://${bucket}/p`, 'srv', ...extra], { env });
      assert.equal(r.code, 4, `${prog}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`bucket ${bucket} does not exist .* may not create it \\(s3:CreateBucket denied\\)`));
      assert.ok(!r.stderr.includes(env.AWS_SECRET_ACCESS_KEY));
    }
  });

  it('Azure (Azurite): check-wal-archive creates the container, then wal-archive works; wal-archive alone too', async (t) => {
    const az = requireServer(t, 'azurite');
    if (!az) return;
    const env = { AZURE_STORAGE_CONNECTION_STRING: az.connectionString };
    const args = ['--cloud-provider', 'azure-blob-storage'];
    const c1 = `${az.accountUrl}/${fresh('cnpg')}/cluster-example`;
    assert.equal((await runCli('barman-cloud-check-wal-archive', [...args, c1, 'cluster-example'], { env })).code, 0);
    const a1 = await runCli('barman-cloud-wal-archive', [...args, c1, 'cluster-example', walFile()], { env });
    assert.equal(a1.code, 0, a1.stderr);
    const c2 = `${az.accountUrl}/${fresh('b34')}/p`;
    const a2 = await runCli('barman-cloud-wal-archive', [...args, '--lz4', c2, 'srv', walFile()], { env });
    assert.equal(a2.code, 0, a2.stderr);
  });

  it('Azure (Azurite): a container SAS cannot create containers: non-zero, naming the container and the permission', async (t) => {
    const az = requireServer(t, 'azurite');
    if (!az) return;
    const { ContainerSASPermissions, StorageSharedKeyCredential, generateBlobSASQueryParameters } = await import('@azure/storage-blob');
    const container = fresh('sas');
    const sas = generateBlobSASQueryParameters({ containerName: container, permissions: ContainerSASPermissions.parse('racwdl'), expiresOn: new Date(Date.now() + 3600_000) },
      new StorageSharedKeyCredential(az.account, az.accountKey)).toString();
    const r = await runCli('barman-cloud-wal-archive', ['--cloud-provider', 'azure-blob-storage', `${az.accountUrl}/${container}/p`, 'srv', walFile()],
      { env: { AZURE_STORAGE_CONNECTION_STRING: `BlobEndpoint=${az.accountUrl};SharedAccessSignature=${sas}` } });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`container "${container}" does not exist .* may not create it \\(needs permission to create containers`));
    assert.ok(!r.stderr.includes(sas.split('sig=')[1] ?? 'nothing'), 'the SAS signature is never printed');
  });
});
