/**
 * WAL: CloudNativePG's archive_command and restore_command through the plugin socket.
 *
 * Archive stores the file through the engine (idempotent, verified before success; archive-ahead of up to
 * wal.maxParallel − 1 other `.ready` files with one spool marker per pre-archived WAL, consumed by the later
 * call for it), only when this plugin is the WAL archiver or no archiver is designated (#606), after the
 * empty-archive check when asked (or, from an older operator, when the annotation allows it and PGDATA's
 * marker exists), scoped to the timeline being archived so that a failover never blocks archiving (#842).
 *
 * Restore picks the store by currentPrimary, prefetches into the spool, fails once with OUT_OF_RANGE after a
 * prefetch found the archive's end when PostgreSQL can stream instead (the end-of-WAL flag), and in
 * MODE_REWIND fetches exactly the file asked for (no spool, no flag). Files appear at the destination only
 * complete (temp file + rename).
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseWalFileName } from '../../domain/wal/wal-file-name.js';
import { defaultSpoolDir } from '../../engine/index.js';
import { parseClusterDefinition, type ClusterView } from '../cluster-definition.js';
import { GrpcCode, GrpcStatusError } from '../grpc-status.js';
import type { PluginLogger } from '../json-logger.js';
import { archivesWal, chooseRestoreStore, requireOwnStore, resolvePluginConfig, type PluginConfig, type StoreRef } from '../plugin-config.js';
import type { PodEnvironment } from '../plugin-options.js';
import type { WalArchiveRequest, WalRestoreRequest } from '../protocol/messages.js';
import { service, type ServedService } from '../protocol/service-types.js';
import type { EngineRegistry } from './engine-registry.js';
import type { StatusReporter } from './status-reporter.js';
import type { Telemetry } from './telemetry.js';

export const CHECK_EMPTY_MARKER = '.check-empty-wal-archive';
export const SKIP_EMPTY_CHECK_ANNOTATION = 'cnpg.io/skipEmptyWalArchiveCheck';
export const END_OF_WAL_FLAG = 'end-of-wal-stream';

export interface WalServiceDeps {
  pluginName: string;
  pod: PodEnvironment;
  registry: EngineRegistry;
  telemetry: Telemetry;
  status: StatusReporter;
  log: PluginLogger;
}

export function walService(deps: WalServiceDeps): ServedService<'WAL'> {
  const checked = new Set<string>();
  return service('WAL', 'TYPE_WAL_SERVICE', {
    GetCapabilities: () => ({ capabilities: [{ rpc: { type: 'TYPE_ARCHIVE_WAL' } }, { rpc: { type: 'TYPE_RESTORE_WAL' } }] }),
    Archive: (req, ctx) => archive(deps, checked, req, ctx.signal),
    Restore: (req, ctx) => restore(deps, req, ctx.signal),
  });
}

function cluster(deps: WalServiceDeps, definition: WalArchiveRequest['cluster_definition']): { view: ClusterView; config: PluginConfig } {
  const view = parseClusterDefinition(definition, { defaultGroup: deps.pod.cnpgGroup, defaultVersion: deps.pod.cnpgVersion });
  return { view, config: resolvePluginConfig(view, deps.pluginName) };
}

/** Spool directories of one store (archive markers and restore prefetches apart, per destination + server). */
function spoolDirs(deps: WalServiceDeps, destination: string, serverName: string): { archive: string; restore: string } {
  const base = deps.pod.spoolDirectory;
  return { archive: defaultSpoolDir('wal-archive-spool', destination, serverName, base), restore: defaultSpoolDir('wal-restore-spool', destination, serverName, base) };
}

async function archive(deps: WalServiceDeps, checked: Set<string>, req: WalArchiveRequest, signal: AbortSignal): Promise<Record<string, never>> {
  const { view, config } = cluster(deps, req.cluster_definition);
  const decision = archivesWal(config, view);
  const walName = path.basename(req.source_file_name);
  if (!decision.archive) {
    deps.log.debug(`not archiving ${walName}: ${decision.reason}`, { wal: walName });
    return {};
  }
  const wal = parseWalFileName(walName);
  const ref = requireOwnStore(config, view, `archiving ${walName}`);
  const started = performance.now();
  const lease = await deps.registry.acquire(view.namespace, ref);
  try {
    const { engine, settings } = lease;
    const spool = spoolDirs(deps, settings.config.destinationPath, ref.serverName);
    const empty = await mustCheckEmpty(deps, view, req);
    if (empty.check) {
      const key = `${spool.archive}\0${wal.timeline}`;
      if (!checked.has(key)) {
        await engine.checkWalArchive({ timeline: wal.timeline, signal });
        checked.add(key);
        deps.log.info(`WAL archive of server ${ref.serverName} has nothing on timeline ${wal.timeline} or newer: archiving may start`, { wal: walName });
      }
    }
    // The sidecar lives on: archive-ahead uploads overlap the next calls instead of holding this one.
    const result = await engine.archiveWal(req.source_file_name, { spoolDir: spool.archive, signal, ahead: 'background' });
    const seconds = (performance.now() - started) / 1000;
    const bytes = result.bytes + result.extras.reduce((n, e) => n + ('bytes' in e ? e.bytes : 0), 0);
    const wasFailing = deps.telemetry.archiveFailing;
    deps.telemetry.recordArchived(walName, bytes, seconds);
    deps.log.debug(`archived ${walName} (${result.status})`, { wal: walName, ms: Math.round(seconds * 1000), extras: result.extras.length });
    // CNPG's marker is gone after the first success; where this call looked already and found none, no second look.
    if (!empty.markerAbsent) await fsp.rm(path.join(deps.pod.pgdata, CHECK_EMPTY_MARKER), { force: true }).catch(() => undefined);
    deps.status.update(view.namespace, ref.objectStoreName, ref.serverName, {
      lastArchivedWAL: walName, lastArchivedWALTime: (deps.telemetry.lastArchivedAt as Date).toISOString(),
    }, { immediate: wasFailing });
    return {};
  } catch (err) {
    const firstFailure = !deps.telemetry.archiveFailing;
    const cause = deps.telemetry.recordArchiveFailure(err);
    const failure = deps.telemetry.lastArchiveFailure as { at: Date; message: string };
    deps.status.update(view.namespace, ref.objectStoreName, ref.serverName, {
      lastArchiveFailureTime: failure.at.toISOString(), lastArchiveFailure: `${cause}: ${failure.message}`,
    }, { immediate: firstFailure });
    throw err;
  } finally {
    lease.release();
  }
}

