/**
 * Metrics (CNPG calls Define then Collect on every scrape of the instance, port 9187): upstream's three gauges
 * under the same names (prefix = plugin name with '.' and '-' as '_'), read from ObjectStore.status for the
 * Cluster's server, and what users asked for (plugin-barman-cloud #629): last archived WAL and its time,
 * archive latency, the `.ready` backlog, bytes archived, failures by cause, last backup duration and size.
 * Every name Collect returns is in Define (CNPG rejects any other).
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { parseClusterDefinition } from '../cluster-definition.js';
import type { PluginLogger } from '../json-logger.js';
import type { KubeApi } from '../kube/kube-api.js';
import { resolvePluginConfig } from '../plugin-config.js';
import type { PodEnvironment } from '../plugin-options.js';
import type { CollectedMetric, MetricDefinition, MetricValueType, MetricsRequest } from '../protocol/messages.js';
import { service, type ServedService } from '../protocol/service-types.js';
import { ARCHIVE_FAILURE_CAUSES, type Telemetry } from './telemetry.js';

export interface MetricsServiceDeps {
  pluginName: string;
  pod: PodEnvironment;
  kube: KubeApi;
  telemetry: Telemetry;
  log: PluginLogger;
}

interface Def { name: string; help: string; type: MetricValueType; labels?: string[] }

export function metricPrefix(pluginName: string): string {
  return pluginName.replace(/[.-]/g, '_');
}

export function metricDefinitions(pluginName: string): Def[] {
  const p = metricPrefix(pluginName);
  const g: MetricValueType = 'TYPE_GAUGE';
  const c: MetricValueType = 'TYPE_COUNTER';
  return [
    { name: `${p}_first_recoverability_point`, help: 'The first point of recoverability for the cluster as a unix timestamp', type: g },
    { name: `${p}_last_available_backup_timestamp`, help: 'The last available backup as a unix timestamp', type: g },
    { name: `${p}_last_failed_backup_timestamp`, help: 'The last failed backup as a unix timestamp', type: g },
    { name: `${p}_last_archived_wal_timestamp`, help: 'When this sidecar last archived a WAL file, unix timestamp (0: none since it started)', type: g },
    { name: `${p}_last_archived_wal_info`, help: 'The WAL file this sidecar archived last (value 1, name in the wal label)', type: g, labels: ['wal'] },
    { name: `${p}_wal_archived_total`, help: 'Archive calls that stored (or found already stored) their WAL file', type: c },
    { name: `${p}_wal_archived_bytes_total`, help: 'Bytes uploaded by archive calls, archive-ahead included (compressed size)', type: c },
    { name: `${p}_wal_archive_duration_seconds_total`, help: 'Time spent in successful archive calls; divide by wal_archived_total for the mean latency', type: c },
    { name: `${p}_wal_archive_last_duration_seconds`, help: 'Duration of the last successful archive call', type: g },
    { name: `${p}_wal_archive_failures_total`, help: 'Failed archive calls by cause', type: c, labels: ['cause'] },
    { name: `${p}_wal_ready_backlog`, help: 'WAL files waiting to be archived (.ready files in pg_wal/archive_status)', type: g },
    { name: `${p}_wal_restored_total`, help: 'WAL files restored by this sidecar', type: c },
    { name: `${p}_last_backup_duration_seconds`, help: 'Duration of the last base backup taken by this sidecar', type: g },
    { name: `${p}_last_backup_size_bytes`, help: 'Bytes stored by the last base backup taken by this sidecar', type: g },
    { name: `${p}_sidecar_memory_bytes`, help: 'Memory of the sidecar process: rss, heap_used, heap_total, external, array_buffers', type: g, labels: ['kind'] },
  ];
}

export function metricsService(deps: MetricsServiceDeps): ServedService<'Metrics'> {
  const defs = metricDefinitions(deps.pluginName);
  const definitions: MetricDefinition[] = defs.map((d) => ({ fq_name: d.name, help: d.help, variable_labels: d.labels ?? [], const_labels: {}, value_type: { type: d.type } }));
  return service('Metrics', 'TYPE_METRICS', {
    GetCapabilities: () => ({ capabilities: [{ rpc: { type: 'TYPE_METRICS' } }] }),
    Define: () => ({ metrics: definitions }),
    Collect: async (req) => ({ metrics: await collect(deps, req) }),
  });
}

const seconds = (d: Date | undefined): number => (d ? d.getTime() / 1000 : 0);

async function collect(deps: MetricsServiceDeps, req: MetricsRequest): Promise<CollectedMetric[]> {
  const p = metricPrefix(deps.pluginName);
  const t = deps.telemetry;
  const m = (name: string, value: number, labels: string[] = []): CollectedMetric => ({ fq_name: `${p}_${name}`, value, variable_labels: labels });
  const window = await recoveryWindow(deps, req);
  const out: CollectedMetric[] = [
    m('first_recoverability_point', window.firstRecoverabilityPoint),
    // The status may be up to the cache's age behind a backup this sidecar has just taken.
    m('last_available_backup_timestamp', Math.max(window.lastSuccessfulBackupTime, seconds(t.lastBackup?.endTime))),
    m('last_failed_backup_timestamp', Math.max(window.lastFailedBackupTime, seconds(t.lastFailedBackupAt))),
    m('last_archived_wal_timestamp', seconds(t.lastArchivedAt)),
    m('wal_archived_total', t.archivedCount),
    m('wal_archived_bytes_total', t.archivedBytes),
    m('wal_archive_duration_seconds_total', t.archiveSecondsTotal),
    m('wal_archive_last_duration_seconds', t.lastArchiveSeconds),
    ...ARCHIVE_FAILURE_CAUSES.map((cause) => m('wal_archive_failures_total', t.archiveFailures.get(cause) ?? 0, [cause])),
    m('wal_ready_backlog', await readyBacklog(deps.pod.pgdata)),
    m('wal_restored_total', t.restoredCount),
    m('last_backup_duration_seconds', t.lastBackup?.durationSeconds ?? 0),
    m('last_backup_size_bytes', t.lastBackup?.sizeBytes ?? 0),
  ];
  if (t.lastArchivedWal) out.push(m('last_archived_wal_info', 1, [t.lastArchivedWal]));
  const mem = process.memoryUsage();
  for (const [kind, v] of [['rss', mem.rss], ['heap_used', mem.heapUsed], ['heap_total', mem.heapTotal], ['external', mem.external], ['array_buffers', mem.arrayBuffers]] as const) {
    out.push(m('sidecar_memory_bytes', v, [kind]));
  }
  return out;
}

async function readyBacklog(pgdata: string): Promise<number> {
  const names = await fsp.readdir(path.join(pgdata, 'pg_wal', 'archive_status')).catch(() => [] as string[]);
  return names.filter((n) => n.endsWith('.ready')).length;
}

/** Upstream's gauges: from ObjectStore.status.serverRecoveryWindow[serverName] (0 when absent), as upstream reads them. */
async function recoveryWindow(deps: MetricsServiceDeps, req: MetricsRequest): Promise<{ firstRecoverabilityPoint: number; lastSuccessfulBackupTime: number; lastFailedBackupTime: number }> {
  const zero = { firstRecoverabilityPoint: 0, lastSuccessfulBackupTime: 0, lastFailedBackupTime: 0 };
  try {
    const cluster = parseClusterDefinition(req.cluster_definition, { defaultGroup: deps.pod.cnpgGroup, defaultVersion: deps.pod.cnpgVersion });
    const own = resolvePluginConfig(cluster, deps.pluginName).own;
    if (!own) return zero;
    const store = await deps.kube.getObjectStore(cluster.namespace, own.objectStoreName);
    const entry = ((store.status as Record<string, unknown> | undefined)?.serverRecoveryWindow as Record<string, Record<string, unknown>> | undefined)?.[own.serverName] ?? {};
    const time = (k: string): number => (typeof entry[k] === 'string' ? (Date.parse(entry[k]) || 0) / 1000 : 0);
    return { firstRecoverabilityPoint: time('firstRecoverabilityPoint'), lastSuccessfulBackupTime: time('lastSuccessfulBackupTime'), lastFailedBackupTime: time('lastFailedBackupTime') };
  } catch (err) {
    // A scrape must not fail because the API server is away: the gauges read 0 then.
    deps.log.debug(`metrics: cannot read the ObjectStore status: ${(err as Error).message}`);
    return zero;
  }
}
