/**
 * --config on commands: the URL and server-name positionals become optional for pgstow commands (not for the
 * barman-cloud-* drop-ins), command-line options override the file, and the command's engine opens the store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../../harness/postgres.js';
import { makeTempDir } from '../../harness/tmp.js';
import { syntheticSegment } from '../../harness/wal-segments.js';
import type { CommandSpec } from '../../../src/config/argv.js';
import { COMMON_OPTIONS, destinationOf, parseCommandArgs } from '../../../src/cli/common-options.js';
import { commandSettings, loadCommandConfig as loadConfigFromArgs, openCommandEngine } from '../../../src/cli/command-engine.js';
import type { CommandContext } from '../../../src/cli/command.js';
import { silentLogger } from '../../../src/cli/logger.js';
import { UsageError } from '../../../src/errors.js';
import { revealText } from '../../../src/secret.js';
import type { EngineSettings } from '../../../src/engine/index.js';

/** The access key pair the settings hold (the credentials the store will sign with). */
function keys(s: EngineSettings): { id: string; secret: string } | undefined {
  const c = s.credentials;
  return c?.kind === 's3-access-key' ? { id: revealText(c.accessKeyId), secret: revealText(c.secretAccessKey) } : undefined;
}

const FIX = path.join(REPO_ROOT, 'test', 'fixtures', 'cnpg');
const runtime = makeTempDir('config-options');
const baseEnv = { PGSTOW_RUNTIME_DIR: runtime, HOME: runtime };

const walArchive: CommandSpec = {
  name: 'pgstow wal-archive', summary: '', options: COMMON_OPTIONS,
  positionals: [{ name: 'destinationUrl', help: '' }, { name: 'serverName', help: '' }, { name: 'walPath', help: '', optional: true }],
};

function ctx(env: Record<string, string>, barmanMode = false): CommandContext {
  return { invokedAs: 'pgstow wal-archive', barmanMode, env, stdout: process.stdout, stderr: process.stderr, log: silentLogger, secrets: [], signal: new AbortController().signal };
}

test('with --config the destination and server name positionals may be left out (pgstow only)', async () => {
  const argv = ['--config', path.join(FIX, 'minio-gateway.yaml'), '--secrets', path.join(FIX, 'secrets.yaml'), 'pg_wal/000000010000000000000001'];
  const args = parseCommandArgs(walArchive, argv, baseEnv, false);
  assert.deepEqual(args.positionals, { walPath: 'pg_wal/000000010000000000000001' });
  assert.throws(() => parseCommandArgs(walArchive, argv, baseEnv, true), UsageError, 'barman-cloud-* keep Barman\'s positionals');
  assert.throws(() => parseCommandArgs(walArchive, ['pg_wal/x'], baseEnv, false), /required: serverName/, 'no config: usual usage error');
  const c = ctx(baseEnv);
  const config = await loadConfigFromArgs(args, c);
  assert.ok(config);
  assert.deepEqual(destinationOf(args, config), { url: 's3://BUCKET_NAME/', serverName: 'cluster-example' });
  const { settings: o } = await commandSettings('wal-archive', args, c, config);
  assert.equal(o.endpointUrl, 'http://minio-gateway-service:9000');
  assert.equal(keys(o)?.secret, 'fixture-minio-secret-never-printed');
  assert.ok(c.secrets.includes('fixture-minio-secret-never-printed'), 'secret values registered with the redactor');
});

test('PGSTOW_CONFIG works for pgstow commands, not for barman-cloud-* drop-ins', () => {
  const env = { ...baseEnv, PGSTOW_CONFIG: path.join(FIX, 'minio-gateway.yaml') };
  assert.deepEqual(parseCommandArgs(walArchive, ['pg_wal/x'], env, false).positionals, { walPath: 'pg_wal/x' });
  assert.throws(() => parseCommandArgs(walArchive, ['pg_wal/x'], env, true), UsageError);
});

