/**
 * Start-up cost: archive_command runs pgstow once per WAL segment, so what it loads matters.
 * `--version`/`--help` must load no cloud SDK, and an S3 command must not load the Azure or Google SDKs; a GCS
 * command on an emulator loads none (its requests go out on node:http).
 * A loader hook (module.register, in a file passed with --import) records every module resolved through
 * ESM, and at exit every CommonJS module in the require cache (the AWS SDK is CommonJS).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { binPath } from '../harness/cli.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';
import { storeTarget } from '../harness/stores.js';
import { syntheticSegment } from '../harness/wal-segments.js';

const CLOUD_SDKS = { aws: /[/\\]@aws-sdk[/\\]|[/\\]@smithy[/\\]/, azure: /[/\\]@azure[/\\]/, google: /[/\\]@google-cloud[/\\]|[/\\]google-auth-library[/\\]|[/\\]gaxios[/\\]/ };

let dir: string;
let hookFile: string;

before(() => {
  dir = makeTempDir('startup');
  const hooks = path.join(dir, 'hooks.mjs');
  fs.writeFileSync(hooks, `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.PGSTOW_LOAD_LOG, r.url + '\\n');
  return r;
}
`);
  hookFile = path.join(dir, 'register.mjs');
  fs.writeFileSync(hookFile, `import { register, createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
register(pathToFileURL(${JSON.stringify(hooks)}));
const require = createRequire(import.meta.url);
process.on('exit', () => { appendFileSync(process.env.PGSTOW_LOAD_LOG, Object.keys(require('node:module')._cache).join('\\n') + '\\n'); });
`);
});
after(() => removeDir(dir));

async function loadedBy(args: string[], env: Record<string, string> = {}): Promise<{ code: number; modules: string[]; out: string }> {
  const log = path.join(dir, `load-${Math.random().toString(36).slice(2)}.log`);
  fs.writeFileSync(log, '');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', hookFile, binPath('pgstow'), ...args], {
      env: { ...process.env, ...env, PGSTOW_LOAD_LOG: log }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, modules: fs.readFileSync(log, 'utf8').split('\n').filter(Boolean), out }));
  });
}

describe('start-up cost: only the provider in use is loaded', () => {
  for (const args of [['--version'], ['--help'], ['check-store', '--help']]) {
    it(`pgstow ${args.join(' ')} loads no cloud SDK`, async () => {
      const r = await loadedBy(args);
      assert.equal(r.code, 0, r.out);
      assert.ok(r.modules.some((m) => m.includes('/dist/src/cli/')), 'the hook saw the CLI load (the probe works)');
      for (const [name, re] of Object.entries(CLOUD_SDKS)) {
        assert.deepEqual(r.modules.filter((m) => re.test(m)), [], `${name} SDK loaded by pgstow ${args.join(' ')}`);
      }
    });
  }

  it('an S3 command loads the AWS SDK but not the Azure or Google SDKs', async (t) => {
    const target = storeTarget(t, 's3rver', 'startup');
    if (!target) return;
    const r = await loadedBy(['check-store', ...target.args, target.url, 'pg1'], target.env);
    assert.equal(r.code, 0, r.out);
    assert.ok(r.modules.some((m) => CLOUD_SDKS.aws.test(m)), 'AWS SDK loaded (the probe sees CommonJS modules)');
    assert.deepEqual(r.modules.filter((m) => CLOUD_SDKS.azure.test(m) || CLOUD_SDKS.google.test(m)), []);
  });

  it('a gs:// command on an emulator loads no cloud SDK: check-store, wal-archive and wal-restore (found or not) go out on node:http (drivers/gcs/lean-*.ts)', async (t) => {
    const target = storeTarget(t, 'gcs', 'startup');
    if (!target) return;
    const r = await loadedBy(['check-store', ...target.args, target.url, 'pg1'], target.env);
    assert.equal(r.code, 0, r.out);
    assert.ok(r.modules.some((m) => /drivers[/\\]gcs[/\\]lean-reads\.js$/.test(m)), 'the probe sees the GCS driver');
    // Bundled as dist/src/vendor/@google-cloud/storage.cjs, or from node_modules: both paths match.
    assert.deepEqual(r.modules.filter((m) => CLOUD_SDKS.google.test(m) || CLOUD_SDKS.aws.test(m) || CLOUD_SDKS.azure.test(m)), []);
    const seg = path.join(dir, 'pg_wal', '000000010000000000000007');
    fs.mkdirSync(path.dirname(seg), { recursive: true });
    fs.writeFileSync(seg, syntheticSegment('000000010000000000000007'));
    const archived = await loadedBy(['wal-archive', ...target.args, target.url, 'pg1', seg], target.env);
    assert.equal(archived.code, 0, archived.out);
    assert.deepEqual(archived.modules.filter((m) => CLOUD_SDKS.google.test(m)), [], 'no Google SDK loaded by wal-archive (listing, create-only probe, upload)');
    const dest = path.join(dir, 'restored-7');
    const restored = await loadedBy(['wal-restore', ...target.args, target.url, 'pg1', '000000010000000000000007', dest], target.env);
    assert.equal(restored.code, 0, restored.out);
    assert.ok(fs.readFileSync(dest).equals(fs.readFileSync(seg)), 'the bytes archived');
    assert.deepEqual(restored.modules.filter((m) => CLOUD_SDKS.google.test(m)), [], 'no Google SDK loaded by wal-restore (listing, metadata, media)');
    const missing = await loadedBy(['wal-restore', ...target.args, target.url, 'pg1', '000000010000000000000009', path.join(dir, 'restored-gcs-9')], target.env);
    assert.equal(missing.code, 1, `a WAL not in the archive: exit 1 (${missing.out})`);
    assert.deepEqual(missing.modules.filter((m) => CLOUD_SDKS.google.test(m)), [], 'an empty listing needs no SDK either');
  });

  it('wal-archive and wal-restore run from the single-file bundle (scripts/bundle-cli.mjs); other commands from dist/', async () => {
    const seg = path.join(dir, 'pg_wal', '000000010000000000000003');
    fs.mkdirSync(path.dirname(seg), { recursive: true });
    fs.writeFileSync(seg, syntheticSegment('000000010000000000000003'));
    const store = `file://${path.join(dir, 'bundle-store')}`;
    const ours = (modules: string[]): string[] => [...new Set(modules.filter((m) => m.includes('/dist/src/') && !m.includes('/dist/src/vendor/'))
      .map((m) => m.replace(/^.*\/dist\/src\//, '')))].sort();
    const archived = await loadedBy(['wal-archive', store, 'pg1', seg]);
    assert.equal(archived.code, 0, archived.out);
    assert.deepEqual(ours(archived.modules), ['cli/bin/bundle/wal.cjs', 'cli/bin/pgstow.js', 'cli/compile-cache.js', 'cli/start.js']);
    const dest = path.join(dir, 'restored-3');
    const restored = await loadedBy(['wal-restore', store, 'pg1', '000000010000000000000003', dest]);
    assert.equal(restored.code, 0, restored.out);
    assert.deepEqual(ours(restored.modules), ['cli/bin/bundle/wal.cjs', 'cli/bin/pgstow.js', 'cli/compile-cache.js', 'cli/start.js']);
    assert.ok(fs.readFileSync(dest).equals(fs.readFileSync(seg)), 'the bundle restores the bytes archived');
    const missing = await loadedBy(['wal-restore', store, 'pg1', '000000010000000000000009', path.join(dir, 'restored-9')]);
    assert.equal(missing.code, 1, 'a WAL not in the archive: exit 1, as from dist/');
    const listed = await loadedBy(['backup', 'list', store, 'pg1']);
    assert.equal(listed.code, 0, listed.out);
    assert.ok(ours(listed.modules).includes('cli/main.js') && !ours(listed.modules).includes('cli/bin/bundle/wal.cjs'), 'backup list runs from dist/');
  });

  it('wal-archive and wal-restore with an S3 endpoint and access keys write and read without the AWS SDK client (lean path: the signer only)', async (t) => {
    const target = storeTarget(t, 's3rver', 'startup-lean');
    if (!target) return;
    const seg = path.join(dir, 'pg_wal', '000000010000000000000006');
    fs.mkdirSync(path.dirname(seg), { recursive: true });
    fs.writeFileSync(seg, syntheticSegment('000000010000000000000006'));
    const archived = await loadedBy(['wal-archive', ...target.args, target.url, 'pg1', seg], target.env);
    assert.equal(archived.code, 0, archived.out);
    assert.deepEqual(archived.modules.filter((m) => /client-s3/.test(m)), [], 'no AWS SDK client loaded by wal-archive (create-only probe, upload, verification, read-back)');
    assert.ok(archived.modules.some((m) => /signature-v4/.test(m)), 'wal-archive signed its requests with @smithy/signature-v4');
    const dest = path.join(dir, 'restored-6');
    const restored = await loadedBy(['wal-restore', ...target.args, target.url, 'pg1', '000000010000000000000006', dest], target.env);
    assert.equal(restored.code, 0, restored.out);
    assert.ok(fs.readFileSync(dest).equals(fs.readFileSync(seg)), 'the bytes archived');
    assert.deepEqual(restored.modules.filter((m) => /client-s3/.test(m)), [], 'no AWS SDK client loaded by wal-restore');
    assert.ok(restored.modules.some((m) => /signature-v4/.test(m)), 'the requests were signed with @smithy/signature-v4');
    const missing = await loadedBy(['wal-restore', ...target.args, target.url, 'pg1', '000000010000000000000009', path.join(dir, 'restored-lean-9')], target.env);
    assert.equal(missing.code, 1, `a WAL not in the archive: exit 1 (${missing.out})`);
    assert.deepEqual(missing.modules.filter((m) => /client-s3/.test(m)), [], 'an empty listing needs no SDK either');
  });

  it('wal-restore serves a spool hit without loading the store\'s SDK (a prefetch already checked the segment)', async () => {
    const spool = path.join(dir, 'spool-hit');
    fs.mkdirSync(spool, { recursive: true });
    const seg = syntheticSegment('000000010000000000000004');
    fs.writeFileSync(path.join(spool, '000000010000000000000004'), seg);
    const dest = path.join(dir, 'restored-4');
    const env = { AWS_ACCESS_KEY_ID: 'AKIDSPOOLHIT', AWS_SECRET_ACCESS_KEY: 'spool-hit-secret' };
    const r = await loadedBy(['wal-restore', '--spool-dir', spool, '--cloud-provider', 'aws-s3', '--endpoint-url', 'http://127.0.0.1:9',
      's3://no-such-bucket/x', 'pg1', '000000010000000000000004', dest], env);
    assert.equal(r.code, 0, r.out);
    assert.ok(fs.readFileSync(dest).equals(seg), 'the spooled segment is at the destination');
    assert.equal(fs.existsSync(path.join(spool, '000000010000000000000004')), false, 'and no longer in the spool');
    assert.deepEqual(r.modules.filter((m) => CLOUD_SDKS.aws.test(m)), [], 'no AWS SDK loaded for a spool hit');
    const miss = await loadedBy(['wal-restore', '--spool-dir', spool, '--cloud-provider', 'aws-s3', '--endpoint-url', 'http://127.0.0.1:9',
      's3://no-such-bucket/x', 'pg1', '000000010000000000000005', path.join(dir, 'restored-5')], env);
    assert.equal(miss.code, 2, `a spool miss goes to the store, which cannot be reached here: ${miss.out}`);
  });
});
