/**
 * The stores of one purpose across settings generations, for drivers that cannot take rotated credentials
 * or a rotated CA per request. Each operation leases the store of the generation current when it starts
 * (storage/decorators/rotating-store.ts), so a rotation never pulls a store from under a transfer; a
 * superseded store is closed when its last lease ends, and new operations get a store built from the new
 * settings (opened on first use).
 */
import type { ObjectStore } from '../storage/object-store.js';
import { openStore } from '../storage/registry.js';
import type { StoreOptions } from '../storage/store-options.js';
import type { StoreLeaseSource } from '../storage/decorators/rotating-store.js';

interface Generation {
  number: number;
  options: StoreOptions;
  opened?: Promise<ObjectStore>;
  leases: number;
  retired: boolean;
}

export class StoreGenerations implements StoreLeaseSource {
  private gen: Generation;

  constructor(options: StoreOptions) {
    this.gen = { number: 1, options, leases: 0, retired: false };
  }

  /** Increments with every update(). */
  get generation(): number {
    return this.gen.number;
  }

  /** New operations use stores built from `options` from now on. */
  async update(options: StoreOptions): Promise<void> {
    const old = this.gen;
    this.gen = { number: old.number + 1, options, leases: 0, retired: false };
    old.retired = true;
    if (old.leases === 0) await closeGeneration(old);
  }

  async acquire(): Promise<{ store: ObjectStore; release(): Promise<void> }> {
    const g = this.gen;
    g.leases++;
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      g.leases--;
      if (g.retired && g.leases === 0) await closeGeneration(g);
    };
    try {
      g.opened ??= openStore(g.options).then((o) => o.store);
      // A failed open is not cached: the next operation (maybe after a fix of the settings) tries again.
      g.opened.catch(() => { if (this.gen === g) g.opened = undefined; });
      return { store: await g.opened, release };
    } catch (err) {
      await release();
      throw err;
    }
  }

  /** Closes the current store once its leases end. */
  async close(): Promise<void> {
    this.gen.retired = true;
    if (this.gen.leases === 0) await closeGeneration(this.gen);
  }
}

async function closeGeneration(g: Generation): Promise<void> {
  const opened = g.opened;
  g.opened = undefined;
  if (!opened) return;
  try {
    await (await opened).close();
  } catch {
    // Opening failed or the client is already gone: nothing to release.
  }
}