test('command-line options and positionals override the file', async () => {
  const args = parseCommandArgs(walArchive, ['--config', path.join(FIX, 'minio-gateway.yaml'), '--secrets', path.join(FIX, 'secrets.yaml'),
    '--endpoint-url', 'http://127.0.0.1:9000', '--s3-addressing-style', 'virtual', '--read-timeout', '5', 's3://other/prefix', 'srv2', 'pg_wal/x'], baseEnv, false);
  const config = await loadConfigFromArgs(args, ctx(baseEnv));
  assert.ok(config);
  assert.equal(config.serverName, 'srv2');
  assert.equal(config.serverNameReason, 'given on the command line');
  const { url, serverName } = destinationOf(args, config);
  assert.deepEqual({ url, serverName }, { url: 's3://other/prefix', serverName: 'srv2' });
  const { settings: o } = await commandSettings('wal-archive', args, ctx(baseEnv), config);
  assert.equal(o.destination, 's3://other/prefix');
  assert.equal(o.endpointUrl, 'http://127.0.0.1:9000');
  assert.equal(o.readTimeoutSeconds, 5);
  assert.equal(o.s3?.addressingStyle, 'virtual');
  assert.equal(keys(o)?.id, 'MINIOFIXTURE0001', 'credentials still from the manifest');
});

test('ObjectStore without a Cluster needs a server name: --server-name or the positional', async () => {
  const dir = makeTempDir('objectstore');
  const f = path.join(dir, 'os.yaml');
  fs.writeFileSync(f, fs.readFileSync(path.join(FIX, 'plugin-object-store.yaml'), 'utf8').split('\n---\n')[0] ?? '');
  const base = ['--config', f, '--secrets', path.join(FIX, 'secrets.yaml')];
  const noName = parseCommandArgs(walArchive, [...base, 'pg_wal/x'], baseEnv, false);
  const c1 = await loadConfigFromArgs(noName, ctx(baseEnv));
  assert.throws(() => destinationOf(noName, c1), /no server name \(not set: an ObjectStore has no serverName \(pass SERVER_NAME or --server-name\)\)/);
  const named = parseCommandArgs(walArchive, [...base, '--server-name', 'pg-main', 'pg_wal/x'], baseEnv, false);
  assert.equal(destinationOf(named, await loadConfigFromArgs(named, ctx(baseEnv))).serverName, 'pg-main');
});

test('the command\'s engine opens the store with the manifest\'s server name (a file destination given as override)', async () => {
  const dir = makeTempDir('compose');
  const args = parseCommandArgs(walArchive, ['--config', path.join(FIX, 'aws-s3-keys.yaml'), '--secrets', path.join(FIX, 'secrets.yaml'),
    '--cloud-provider', 'file', `file://${dir}`, 'pg-backup'], baseEnv, false);
  const c = await openCommandEngine('wal-archive', args, ctx(baseEnv));
  try {
    assert.equal(c.settings.provider, 'file');
    assert.equal(c.serverName, 'pg-backup');
    assert.equal(c.config?.credentials.method, 's3-access-keys');
    const wal = path.join(dir, '000000010000000000000001');
    fs.writeFileSync(wal, syntheticSegment('000000010000000000000001'));
    await c.engine.archiveWal(wal);
    assert.ok(fs.existsSync(path.join(dir, 'pg-backup', 'wals', '0000000100000000', '000000010000000000000001')));
  } finally {
    await c.close();
  }
});

test('backup delete with a manifest applies its retention policy (as CNPG does after each backup); -b wins', async () => {
  const { runCli } = await import('../../harness/cli.js');
  const store = makeTempDir('bd-store');
  const base = ['backup', 'delete', '--config', path.join(FIX, 'plugin-object-store.yaml'), '--secrets', path.join(FIX, 'secrets.yaml'), '--cloud-provider', 'file', `file://${store}`, 'pg1', '--dry-run'];
  const r = await runCli('pgstow', base, { env: baseEnv });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Retention policy RECOVERY WINDOW OF 30 DAYS/m);
  const byId = await runCli('pgstow', [...base, '-b', '20260101T000000'], { env: baseEnv });
  assert.doesNotMatch(byId.stdout + byId.stderr, /RECOVERY WINDOW/);
  assert.doesNotMatch(byId.stderr, /not allowed with/);
});
