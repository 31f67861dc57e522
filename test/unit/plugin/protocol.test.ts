/**
 * The project's .proto files against the CNPG-I tables: wire paths (package quirks included) and field
 * numbers, checked on the encoded bytes so a renumbered field cannot pass.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import { promisify } from 'node:util';
import { DESCRIPTOR_FILE, loadCnpgiDefinitions, parseProtoFiles, protoRoot, SERVICE_NAMES } from '../../../src/plugin/protocol/load-protos.js';

const LOADER = new URL('../../../src/plugin/protocol/load-protos.js', import.meta.url);

test('the build\'s descriptor is the .proto files as they are now', async () => {
  const built: unknown = JSON.parse(await fsp.readFile(new URL(DESCRIPTOR_FILE, LOADER), 'utf8'));
  const parsed = await parseProtoFiles(await protoRoot());
  assert.deepEqual(built, JSON.parse(JSON.stringify(parsed.toJSON())));
});

test('the services load without a .proto parser or @grpc/proto-loader (the sidecar\'s start)', async () => {
  const script = `const { loadCnpgiDefinitions } = await import(${JSON.stringify(LOADER.href)});
await loadCnpgiDefinitions();
const { createRequire } = await import('node:module');
console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
  const loaded = JSON.parse(stdout) as string[];
  assert.ok(loaded.some((f) => /[\\/]protobufjs[\\/]/.test(f)), 'protobufjs encodes the messages');
  assert.deepEqual(loaded.filter((f) => /[\\/](proto-loader|parse\.js|tokenize\.js)$|[\\/]@grpc[\\/]proto-loader[\\/]|[\\/]ext[\\/]descriptor[\\/]/.test(f)), []);
});

test('every service answers on the wire path CloudNativePG calls', async () => {
  const defs = await loadCnpgiDefinitions();
  const paths = Object.fromEntries(Object.entries(defs).map(([name, d]) => [name, Object.values(d).map((m) => m.path).sort()]));
  assert.deepEqual(paths, {
    Identity: ['/cnpgi.identity.v1.Identity/GetPluginCapabilities', '/cnpgi.identity.v1.Identity/GetPluginMetadata', '/cnpgi.identity.v1.Identity/Probe'],
    WAL: ['/cnpgi.wal.v1.WAL/Archive', '/cnpgi.wal.v1.WAL/GetCapabilities', '/cnpgi.wal.v1.WAL/Restore', '/cnpgi.wal.v1.WAL/SetFirstRequired', '/cnpgi.wal.v1.WAL/Status'],
    Backup: ['/cnpgi.backup.v1.Backup/Backup', '/cnpgi.backup.v1.Backup/GetCapabilities'],
    RestoreJobHooks: ['/cnpgi.wal.v1.RestoreJobHooks/GetCapabilities', '/cnpgi.wal.v1.RestoreJobHooks/Restore'],
    OperatorLifecycle: ['/cnpgi.operator_lifecycle.v1.OperatorLifecycle/GetCapabilities', '/cnpgi.operator_lifecycle.v1.OperatorLifecycle/LifecycleHook'],
    ReconcilerHooks: ['/cnpgi.reconciler.v1.ReconcilerHooks/GetCapabilities', '/cnpgi.reconciler.v1.ReconcilerHooks/Post', '/cnpgi.reconciler.v1.ReconcilerHooks/Pre'],
    Operator: ['/cnpgi.operator.v1.Operator/Deregister', '/cnpgi.operator.v1.Operator/GetCapabilities', '/cnpgi.operator.v1.Operator/MutateCluster',
      '/cnpgi.operator.v1.Operator/SetStatusInCluster', '/cnpgi.operator.v1.Operator/ValidateClusterChange', '/cnpgi.operator.v1.Operator/ValidateClusterCreate'],
    Metrics: ['/cnpgi.metrics.v1.Metrics/Collect', '/cnpgi.metrics.v1.Metrics/Define', '/cnpgi.metrics.v1.Metrics/GetCapabilities'],
    Postgres: ['/cnpgi.identity.v1.Postgres/EnrichConfiguration', '/cnpgi.identity.v1.Postgres/GetCapabilities'],
    Health: ['/grpc.health.v1.Health/Check', '/grpc.health.v1.Health/Watch'],
  });
  assert.equal(SERVICE_NAMES.RestoreJobHooks, 'cnpgi.wal.v1.RestoreJobHooks');
});

/** Field number → wire type of every top-level field in an encoded message. */
function tags(buf: Buffer): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let i = 0;
  const varint = (): number => { let v = 0; let s = 0; for (;;) { const b = buf[i++] as number; v += (b & 0x7f) * 2 ** s; s += 7; if (b < 0x80) return v; } };
  while (i < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    out.push([field, wire]);
    if (wire === 0) varint();
    else if (wire === 1) i += 8;
    else if (wire === 2) { const len = varint(); i += len; }
    else if (wire === 5) i += 4;
    else throw new Error(`wire type ${wire}`);
  }
  return out;
}

