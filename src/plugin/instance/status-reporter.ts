/**
 * Keeps ObjectStore.status.serverRecoveryWindow[<serverName>] current: upstream's three fields plus pgstow's
 * (CONTRACTS.md). Fields are merged per server name (other servers' entries and other fields are kept) with a
 * read-modify-write of the status subresource. Writes are throttled to one per `intervalMs` (30 s) per
 * ObjectStore; a backup's outcome and the first archive failure after a success are written at once.
 */
import { errorMessage } from '../../errors.js';
import { OBJECT_STORE_GROUP, OBJECT_STORE_PLURAL, OBJECT_STORE_VERSION, type KubeApi } from '../kube/kube-api.js';
import type { PluginLogger } from '../json-logger.js';
import type { ServerRecoveryWindow } from '../server-recovery-window.js';

/** The fields of one server's entry. */
export type RecoveryWindowFields = ServerRecoveryWindow;

interface Pending {
  namespace: string;
  objectStore: string;
  serverName: string;
  fields: RecoveryWindowFields;
  /** Fields to remove (e.g. firstRecoverabilityPoint when no backup is left). */
  unset: Set<keyof RecoveryWindowFields>;
  lastWrite: number;
  timer?: NodeJS.Timeout;
  writing?: Promise<void>;
}

export class StatusReporter {
  private readonly pending = new Map<string, Pending>();
  private closed = false;

  constructor(private readonly kube: KubeApi, private readonly log: PluginLogger, private readonly intervalMs = 30_000, private readonly now: () => number = Date.now) {}

  /** Queues fields for a server's entry; `immediate` writes now instead of within the interval. */
  update(namespace: string, objectStore: string, serverName: string, fields: RecoveryWindowFields, options: { immediate?: boolean; unset?: ReadonlyArray<keyof RecoveryWindowFields> } = {}): void {
    if (this.closed) return;
    const key = `${namespace}/${objectStore}/${serverName}`;
    let p = this.pending.get(key);
    if (!p) { p = { namespace, objectStore, serverName, fields: {}, unset: new Set(), lastWrite: 0 }; this.pending.set(key, p); }
    Object.assign(p.fields, fields);
    for (const k of Object.keys(fields) as Array<keyof RecoveryWindowFields>) p.unset.delete(k);
    for (const k of options.unset ?? []) { p.unset.add(k); delete p.fields[k]; }
    const due = options.immediate ? 0 : Math.max(0, p.lastWrite + this.intervalMs - this.now());
    if (p.timer && due > 0) return;
    if (p.timer) clearTimeout(p.timer);
    const entry = p;
    entry.timer = setTimeout(() => { entry.timer = undefined; void this.write(entry); }, due);
    entry.timer.unref();
  }

  private async write(p: Pending): Promise<void> {
    if (p.writing) { await p.writing; if (Object.keys(p.fields).length === 0 && p.unset.size === 0) return; }
    const fields = p.fields;
    const unset = p.unset;
    if (Object.keys(fields).length === 0 && unset.size === 0) return;
    p.fields = {};
    p.unset = new Set();
    p.lastWrite = this.now();
    p.writing = (async () => {
      try {
        await this.kube.updateStatus(OBJECT_STORE_GROUP, OBJECT_STORE_VERSION, OBJECT_STORE_PLURAL, p.namespace, p.objectStore, (status) => {
          const windows = { ...((status.serverRecoveryWindow ?? {}) as Record<string, Record<string, unknown>>) };
          const entry: Record<string, unknown> = { ...(windows[p.serverName] ?? {}), ...fields };
          for (const k of unset) delete entry[k];
          windows[p.serverName] = entry;
          return { ...status, serverRecoveryWindow: windows };
        });
      } catch (err) {
        // Not fatal to archiving or backups; the fields are written with the next update.
        this.log.warning(`cannot update the status of ObjectStore ${p.namespace}/${p.objectStore}: ${errorMessage(err)}`, { code: 'W_PLUGIN_STATUS' });
        p.fields = { ...fields, ...p.fields };
        for (const k of unset) if (!(k in p.fields)) p.unset.add(k);
      } finally {
        p.writing = undefined;
      }
    })();
    await p.writing;
  }

  /** Writes everything pending now (shutdown, tests). */
  async flush(): Promise<void> {
    await Promise.all([...this.pending.values()].map(async (p) => {
      if (p.timer) { clearTimeout(p.timer); p.timer = undefined; }
      await this.write(p);
    }));
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }
}
