/**
 * The primary's background work against a real S3 server and the loopback Kubernetes API: retention applied
 * with every verdict and reason logged, the recovery window written into ObjectStore.status, and this
 * Cluster's Backup resources whose backup is gone deleted (matched by cluster UID + plugin name; another
 * cluster's, a running one and one in another store are kept). A standby does nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { BarmanLayout } from '../../src/repository/barman-layout.js';
import { emptyBackupInfo, formatBackupId, PyDateTime, serializeBackupInfo } from '../../src/domain/backup/backup-info.js';
import { formatSegmentName } from '../../src/domain/wal/wal-file-name.js';
import { openStoreFromEnv as openStore } from '../harness/store-options.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { createJsonLogger, SecretRegistry } from '../../src/plugin/json-logger.js';
import { KubeApi, OBJECT_STORE_GROUP } from '../../src/plugin/kube/kube-api.js';
import { EngineRegistry } from '../../src/plugin/instance/engine-registry.js';
import { StatusReporter } from '../../src/plugin/instance/status-reporter.js';
import { runMaintenance, type MaintenanceDeps } from '../../src/plugin/instance/maintenance.js';
import { podEnvironment } from '../../src/plugin/plugin-options.js';
import { clusterObject, PLUGIN } from './cnpg-fixtures.js';
import { CLUSTER, NAMESPACE, pluginEnv, type PluginEnv } from './plugin-env.js';

const UID = 'aa11bb22-cc33-4d44-8e55-ff6677889900';
const DAY = 86_400_000;

describe('background maintenance on the primary', () => {
  let env: PluginEnv | undefined;
  let store: ObjectStore;
  let layout: BarmanLayout;
  const ids: Record<string, string> = {};
  const ends: Record<string, number> = {};
  const logs: string[] = [];
  let deps: MaintenanceDeps;

  before(async () => {
    env = await pluginEnv({ skip: () => undefined } as never, 'maintenance');
    if (!env) return;
    env.putObjectStore('minio-store', {}, { retentionPolicy: '7d', instanceSidecarConfiguration: { retentionPolicyIntervalSeconds: 600 } });
    env.api.putObject('postgresql.cnpg.io', 'clusters', clusterObject({ plugin: { barmanObjectName: 'minio-store' }, uid: UID }));
    store = (await openStore({ provider: 'aws-s3', destinationUrl: env.destination, endpointUrl: env.s3.endpoint, env: env.awsEnv(), s3: { region: env.s3.region } })).store;
    layout = new BarmanLayout(env.destination.replace(/^s3:\/\/[^/]+\//, ''), CLUSTER);
    const now = Date.now();
    for (const [label, daysAgo, seg] of [['old', 20, 2], ['mid', 10, 10], ['new', 1, 20]] as const) {
      const when = new Date(now - daysAgo * DAY);
      const id = formatBackupId(when, 0);
      ids[label] = id;
      ends[label] = when.getTime() + 60_000;
      const info = emptyBackupInfo();
      Object.assign(info, {
        status: 'DONE', timeline: 1, beginWal: formatSegmentName(1, 0, seg), endWal: formatSegmentName(1, 0, seg), xlogSegmentSize: 16 << 20, version: 150018,
        backupName: `backup-${label}`, beginTime: PyDateTime.fromDate(when, 0), endTime: PyDateTime.fromDate(new Date(when.getTime() + 60_000), 0),
        // backup.info must hold together (restore and the catalog check it): the LSNs lie in the named segment.
        beginXlog: `0/${(seg * (16 << 20) + 40).toString(16).toUpperCase()}`, endXlog: `0/${(seg * (16 << 20) + 256).toString(16).toUpperCase()}`,
        beginOffset: 40, endOffset: 256,
      });
      await store.put(layout.backupTarKey(id, 'data'), Buffer.from('tar'));
      await store.put(layout.backupInfoKey(id), Buffer.from(serializeBackupInfo(info)));
    }
    for (let s = 1; s <= 22; s++) await store.put(layout.walKey(formatSegmentName(1, 0, s)), Buffer.from('wal'));
    const backupCr = (name: string, backupId: string, meta: Record<string, string>, phase = 'completed'): Record<string, unknown> => ({
      apiVersion: 'postgresql.cnpg.io/v1', kind: 'Backup', metadata: { name, namespace: NAMESPACE, labels: { 'cnpg.io/cluster': CLUSTER } },
      spec: { cluster: { name: CLUSTER }, method: 'plugin', pluginConfiguration: { name: PLUGIN } },
      status: { phase, backupId, method: 'plugin', pluginMetadata: meta },
    });
    const mine = { clusterUID: UID, pluginName: PLUGIN };
    env.api.putObject('postgresql.cnpg.io', 'backups', backupCr('b-old', ids.old as string, mine));
    env.api.putObject('postgresql.cnpg.io', 'backups', backupCr('b-mid', ids.mid as string, mine));
    env.api.putObject('postgresql.cnpg.io', 'backups', backupCr('b-foreign', ids.old as string, { clusterUID: 'someone-else', pluginName: PLUGIN }));
    env.api.putObject('postgresql.cnpg.io', 'backups', backupCr('b-running', ids.old as string, mine, 'started'));
    env.api.putObject('postgresql.cnpg.io', 'backups', backupCr('b-elsewhere', ids.old as string, { ...mine, barmanObjectName: 'other-store' }));
    const sink = new PassThrough();
    sink.on('data', (c: Buffer) => logs.push(...c.toString().split('\n').filter(Boolean)));
    const log = createJsonLogger({ stream: sink, level: 'debug' });
    const kube = new KubeApi({ env: {}, kubeconfig: env.api.kubeconfig });
    const secrets = new SecretRegistry();
    deps = {
      pluginName: PLUGIN, kube, log, status: new StatusReporter(kube, log, 50),
      pod: podEnvironment({ NAMESPACE, CLUSTER_NAME: CLUSTER, POD_NAME: `${CLUSTER}-1`, PGDATA: env.dir }),
      registry: new EngineRegistry({ kube, env: { TMPDIR: env.dir }, log, secrets }),
    };
  });
  after(async () => {
    await deps?.status.close();
    await deps?.registry.close();
    await store?.close();
    await env?.close();
  });

  test('a standby does nothing', async (t) => {
    if (!env) return t.skip();
    const o = await runMaintenance({ ...deps, pod: { ...deps.pod, podName: `${CLUSTER}-2` } });
    assert.equal(o.skipped, 'not the current primary (cluster-example-1)');
    assert.ok(await store.exists(layout.backupInfoKey(ids.old as string)));
  });

  test('retention, status and Backup cleanup on the primary', async (t) => {
    if (!env) return t.skip();
    const o = await runMaintenance(deps);
    assert.equal(o.skipped, undefined, logs.join('\n'));
    assert.equal(o.nextInSeconds, 600, 'retentionPolicyIntervalSeconds');
    assert.deepEqual(o.deletedBackups, [ids.old]);
    assert.equal(await store.exists(layout.backupInfoKey(ids.old as string)), false);
    assert.ok(await store.exists(layout.backupInfoKey(ids.mid as string)), 'the first backup older than the window is kept to reach it');
    assert.equal(await store.exists(layout.walKey(formatSegmentName(1, 0, 3))), false, 'WAL before the oldest kept backup removed');
    assert.ok(await store.exists(layout.walKey(formatSegmentName(1, 0, 10))));
    const reasons = logs.map((l) => JSON.parse(l) as { msg: string }).map((l) => l.msg).filter((m) => m.startsWith('retention'));
    assert.ok(reasons.some((m) => m.includes(`backup ${ids.old} is OBSOLETE (deleted)`)), reasons.join('\n'));
    assert.ok(reasons.some((m) => m.includes(`backup ${ids.new} is VALID`)), reasons.join('\n'));
    assert.deepEqual(o.deletedResources, ['b-old']);
    const left = [...env.api.objects.keys()].filter((k) => k.startsWith('postgresql.cnpg.io/backups/')).map((k) => k.split('/').at(-1)).sort();
    assert.deepEqual(left, ['b-elsewhere', 'b-foreign', 'b-mid', 'b-running']);
    await deps.status.flush();
    const w = ((env.api.getObject(OBJECT_STORE_GROUP, 'objectstores', NAMESPACE, 'minio-store')?.status as Record<string, unknown>).serverRecoveryWindow as Record<string, Record<string, string>>)[CLUSTER] as Record<string, string>;
    assert.equal(Date.parse(w.firstRecoverabilityPoint as string), ends.mid);
    assert.equal(Date.parse(w.lastSuccessfulBackupTime as string), ends.new);
    assert.equal(w.lastSuccessfulBackupName, 'backup-new');
  });
});
