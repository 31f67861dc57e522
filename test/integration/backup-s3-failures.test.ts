/**
 * Failures on S3 (moto): an interrupted backup aborts its multipart uploads (none left dangling) and leaves
 * a FAILED backup.info; a PostgreSQL session killed mid-backup fails it "stopping backup" with the cause.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { binPath, runCli } from '../harness/cli.js';
import { storeTarget, TEST_BUCKET } from '../harness/stores.js';
import { PEER_PYTHON } from '../harness/peers.js';
import { readInfo, startArchivingPostgres } from './backup-fixtures.js';

function s3py(op: 'uploads' | 'get' | 'keys', endpoint: string, env: Record<string, string>, prefix: string): string {
  const script = `import boto3, sys, json
s3 = boto3.client('s3', endpoint_url=sys.argv[1])
op, bucket, prefix = sys.argv[2], sys.argv[3], sys.argv[4]
if op == 'uploads':
    print(json.dumps([u['Key'] for u in s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix).get('Uploads', [])]))
elif op == 'keys':
    print(json.dumps([o['Key'] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get('Contents', [])]))
else:
    sys.stdout.write(s3.get_object(Bucket=bucket, Key=prefix)['Body'].read().decode())`;
  return execFileSync(PEER_PYTHON, ['-c', script, endpoint, op, TEST_BUCKET, prefix], { env: { ...process.env, ...env }, encoding: 'utf8' });
}

test('SIGTERM during a multipart upload: uploads aborted, FAILED backup.info, exit 1', async (t) => {
  const target = storeTarget(t, 'moto', 'backup-term-s3');
  if (!target) return;
  const endpoint = target.args[target.args.indexOf('--endpoint-url') + 1] as string;
  const prefix = target.url.slice(`s3://${TEST_BUCKET}/`.length);
  const fx = await startArchivingPostgres(15, { tablespace: false, rows: 60000 });
  t.after(() => fx.cleanup());
  const child = spawn(process.execPath, [binPath('barman-cloud-backup'), ...target.args, '--max-bandwidth', '3MB', '-S', '200MB', '--min-chunk-size', '5MB', target.url, 'pg'],
    { env: { ...process.env, ...target.env, ...fx.pg.libpqEnv }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && (JSON.parse(s3py('uploads', endpoint, target.env, prefix)) as string[]).length === 0) await new Promise((r) => setTimeout(r, 200));
  assert.ok((JSON.parse(s3py('uploads', endpoint, target.env, prefix)) as string[]).length > 0, 'a multipart upload was in progress');
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  assert.equal(code, 1, stderr);
  assert.deepEqual(JSON.parse(s3py('uploads', endpoint, target.env, prefix)), [], 'no dangling multipart upload');
  const keys = JSON.parse(s3py('keys', endpoint, target.env, prefix)) as string[];
  assert.equal(keys.length, 1, keys.join(' '));
  assert.match(keys[0] as string, /\/pg\/base\/\d{8}T\d{6}\/backup\.info$/);
  const info = readInfo(s3py('get', endpoint, target.env, keys[0] as string));
  assert.equal(info.status, 'FAILED');
  assert.match(info.error ?? '', /^failure uploading data \(interrupted by SIGTERM\)$/);
});

test('the PostgreSQL session killed during the backup: FAILED "stopping backup" naming the cause, exit 1', async (t) => {
  const target = storeTarget(t, 'moto', 'backup-killpg');
  if (!target) return;
  const endpoint = target.args[target.args.indexOf('--endpoint-url') + 1] as string;
  const prefix = target.url.slice(`s3://${TEST_BUCKET}/`.length);
  const fx = await startArchivingPostgres(15, { tablespace: false, rows: 40000 });
  t.after(() => fx.cleanup());
  const run = runCli('barman-cloud-backup', [...target.args, '--max-bandwidth', '4MB', target.url, 'pg'], { env: { ...target.env, ...fx.pg.libpqEnv } });
  await fx.pg.waitFor('the backup session', async () => (await fx.pg.query<{ n: string }>("SELECT count(*)::text AS n FROM pg_stat_activity WHERE application_name = 'barman_cloud_backup'"))[0]?.n === '1');
  await new Promise((r) => setTimeout(r, 500));
  await fx.pg.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'barman_cloud_backup'");
  const r = await run;
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /failed stopping backup/);
  const keys = JSON.parse(s3py('keys', endpoint, target.env, prefix)) as string[];
  const infoKey = keys.find((k) => k.endsWith('backup.info')) as string;
  const info = readInfo(s3py('get', endpoint, target.env, infoKey));
  assert.equal(info.status, 'FAILED');
  assert.match(info.error ?? '', /^failure stopping backup \(.*terminat.*\)$/);
  assert.deepEqual(JSON.parse(s3py('uploads', endpoint, target.env, prefix)), []);
});