/**
 * check_empty_wal_archive when the operator sends it; from an older operator (unset): unless the Cluster is
 * annotated cnpg.io/skipEmptyWalArchiveCheck: enabled, when PGDATA holds CNPG's marker file. `markerAbsent`: this
 * call looked for the marker and found none.
 */
async function mustCheckEmpty(deps: WalServiceDeps, view: ClusterView, req: WalArchiveRequest): Promise<{ check: boolean; markerAbsent: boolean }> {
  if (req.check_empty_wal_archive !== undefined) return { check: req.check_empty_wal_archive, markerAbsent: false };
  if (view.annotations[SKIP_EMPTY_CHECK_ANNOTATION] === 'enabled') return { check: false, markerAbsent: false };
  try {
    await fsp.access(path.join(deps.pod.pgdata, CHECK_EMPTY_MARKER));
    return { check: true, markerAbsent: false };
  } catch {
    return { check: false, markerAbsent: true };
  }
}

async function restore(deps: WalServiceDeps, req: WalRestoreRequest, signal: AbortSignal): Promise<Record<string, never>> {
  const { view, config } = cluster(deps, req.cluster_definition);
  const podName = deps.pod.podName ?? '';
  const choice = chooseRestoreStore(config, view, podName);
  const rewind = req.mode === 'MODE_REWIND';
  const wal = parseWalFileName(req.source_wal_name);
  if (!path.isAbsolute(req.destination_file_name)) {
    throw new GrpcStatusError(GrpcCode.INVALID_ARGUMENT, `destination_file_name must be an absolute path (got "${req.destination_file_name}")`);
  }
  const lease = await deps.registry.acquire(view.namespace, choice.ref);
  try {
    const spool = spoolDirs(deps, lease.settings.config.destinationPath, choice.ref.serverName).restore;
    const flag = path.join(spool, END_OF_WAL_FLAG);
    if (rewind) {
      await fsp.rm(flag, { force: true });
    } else if (choice.streamingPossible && await takeEndOfWalFlag(flag, wal.timeline)) {
      throw new GrpcStatusError(GrpcCode.OUT_OF_RANGE, `end of WAL reached in ${describe(choice.ref)} (a prefetch found no more segments): PostgreSQL may switch to streaming replication`);
    }
    const result = await lease.engine.restoreWal(wal.name, req.destination_file_name, rewind ? { maxParallel: 1, signal } : { spoolDir: spool, signal });
    deps.telemetry.restoredCount++;
    deps.log.debug(`restored ${wal.name} from ${result.source}`, { wal: wal.name, store: choice.role, prefetched: result.prefetched.length });
    if (!rewind && choice.streamingPossible && wal.kind === 'segment' && lease.settings.config.wal.maxParallel > 1 && await prefetchMissed(spool)) {
      await fsp.writeFile(flag, String(wal.timeline)).catch(() => undefined);
    }
    return {};
  } catch (err) {
    if (err instanceof GrpcStatusError) throw err;
    deps.telemetry.restoreMisses++;
    throw err;
  } finally {
    lease.release();
  }
}

/**
 * Consumes the end-of-WAL flag. It records the timeline whose end a prefetch found, and fails only a request on
 * that timeline: a request for another timeline (PostgreSQL looking for a newer `.history` file) goes to the
 * archive and leaves the flag in place (plugin-barman-cloud's flag is global: barman-cloud #276).
 */
async function takeEndOfWalFlag(flag: string, timeline: number): Promise<boolean> {
  let content: string;
  try {
    content = await fsp.readFile(flag, 'utf8');
  } catch {
    return false;
  }
  // Another timeline's request leaves the flag for the segment it was set for.
  if (content !== '' && Number(content) !== timeline) return false;
  await fsp.rm(flag, { force: true });
  return true;
}

/** The engine leaves `<name>.missing` in the spool for each prefetched name the archive did not have. */
async function prefetchMissed(spool: string): Promise<boolean> {
  const names = await fsp.readdir(spool).catch(() => [] as string[]);
  return names.some((n) => n.endsWith('.missing'));
}

function describe(ref: StoreRef): string {
  return `ObjectStore ${ref.objectStoreName} (server ${ref.serverName})`;
}
