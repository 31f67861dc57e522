/**
 * Preflight for a destination: tries list, put, get and delete under <prefix>/<server>/ with a temporary
 * key and reports each step with the reason in words. Works on any ObjectStore; knows no provider.
 * Archive and backup need list, put and get; delete is needed only by retention and backup-delete.
 */
import { randomBytes } from 'node:crypto';
import type { ObjectStore } from '../storage/object-store.js';
import type { BarmanLayout } from '../repository/barman-layout.js';
import { readAll } from '../storage/object-store-helpers.js';
import {
  AccessDeniedError, BucketNotFoundError, InvalidCredentialsError, StorageError, StorageUnavailableError, TlsError,
} from '../storage/errors.js';
import { ExitCode, PgstowError, errorMessage } from '../errors.js';

export type CheckStepName = 'list' | 'put' | 'get' | 'delete';

export interface CheckStep {
  step: CheckStepName;
  status: 'ok' | 'failed' | 'skipped';
  /** What was done, or why it failed, in words. */
  detail: string;
  error?: unknown;
}

export interface CheckStoreResult {
  steps: CheckStep[];
  /** The temporary key that was written (and removed when delete worked). */
  key: string;
  /** True when WAL archiving and backups can work (list, put and get succeeded). */
  usable: boolean;
  /** 0 when usable, else the exit code of the first failure (1 operation, 2 network…). */
  exitCode: ExitCode;
  /** One sentence summary. */
  summary: string;
}

export interface CheckStoreDeps {
  store: ObjectStore;
  layout: BarmanLayout;
}

/** The cause of a failed step, in words a DBA can act on. */
export function explainFailure(err: unknown): string {
  if (err instanceof AccessDeniedError) return `permission denied (the credentials work but the policy refuses this): ${err.message}`;
  if (err instanceof InvalidCredentialsError) return `credentials rejected: ${err.message}`;
  if (err instanceof BucketNotFoundError) return `bucket or container missing: ${err.message}`;
  if (err instanceof TlsError) return `TLS problem: ${err.message}`;
  if (err instanceof StorageUnavailableError) return `network problem: ${err.message}`;
  return errorMessage(err);
}

export async function checkStore(deps: CheckStoreDeps, input: { signal?: AbortSignal } = {}): Promise<CheckStoreResult> {
  const { store, layout } = deps;
  const key = `${layout.serverPrefix}.pgstow-check-${Date.now()}-${randomBytes(4).toString('hex')}`;
  const payload = Buffer.from(`pgstow check-store ${new Date().toISOString()}\n`);
  const steps: CheckStep[] = [];
  const attempt = async (step: CheckStepName, fn: () => Promise<string>): Promise<boolean> => {
    input.signal?.throwIfAborted();
    try {
      steps.push({ step, status: 'ok', detail: await fn() });
      return true;
    } catch (err) {
      if (!(err instanceof PgstowError) && !(err instanceof StorageError)) throw err; // a bug, not a store answer
      steps.push({ step, status: 'failed', detail: explainFailure(err), error: err });
      return false;
    }
  };
  const skip = (step: CheckStepName, why: string): void => { steps.push({ step, status: 'skipped', detail: why }); };

  await attempt('list', async () => {
    let n = 0;
    for await (const _entry of store.list(layout.serverPrefix, { delimiter: '/', ...(input.signal ? { signal: input.signal } : {}) })) {
      if (++n >= 5) break;
    }
    return n === 0 ? `nothing under ${layout.serverPrefix} yet` : `listed ${layout.serverPrefix}`;
  });
  const putOk = await attempt('put', async () => {
    await store.put(key, payload, { contentLength: payload.length, ...(input.signal ? { signal: input.signal } : {}) });
    return `wrote ${key} (${payload.length} bytes)`;
  });
  if (putOk) {
    await attempt('get', async () => {
      const back = await readAll(store, key, input.signal);
      if (!back.equals(payload)) throw new PgstowError('ERR_INTEGRITY', ExitCode.OPERATION, `read back ${back.length} bytes that differ from the ${payload.length} written`);
      return 'read it back, content matches';
    });
    await attempt('delete', async () => {
      await store.delete([key], input.signal ? { signal: input.signal } : {});
      return `removed ${key}`;
    });
  } else {
    skip('get', 'skipped: put failed');
    skip('delete', 'skipped: put failed');
  }

  const failed = steps.filter((s) => s.status === 'failed');
  const need = steps.filter((s) => s.step !== 'delete');
  const usable = need.every((s) => s.status === 'ok');
  const firstFailure = failed[0]?.error;
  const exitCode = usable ? ExitCode.OK : firstFailure instanceof PgstowError ? firstFailure.exitCode : ExitCode.GENERAL;
  const deleteFailed = steps.some((s) => s.step === 'delete' && s.status === 'failed');
  const summary = usable
    ? deleteFailed
      ? `WAL archiving and backups can work; delete is refused, so retention and backup-delete cannot remove old backups (${key} was left behind)`
      : 'WAL archiving and backups can work'
    : `WAL archiving and backups will NOT work: ${failed.map((s) => s.step).join(', ')} failed`;
  return { steps, key, usable, exitCode, summary };
}
