/**
 * The plugin server on a real Unix socket, called by a real grpc-js client: Identity advertises exactly what
 * is served, errors map to status codes with redacted text, a stale socket is replaced, a file is not, the
 * health service and `pgstow plugin healthcheck unix`, and a graceful shutdown that lets calls finish.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { status as GrpcCode, type ServiceError } from '@grpc/grpc-js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';
import { runCli } from '../../../src/cli/main.js';
import { OperationError } from '../../../src/errors.js';
import { PluginServer } from '../../../src/plugin/grpc-server.js';
import { GrpcStatusError } from '../../../src/plugin/grpc-status.js';
import { pluginMetadata } from '../../../src/plugin/identity-service.js';
import { createJsonLogger, SecretRegistry } from '../../../src/plugin/json-logger.js';
import { CnpgiClient } from '../../../src/plugin/protocol/client.js';
import { service } from '../../../src/plugin/protocol/service-types.js';

let dir: string;
const NAME = 'barman-cloud.cloudnative-pg.io';
before(() => { dir = makeTempDir('plugin-server'); });
after(() => removeDir(dir));

function logSink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString() };
}

async function startWal(sub: string, handlers: Parameters<typeof service<'WAL'>>[2], secrets?: SecretRegistry): Promise<{ server: PluginServer; client: CnpgiClient; socket: string; logs: () => string }> {
  const socket = path.join(dir, sub, NAME);
  const sink = logSink();
  const log = createJsonLogger({ stream: sink.stream, level: 'debug', ...(secrets ? { secrets } : {}) });
  const server = await PluginServer.start({
    address: { kind: 'unix', path: socket }, metadata: pluginMetadata(NAME), log,
    services: [service('WAL', 'TYPE_WAL_SERVICE', { GetCapabilities: () => ({ capabilities: [{ rpc: { type: 'TYPE_ARCHIVE_WAL' as const } }] }), ...handlers })],
    ...(secrets ? { secrets } : {}),
  });
  const client = await CnpgiClient.connect(`unix://${socket}`);
  return { server, client, socket, logs: sink.text };
}

const req = { cluster_definition: Buffer.from('{}'), source_file_name: '/x/pg_wal/000000010000000000000001', parameters: {} };

test('answers that depend on nothing (GetCapabilities, Identity) are computed once, then served as kept', async () => {
  let asked = 0;
  const { server, client } = await startWal('fixed', { GetCapabilities: () => { asked++; return { capabilities: [{ rpc: { type: 'TYPE_ARCHIVE_WAL' as const } }] }; } });
  try {
    for (let i = 0; i < 3; i++) {
      const wal = await client.call('WAL', 'GetCapabilities', {});
      assert.deepEqual(wal.capabilities.map((c) => c.rpc?.type), ['TYPE_ARCHIVE_WAL']);
      assert.equal((await client.call('Identity', 'Probe', {})).ready, true);
    }
    // CloudNativePG asks for it before every archive_command's Archive (a process per WAL segment).
    assert.equal(asked, 1, 'the handler ran once for three calls');
  } finally {
    client.close();
    await server.shutdown(1000, 1000);
  }
});

test('Identity: metadata name = socket name, only served services advertised, their GetCapabilities answer, Probe', async () => {
  const { server, client, socket } = await startWal('identity', {});
  try {
    assert.equal(path.basename(socket), NAME);
    const md = await client.call('Identity', 'GetPluginMetadata', {});
    assert.equal(md.name, NAME);
    assert.match(md.version, /^\d+\.\d+\.\d+/);
    const caps = await client.call('Identity', 'GetPluginCapabilities', {});
    assert.deepEqual(caps.capabilities.map((c) => c.service?.type), ['TYPE_WAL_SERVICE']);
    const wal = await client.call('WAL', 'GetCapabilities', {});
    assert.deepEqual(wal.capabilities.map((c) => c.rpc?.type), ['TYPE_ARCHIVE_WAL']);
    assert.deepEqual(await client.call('Identity', 'Probe', {}), { ready: true });
    // Not served at all, and served but not implemented: both UNIMPLEMENTED.
    await assert.rejects(client.call('Backup', 'GetCapabilities', {}), (e: ServiceError) => e.code === GrpcCode.UNIMPLEMENTED);
    await assert.rejects(client.call('WAL', 'Status', { cluster_definition: Buffer.from('{}') }), (e: ServiceError) => e.code === GrpcCode.UNIMPLEMENTED);
  } finally {
    client.close();
    await server.shutdown(1000, 100);
  }
});

test('handler failures become status codes with one redacted line; the server keeps serving', async () => {
  const secrets = new SecretRegistry();
  secrets.add(['AKIA-TOPSECRET']);
  let n = 0;
  const { server, client, logs } = await startWal('errors', {
    Archive: () => {
      n++;
      if (n === 1) throw new OperationError('ERR_WAL_NOT_FOUND', 'WAL file x does not exist in s3://b');
      if (n === 2) throw new Error('boom with AKIA-TOPSECRET\nsecond line');
      if (n === 3) throw new GrpcStatusError(GrpcCode.OUT_OF_RANGE, 'end of WAL reached');
      return {};
    },
  }, secrets);
  try {
    await assert.rejects(client.call('WAL', 'Archive', req), (e: ServiceError) => e.code === GrpcCode.NOT_FOUND && e.details === 'WAL file x does not exist in s3://b');
    await assert.rejects(client.call('WAL', 'Archive', req), (e: ServiceError) => e.code === GrpcCode.INTERNAL && e.details === 'boom with ***; second line');
    await assert.rejects(client.call('WAL', 'Archive', req), (e: ServiceError) => e.code === GrpcCode.OUT_OF_RANGE);
    assert.deepEqual(await client.call('WAL', 'Archive', req), {});
    assert.doesNotMatch(logs(), /TOPSECRET/);
    assert.match(logs(), /"level":"error","ts":"[^"]+","logger":"pgstow","msg":"boom with \*\*\*/);
  } finally {
    client.close();
    await server.shutdown(1000, 100);
  }
});

