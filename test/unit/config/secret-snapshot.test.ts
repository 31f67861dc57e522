/**
 * A mounted Secret is read as one version per load, whatever kubelet does between two reads. kubelet's
 * AtomicWriter updates a Secret volume by writing a new `..<timestamp>` directory, pointing a new `..data_tmp`
 * symlink at it, renaming that over `..data` and removing the old directory. Here that swap is made at a chosen
 * point (right after the first key file is read) through the source's file system seam, so the torn read that
 * config-rotation's test caught only now and then under load happens on every run.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTempDir, removeDir } from '../../harness/tmp.js';
import { manifestView } from '../../harness/store-options.js';
import { loadConfig } from '../../../src/config/load-config.js';
import { DirectorySecretSource, ManifestSecretSource, type SecretDirectoryIo } from '../../../src/config/secrets.js';

let dir: string;
let serial = 0;

before(() => { dir = makeTempDir('secret-snapshot'); });
after(() => { removeDir(dir); });

const CLUSTER = `apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: pg, namespace: prod}
spec:
  backup:
    barmanObjectStore:
      destinationPath: s3://bucket/prefix
      s3Credentials:
        accessKeyId: {name: aws-creds, key: ACCESS_KEY_ID}
        secretAccessKey: {name: aws-creds, key: ACCESS_SECRET_KEY}
`;

const version = (n: number): Record<string, string> => ({ ACCESS_KEY_ID: `AKIA${n}`, ACCESS_SECRET_KEY: `secret-${n}` });

/**
 * Writes a Secret version as kubelet's AtomicWriter does. With `keepOld`, the old timestamped directory stays
 * (kubelet removes it right after the rename; the reader may still be between the two).
 */
function kubeletWrite(sdir: string, data: Record<string, string>, keepOld = false): void {
  fs.mkdirSync(sdir, { recursive: true });
  const ts = path.join(sdir, `..2026_12_08_01_20_${String(++serial).padStart(2, '0')}.${process.pid}`);
  fs.mkdirSync(ts);
  for (const [k, v] of Object.entries(data)) fs.writeFileSync(path.join(ts, k), v);
  const dataLink = path.join(sdir, '..data');
  const old = fs.existsSync(dataLink) ? fs.readlinkSync(dataLink) : undefined;
  fs.symlinkSync(path.basename(ts), path.join(sdir, '..data_tmp'));
  fs.renameSync(path.join(sdir, '..data_tmp'), dataLink);
  for (const k of Object.keys(data)) if (!fs.existsSync(path.join(sdir, k))) fs.symlinkSync(path.join('..data', k), path.join(sdir, k));
  if (old && !keepOld) fs.rmSync(path.join(sdir, old), { recursive: true });
}

/** Real file system calls; after the first `swapsLeft` key reads under `sdir`, kubelet writes the next version. */
function swappingIo(sdir: string, opts: { swaps: number; keepOld?: boolean; from: number }): SecretDirectoryIo & { swapped: number } {
  const io = {
    swapped: 0,
    realpath: (f: string) => fs.promises.realpath(f),
    readdir: (d: string) => fs.promises.readdir(d),
    readFile: async (f: string) => {
      const value = await fs.promises.readFile(f, 'utf8');
      if (path.dirname(f).startsWith(sdir) && io.swapped < opts.swaps) {
        io.swapped++;
        kubeletWrite(sdir, version(opts.from + io.swapped), opts.keepOld);
      }
      return value;
    },
  };
  return io;
}

async function readPair(source: DirectorySecretSource): Promise<[string, string]> {
  const id = await source.lookup('prod', 'aws-creds', 'ACCESS_KEY_ID');
  const secret = await source.lookup('prod', 'aws-creds', 'ACCESS_SECRET_KEY');
  assert.ok(id.found && secret.found);
  return [id.value, secret.value];
}

for (const keepOld of [false, true]) {
  test(`a kubelet swap between the reads of two keys gives both keys of one version (old directory ${keepOld ? 'kept for a while' : 'removed at once'})`, async () => {
    const root = path.join(dir, `pair-${keepOld}`);
    const sdir = path.join(root, 'aws-creds');
    kubeletWrite(sdir, version(1));
    const io = swappingIo(sdir, { swaps: 1, keepOld, from: 1 });
    const [id, secret] = await readPair(new DirectorySecretSource(root, io));
    assert.equal(io.swapped, 1, 'the swap happened between the reads');
    assert.equal(secret, `secret-${id.slice('AKIA'.length)}`, `access key ${id} with the secret of another version (${secret})`);
  });
}

test('a whole load (the resolver, through loadConfig) resolves the key pair from one version across the swap', async () => {
  const root = path.join(dir, 'load');
  const sdir = path.join(root, 'aws-creds');
  kubeletWrite(sdir, version(1));
  const cfg = path.join(dir, 'load.yaml');
  fs.writeFileSync(cfg, CLUSTER);
  const io = swappingIo(sdir, { swaps: 1, from: 1 });
  const sources = [new ManifestSecretSource([], [cfg]), new DirectorySecretSource(root, io)];
  const c = await loadConfig({ configFile: cfg, kubernetes: 'never', env: { HOME: dir }, sources });
  const { env } = await manifestView(c, {});
  assert.equal(io.swapped, 1);
  assert.deepEqual([env.AWS_ACCESS_KEY_ID, env.AWS_SECRET_ACCESS_KEY], ['AKIA2', 'secret-2'], 'the version that was current when the read ended');

  // The same sources kept for the next load read the Secret again (they do not answer from the last snapshot).
  kubeletWrite(sdir, version(7));
  const next = await manifestView(await loadConfig({ configFile: cfg, kubernetes: 'never', env: { HOME: dir }, sources }), {});
  assert.deepEqual([next.env.AWS_ACCESS_KEY_ID, next.env.AWS_SECRET_ACCESS_KEY], ['AKIA7', 'secret-7']);
});

test('a Secret swapped under every read gives up with an error naming the directory, not a mixed pair', async () => {
  const root = path.join(dir, 'busy');
  const sdir = path.join(root, 'aws-creds');
  kubeletWrite(sdir, version(1));
  const io = swappingIo(sdir, { swaps: 100, from: 1 });
  await assert.rejects(readPair(new DirectorySecretSource(root, io)), (err: Error) => {
    assert.match(err.message, /secret directory .*busy\/aws-creds changed 5 times while it was read/);
    assert.doesNotMatch(err.message, /AKIA|secret-\d/);
    return true;
  });
});

test('a plain directory (no ..data) is read as it is; a missing key lists the keys there', async () => {
  const sdir = path.join(dir, 'plain', 'aws-creds');
  fs.mkdirSync(sdir, { recursive: true });
  fs.writeFileSync(path.join(sdir, 'ACCESS_KEY_ID'), 'AKIAPLAIN');
  fs.writeFileSync(path.join(sdir, 'OTHER'), 'x');
  const source = new DirectorySecretSource(path.join(dir, 'plain'));
  assert.deepEqual(await source.lookup('prod', 'aws-creds', 'ACCESS_KEY_ID'), { found: true, value: 'AKIAPLAIN', origin: `file ${path.join(sdir, 'ACCESS_KEY_ID')}` });
  const miss = await source.lookup('prod', 'aws-creds', 'ACCESS_SECRET_KEY');
  assert.deepEqual(miss, { found: false, secretExists: true, keys: ['ACCESS_KEY_ID', 'OTHER'], looked: `directory ${sdir}` });
  const none = await source.lookup('prod', 'nothing', 'KEY');
  assert.equal(none.found, false);
  assert.equal(!none.found && none.secretExists, false);
});
