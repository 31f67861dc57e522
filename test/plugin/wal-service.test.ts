/**
 * The WAL service as CloudNativePG calls it, on a PGDATA laid out by hand (1 MiB segments, `.ready` files) and
 * a real S3 server configured through an ObjectStore and Secret served by the loopback Kubernetes API:
 * archive-ahead with spool markers, idempotence and refusal of different content, isWALArchiver, the
 * empty-archive check scoped to the timeline (and its annotation + marker fallback), restore with prefetch,
 * the end-of-WAL flag, REWIND, useful codes, configuration errors that name what is missing, and a rotated
 * Secret taking effect within 10 s.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { status as GrpcCode, type ServiceError } from '@grpc/grpc-js';
import { chownToPostgres } from '../harness/tmp.js';
import { syntheticSegment } from '../harness/wal-segments.js';
import { openStoreFromEnv as openStore } from '../harness/store-options.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { readAll } from '../../src/storage/object-store-helpers.js';
import { cnpgCall, startSidecar, type Sidecar } from './cnpg-harness.js';
import { CLUSTER, NAMESPACE, pluginEnv, SECRET, type PluginEnv } from './plugin-env.js';

const SEG = 1024 * 1024;
const seg = (tli: number, n: number): string => `${tli.toString(16).toUpperCase().padStart(8, '0')}00000000${n.toString(16).toUpperCase().padStart(8, '0')}`;

let env: PluginEnv | undefined;

/** Each call a different valid segment of that name (a new seed). */
function walSegment(name: string): Buffer {
  return /^[0-9A-F]{24}$/.test(name) ? syntheticSegment(name, { segmentSize: SEG, seed: seed++ }) : randomBytes(SEG);
}
let sidecar: Sidecar;
let pgdata: string;
let store: ObjectStore;
const contents = new Map<string, Buffer>();

let seed = 1;
/** A valid segment (page headers, records) unless data is given: pgstow refuses to archive anything else. */
function walFile(name: string, ready = true, data: Buffer = walSegment(name)): string {
  const file = path.join(pgdata, 'pg_wal', name);
  fs.writeFileSync(file, data);
  contents.set(name, data);
  if (ready) fs.writeFileSync(path.join(pgdata, 'pg_wal', 'archive_status', `${name}.ready`), '');
  chownToPostgres(path.join(pgdata, 'pg_wal'));
  return file;
}