test('a stale socket left by a killed process is replaced; a regular file at the path is refused', async () => {
  const socket = path.join(dir, 'stale', NAME);
  fs.mkdirSync(path.dirname(socket), { recursive: true });
  const r = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socket)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  assert.equal(r.signal, 'SIGKILL');
  assert.equal(fs.lstatSync(socket).isSocket(), true);
  const log = createJsonLogger({ stream: new PassThrough(), level: 'error' });
  const server = await PluginServer.start({ address: { kind: 'unix', path: socket }, metadata: pluginMetadata(NAME), log, services: [] });
  const client = await CnpgiClient.connect(`unix://${socket}`);
  try {
    assert.equal((await client.call('Identity', 'GetPluginMetadata', {})).name, NAME);
  } finally {
    client.close();
    await server.shutdown(1000, 100);
  }
  assert.equal(fs.existsSync(socket), false, 'the socket is removed at shutdown');
  const file = path.join(dir, 'file', NAME);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, 'not a socket');
  await assert.rejects(PluginServer.start({ address: { kind: 'unix', path: file }, metadata: pluginMetadata(NAME), log, services: [] }), /exists and is not a socket: refusing to replace it/);
  assert.equal(fs.readFileSync(file, 'utf8'), 'not a socket');
});

test('health: SERVING for the server and each service; `pgstow plugin healthcheck unix` exits 0, and 1 without a server', async () => {
  const { server, client, socket } = await startWal('health', {});
  const run = async (): Promise<{ code: number; err: string }> => {
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (c: Buffer) => { err += c.toString(); });
    const code = await runCli('pgstow', ['plugin', 'healthcheck', 'unix', '--plugin-path', path.dirname(socket)], { env: {}, stdout: new PassThrough(), stderr });
    return { code, err };
  };
  try {
    assert.deepEqual(await client.call('Health', 'Check', { service: '' }), { status: 'SERVING' });
    assert.deepEqual(await client.call('Health', 'Check', { service: 'cnpgi.wal.v1.WAL' }), { status: 'SERVING' });
    await assert.rejects(client.call('Health', 'Check', { service: 'cnpgi.backup.v1.Backup' }), (e: ServiceError) => e.code === GrpcCode.NOT_FOUND);
    assert.equal((await run()).code, 0);
  } finally {
    client.close();
    await server.shutdown(1000, 100);
  }
  const down = await run();
  assert.equal(down.code, 1);
  assert.match(down.err, new RegExp(`pgstow plugin healthcheck: ${socket.replace(/[.]/g, '\\.')}: `));
});

test('graceful shutdown: NOT_SERVING at once, a call in flight completes, new connections are refused', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  let entered!: () => void;
  const inside = new Promise<void>((r) => { entered = r; });
  const { server, client, socket } = await startWal('shutdown', { Archive: async () => { entered(); await gate; return {}; } });
  const call = client.call('WAL', 'Archive', req);
  await inside;
  assert.equal(server.activeCalls, 1);
  const stopped = server.shutdown(10_000, 1000);
  assert.equal(server.health.get(''), 'NOT_SERVING');
  // A new call is refused, not run: by the server's gate or by the connection's GOAWAY, whichever comes first.
  let ran = false;
  await assert.rejects(client.call('WAL', 'Status', { cluster_definition: Buffer.from('{}') }).then(() => { ran = true; }), (e: ServiceError) => e.code === GrpcCode.UNAVAILABLE);
  assert.equal(ran, false);
  setTimeout(release, 200);
  assert.deepEqual(await call, {});
  await stopped;
  client.close();
  const late = await CnpgiClient.connect(`unix://${socket}`);
  try {
    await assert.rejects(late.call('Identity', 'Probe', {}, { timeoutMs: 2000 }), (e: ServiceError) => e.code === GrpcCode.UNAVAILABLE || e.code === GrpcCode.DEADLINE_EXCEEDED);
  } finally {
    late.close();
  }
});

test('a call still running when the grace period ends sees its signal aborted and fails cleanly', async () => {
  const { server, client } = await startWal('grace', {
    Archive: async (_r, ctx) => {
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      throw new GrpcStatusError(GrpcCode.UNAVAILABLE, `stopped: ${(ctx.signal.reason as Error).message}`);
    },
  });
  const call = client.call('WAL', 'Archive', req);
  await new Promise((r) => setTimeout(r, 100));
  const stopped = server.shutdown(200, 2000);
  await assert.rejects(call, (e: ServiceError) => e.code === GrpcCode.UNAVAILABLE && /the plugin is shutting down/.test(e.details));
  await stopped;
  client.close();
});