test('BackupResult field numbers are the table\'s (1..13), with int64 times and a map', async () => {
  const defs = await loadCnpgiDefinitions();
  const m = defs.Backup.Backup as unknown as { responseSerialize(v: unknown): Buffer; responseDeserialize(b: Buffer): Record<string, unknown> };
  const value = {
    backup_id: '20261201T000000', backup_name: 'backup-20261201000000', started_at: 1764547200, stopped_at: 1764547260,
    begin_wal: '000000010000000000000002', end_wal: '000000010000000000000003', begin_lsn: '0/2000028', end_lsn: '0/3000100',
    backup_label_file: Buffer.from('label'), tablespace_map_file: Buffer.from('map'), instance_id: 'cluster-example-1', online: true,
    metadata: { clusterUID: 'u' },
  };
  const bytes = m.responseSerialize(value);
  assert.deepEqual(tags(bytes), [[1, 2], [2, 2], [3, 0], [4, 0], [5, 2], [6, 2], [7, 2], [8, 2], [9, 2], [10, 2], [11, 2], [12, 0], [13, 2]]);
  const back = m.responseDeserialize(bytes);
  assert.equal(back.started_at, 1764547200);
  assert.deepEqual(back.metadata, { clusterUID: 'u' });
});

test('optional check_empty_wal_archive: absent when unset, present as false when false (field 4)', async () => {
  const defs = await loadCnpgiDefinitions();
  const m = defs.WAL.Archive as unknown as { requestSerialize(v: unknown): Buffer; requestDeserialize(b: Buffer): Record<string, unknown> };
  const base = { cluster_definition: Buffer.from('{}'), source_file_name: '/pgdata/pg_wal/000000010000000000000001' };
  const unset = m.requestSerialize(base);
  const no = m.requestSerialize({ ...base, check_empty_wal_archive: false });
  const yes = m.requestSerialize({ ...base, check_empty_wal_archive: true });
  assert.deepEqual(tags(unset).map(([f]) => f), [1, 2]);
  assert.deepEqual(tags(no), [[1, 2], [2, 2], [4, 0]]);
  assert.equal(m.requestDeserialize(unset).check_empty_wal_archive, undefined);
  assert.equal(m.requestDeserialize(no).check_empty_wal_archive, false);
  assert.equal(m.requestDeserialize(yes).check_empty_wal_archive, true);
});

test('WALRestoreRequest mode is field 5 with REWIND = 2; an old operator\'s request decodes as MODE_UNSPECIFIED', async () => {
  const defs = await loadCnpgiDefinitions();
  const m = defs.WAL.Restore as unknown as { requestSerialize(v: unknown): Buffer; requestDeserialize(b: Buffer): Record<string, unknown> };
  const bytes = m.requestSerialize({ cluster_definition: Buffer.from('{}'), source_wal_name: 'x', destination_file_name: '/d', mode: 'MODE_REWIND' });
  assert.deepEqual(tags(bytes), [[1, 2], [2, 2], [3, 2], [5, 0]]);
  assert.equal(bytes.at(-1), 2);
  const old = m.requestSerialize({ cluster_definition: Buffer.from('{}'), source_wal_name: 'x', destination_file_name: '/d' });
  assert.equal(m.requestDeserialize(old).mode, 'MODE_UNSPECIFIED');
});

test('capability enums and oneof wrappers encode with the table\'s numbers', async () => {
  const defs = await loadCnpgiDefinitions();
  const caps = defs.Identity.GetPluginCapabilities as unknown as { responseSerialize(v: unknown): Buffer };
  // capabilities(1) { service(1) { type(1) = TYPE_METRICS (10) } }
  assert.deepEqual([...caps.responseSerialize({ capabilities: [{ service: { type: 'TYPE_METRICS' } }] })], [0x0a, 0x04, 0x0a, 0x02, 0x08, 10]);
  const op = defs.Operator.GetCapabilities as unknown as { responseSerialize(v: unknown): Buffer };
  assert.deepEqual([...op.responseSerialize({ capabilities: [{ rpc: { type: 'TYPE_SET_STATUS_IN_CLUSTER' } }] })], [0x0a, 0x04, 0x0a, 0x02, 0x08, 5]);
  const rj = defs.RestoreJobHooks.GetCapabilities as unknown as { responseSerialize(v: unknown): Buffer };
  assert.deepEqual([...rj.responseSerialize({ capabilities: [{ kind: 'KIND_RESTORE' }] })], [0x0a, 0x02, 0x08, 1]);
  const metric = defs.Metrics.Define as unknown as { responseSerialize(v: unknown): Buffer };
  const bytes = metric.responseSerialize({ metrics: [{ fq_name: 'a', help: 'h', variable_labels: ['l'], const_labels: { k: 'v' }, value_type: { type: 'TYPE_GAUGE' } }] });
  assert.deepEqual(tags(bytes.subarray(2)), [[1, 2], [2, 2], [3, 2], [4, 2], [5, 2]]);
  assert.deepEqual([...bytes.subarray(-2)], [0x08, 2]);
});