async function stored(destination: string, name: string): Promise<Buffer | undefined> {
  const prefix = destination.replace(/^s3:\/\/[^/]+\//, '');
  const key = `${prefix}/${CLUSTER}/wals/${name.slice(0, 16)}/${name}.gz`;
  if (!(await store.exists(key))) return undefined;
  return gunzipSync(await readAll(store, key));
}

const archive = (clusterFile: string, file: string, check?: boolean): Promise<unknown> => cnpgCall((sidecar as Sidecar).socket, 'WAL', 'Archive', {
  cluster_definition: fs.readFileSync(clusterFile), source_file_name: file, parameters: {}, ...(check !== undefined ? { check_empty_wal_archive: check } : {}),
});
const restoreWal = (s: Sidecar, clusterFile: string, name: string, dest: string, mode: 'MODE_UNSPECIFIED' | 'MODE_REWIND' = 'MODE_UNSPECIFIED'): Promise<unknown> => cnpgCall(s.socket, 'WAL', 'Restore', {
  cluster_definition: fs.readFileSync(clusterFile), source_wal_name: name, destination_file_name: dest, parameters: {}, mode,
});
const code = (c: number, re?: RegExp) => (e: ServiceError): boolean => e.code === c && (!re || re.test(e.details));

describe('WAL service', () => {
  let primary: string;
  before(async () => {
    // A missing server skips every test below (outside CI) or fails them (CI=true), through requireServer.
    env = await pluginEnv({ skip: () => undefined } as never, 'wal-service');
    if (!env) return;
    pgdata = path.join(env.dir, 'pgdata');
    fs.mkdirSync(path.join(pgdata, 'pg_wal', 'archive_status'), { recursive: true });
    chownToPostgres(pgdata);
    env.putObjectStore('minio-store', { wal: { compression: 'gzip', maxParallel: 4 } });
    primary = env.clusterFile('primary', { plugin: { barmanObjectName: 'minio-store' }, withoutTypeMeta: true });
    sidecar = await startSidecar({ mode: 'instance', pluginPath: env.pluginPath, env: env.sidecarEnv({ PGDATA: pgdata }) });
    store = (await openStore({ provider: 'aws-s3', destinationUrl: env.destination, endpointUrl: env.s3.endpoint, env: env.awsEnv(), s3: { region: env.s3.region } })).store;
  });
  after(async () => {
    const code = await sidecar?.stop();
    assert.equal(code, 0, sidecar?.log);
    await store?.close();
    await env?.close();
  });

  test('archive-ahead: one call stores its file and keeps up to maxParallel files uploading; their calls are answered from the spool', async (t) => {
    if (!env) return t.skip();
    const files = [1, 2, 3, 4, 5, 6].map((n) => walFile(seg(1, n)));
    await archive(primary, files[0] as string);
    assert.deepEqual(await stored(env.destination, seg(1, 1)), contents.get(seg(1, 1)), 'segment 1 stored byte-identical when its call returns');
    // The others upload in the background (the sidecar lives on): each lands within a bound.
    for (const n of [2, 3, 4]) {
      for (let i = 0; i < 100 && (await stored(env.destination, seg(1, n))) === undefined; i++) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(await stored(env.destination, seg(1, n)), contents.get(seg(1, n)), `segment ${n} stored byte-identical`);
    }
    // Each upload ahead that ends starts the next ready file (5 and 6) while calls come; never more than 4 at once.
    const atOnce = sidecar.logLines().map((l) => /archiving \w+ ahead \((\d+) uploading ahead, (\d+) in calls/.exec(String(l.msg))).filter((m) => m !== null)
      .map((m) => Number(m[1]) + Number(m[2]));
    assert.ok(atOnce.length >= 3 && Math.max(...atOnce) <= 4, `uploads at once as each upload ahead started: ${atOnce.join(', ')}`);
    await archive(primary, files[1] as string);
    assert.ok(sidecar.logLines().some((l) => /000000010000000000000002 was already archived by an earlier parallel call/.test(String(l.msg))), 'answered from the spool marker');
    // Idempotent: again, with the marker consumed: identical content already stored is success, nothing rewritten.
    await archive(primary, files[0] as string);
    assert.ok(sidecar.logLines().some((l) => /000000010000000000000001 is already archived with identical content/.test(String(l.msg))));
  });

  test('different content under an archived name is refused (ALREADY_EXISTS) and nothing is overwritten', async (t) => {
    if (!env) return t.skip();
    const name = seg(1, 3);
    const original = contents.get(name) as Buffer;
    walFile(name, false, walSegment(name));
    await assert.rejects(archive(primary, path.join(pgdata, 'pg_wal', name)), code(GrpcCode.ALREADY_EXISTS, /already holds .* with different content.*nothing was overwritten/));
    assert.deepEqual(await stored(env.destination, name), original);
    walFile(name, false, original);
  });

  test('isWALArchiver (#606): with another plugin as the archiver, Archive succeeds and stores nothing', async (t) => {
    if (!env) return t.skip();
    const other = env.clusterFile('other-archiver', { plugin: { barmanObjectName: 'minio-store', isWALArchiver: false }, otherPlugins: [{ name: 'wal.example.com', enabled: true, isWALArchiver: true }] });
    const file = walFile(seg(1, 0x20), false);
    await archive(other, file);
    assert.equal(await stored(env.destination, seg(1, 0x20)), undefined);
  });

  test('empty-archive check: scoped to the timeline being archived (#842); annotation and marker when the operator does not say', async (t) => {
    if (!env) return t.skip();
    // The default store already holds timeline 1.
    await assert.rejects(archive(primary, walFile(seg(1, 0x21), false), true), code(GrpcCode.FAILED_PRECONDITION, /WAL archive check failed for server cluster-example: Found \d+ files? in WAL archive equal to or newer than timeline 1/));
    assert.equal(await stored(env.destination, seg(1, 0x21)), undefined, 'nothing archived when the check fails');
    // After a failover to timeline 2, the check no longer blocks archiving.
    await archive(primary, walFile('00000002.history', false, Buffer.from('1\t0/5000000\tno recovery target specified\n')), true);
    await archive(primary, walFile(seg(2, 0x22), false), true);
    assert.deepEqual(await stored(env.destination, seg(2, 0x22)), contents.get(seg(2, 0x22)));
    // Older operator (field unset): the marker in PGDATA asks for the check, the annotation turns it off; a success removes the marker.
    const marker = path.join(pgdata, '.check-empty-wal-archive');
    fs.writeFileSync(marker, '');
    chownToPostgres(marker);
    await assert.rejects(archive(primary, walFile(seg(1, 0x23), false)), code(GrpcCode.FAILED_PRECONDITION, /timeline 1/));
    const skipping = env.clusterFile('skip-check', { plugin: { barmanObjectName: 'minio-store' }, annotations: { 'cnpg.io/skipEmptyWalArchiveCheck': 'enabled' } });
    await archive(skipping, path.join(pgdata, 'pg_wal', seg(1, 0x23)));
    assert.equal(fs.existsSync(marker), false, 'the marker is removed after a successful archive');
    // check_empty_wal_archive=false from a newer operator wins over the marker.
    fs.writeFileSync(marker, '');
    chownToPostgres(marker);
    await archive(primary, walFile(seg(1, 0x24), false), false);
  });

  test('restore: prefetch into the spool, end-of-WAL flag once for a standby, REWIND exactly one file, NOT_FOUND, INVALID_ARGUMENT', async (t) => {
    if (!env) return t.skip();
    const standby = await startSidecar({ mode: 'instance', pluginPath: path.join(env.dir, 'plugins-standby'), env: env.sidecarEnv({ PGDATA: pgdata, POD_NAME: `${CLUSTER}-2`, SPOOL_DIRECTORY: path.join(env.dir, 'spool-standby') }) });
    try {
      const dest = path.join(env.dir, 'restored');
      fs.mkdirSync(dest, { recursive: true });
      chownToPostgres(dest);
      // The store holds 1..6 (the second call for 1 archived 5 and 6 ahead) and nothing after: restoring 4
      // prefetches 5 and 6 and misses 7.
      await restoreWal(standby, primary, seg(1, 4), path.join(dest, 'RECOVERYXLOG'));
      assert.deepEqual(fs.readFileSync(path.join(dest, 'RECOVERYXLOG')), contents.get(seg(1, 4)));
      const spoolFiles = (): string[] => fs.readdirSync(path.join(env?.dir as string, 'spool-standby'), { recursive: true }).map(String);
      assert.ok(spoolFiles().some((f) => f.endsWith(seg(1, 5))), `prefetched into the spool: ${spoolFiles().join(', ')}`);
      // The prefetch found the end of timeline 1: PostgreSQL looking for a newer timeline's history is answered
      // from the archive, the flag staying; the next call on timeline 1 fails once (PostgreSQL switches to
      // streaming), then the spool serves.
      await assert.rejects(restoreWal(standby, primary, '00000003.history', path.join(dest, 'RECOVERYHISTORY')), code(GrpcCode.NOT_FOUND));
      await assert.rejects(restoreWal(standby, primary, seg(1, 5), path.join(dest, 'RECOVERYXLOG')), code(GrpcCode.OUT_OF_RANGE, /end of WAL reached/));
      await restoreWal(standby, primary, seg(1, 5), path.join(dest, 'RECOVERYXLOG'));
      assert.deepEqual(fs.readFileSync(path.join(dest, 'RECOVERYXLOG')), contents.get(seg(1, 5)));
      // REWIND: exactly the file asked for, the prefetched copy of 6 stays in the spool, no flag.
      await restoreWal(standby, primary, seg(1, 6), path.join(dest, 'REWINDXLOG'), 'MODE_REWIND');
      assert.deepEqual(fs.readFileSync(path.join(dest, 'REWINDXLOG')), contents.get(seg(1, 6)));
      assert.ok(spoolFiles().some((f) => f.endsWith(seg(1, 6))), 'REWIND does not consume the spool');
      assert.ok(!spoolFiles().some((f) => f.endsWith('end-of-wal-stream')), 'REWIND never sets the flag');
      await assert.rejects(restoreWal(standby, primary, seg(1, 0x40), path.join(dest, 'RECOVERYXLOG')), code(GrpcCode.NOT_FOUND, /WAL file 000000010000000000000040 does not exist/));
      assert.equal(fs.existsSync(path.join(dest, 'RECOVERYXLOG')) && fs.readFileSync(path.join(dest, 'RECOVERYXLOG')).equals(contents.get(seg(1, 5)) as Buffer), true, 'a miss leaves the destination untouched');
      await assert.rejects(restoreWal(standby, primary, 'not-a-wal', path.join(dest, 'X')), code(GrpcCode.INVALID_ARGUMENT));
      // The primary (currentPrimary == POD_NAME) cannot stream: a missed prefetch never fails its next call.
      await restoreWal(sidecar, primary, seg(1, 3), path.join(dest, 'P3'));
      await restoreWal(sidecar, primary, seg(1, 4), path.join(dest, 'P4'));
    } finally {
      assert.equal(await standby.stop(), 0);
    }
  });

  test('configuration errors name the ObjectStore, the Secret and the key', async (t) => {
    if (!env) return t.skip();
    const missingStore = env.clusterFile('missing-store', { plugin: { barmanObjectName: 'nope' } });
    await assert.rejects(archive(missingStore, path.join(pgdata, 'pg_wal', seg(1, 1))), code(GrpcCode.FAILED_PRECONDITION, /ObjectStore default\/nope \(barmancloud.cnpg.io\/v1\) not found/));
    env.putObjectStore('bad-key', { s3Credentials: { accessKeyId: { name: SECRET, key: 'NO_SUCH_KEY' }, secretAccessKey: { name: 'no-such-secret', key: 'K' } } });
    const badKey = env.clusterFile('bad-key', { plugin: { barmanObjectName: 'bad-key' } });
    await assert.rejects(archive(badKey, path.join(pgdata, 'pg_wal', seg(1, 1))), (e: ServiceError) => e.code === GrpcCode.FAILED_PRECONDITION
      && /Secret "minio-creds" has no key "NO_SUCH_KEY"/.test(e.details) && /Secret "no-such-secret" \(key "K"\) not found in namespace default/.test(e.details));
    // An additional command arg the command does not know fails the call naming the field; nothing is archived.
    env.putObjectStore('bad-args', { wal: { archiveAdditionalCommandArgs: ['--no-such-option=1'] } });
    const badArgs = env.clusterFile('bad-args', { plugin: { barmanObjectName: 'bad-args' } });
    await assert.rejects(archive(badArgs, walFile(seg(1, 0x2e), false)), (e: ServiceError) => e.code === GrpcCode.FAILED_PRECONDITION
      && /no-such-option/.test(e.details) && /wal\.archiveAdditionalCommandArgs/.test(e.details));
    // A Cluster that does not enable the plugin archives nothing (CNPG would not even call it).
    await archive(env.clusterFile('no-plugin', {}), walFile(seg(1, 0x2f), false));
    assert.equal(await stored(env.destination, seg(1, 0x2f)), undefined);
  });

  test('a rotated Secret takes effect within 10 s, and so does the fix', async (t) => {
    if (!env) return t.skip();
    const api = env.api;
    const good = api.secrets.get(`${NAMESPACE}/${SECRET}`)?.data as Record<string, string>;
    api.setSecret(NAMESPACE, SECRET, { ...good, ACCESS_KEY_ID: 'ROTATED-UNKNOWN-KEY' });
    const rotatedAt = Date.now();
    let n = 0x30;
    let failedAfter: number | undefined;
    while (Date.now() - rotatedAt < 15_000) {
      try {
        await archive(primary, walFile(seg(1, n++), false));
      } catch (err) {
        failedAfter = Date.now() - rotatedAt;
        assert.match((err as ServiceError).details, /InvalidAccessKeyId|access key|credentials|403/i);
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(failedAfter !== undefined && failedAfter <= 10_500, `the new key was used after ${failedAfter} ms`);
    api.setSecret(NAMESPACE, SECRET, good);
    const fixedAt = Date.now();
    for (;;) {
      try { await archive(primary, walFile(seg(1, n), false)); break; } catch { /* still the rotated key */ }
      assert.ok(Date.now() - fixedAt <= 10_500, 'the restored key was used within 10 s');
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.doesNotMatch(sidecar.log, new RegExp(env.s3.secretAccessKey.replace(/[^A-Za-z0-9]/g, '.')));
  });
});
