/**
 * Merging EngineSettings layers. CloudNativePG's rule for *AdditionalCommandArgs ("an extra argument never
 * overrides what the command line already says") becomes: the layers are merged field by field and the
 * first layer that sets a field wins. Credentials and the CA are taken whole from one layer (never a key id
 * from one layer with a secret from another); tag maps are taken whole too.
 */
import type { EngineSettings } from '../engine/settings.js';

/** Fields taken as one value from the first layer that has them. */
const ATOMIC = new Set(['credentials', 'endpointCa', 'tags', 'historyTags', 'postgres.libpqEnv']);

export function mergeSettings(first: EngineSettings, ...rest: ReadonlyArray<Partial<EngineSettings>>): EngineSettings {
  let out: Record<string, unknown> = { ...first };
  for (const layer of rest) out = mergeInto(out, layer as Record<string, unknown>, '');
  return out as unknown as EngineSettings;
}

function mergeInto(base: Record<string, unknown>, layer: Record<string, unknown>, prefix: string): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(layer)) {
    if (v === undefined) continue;
    const path = prefix + k;
    const have = out[k];
    if (have === undefined) out[k] = v;
    else if (!ATOMIC.has(path) && isPlainObject(have) && isPlainObject(v)) out[k] = mergeInto(have, v, `${path}.`);
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

/** Sets a dotted path ("wal.compression"), creating the objects on the way. */
export function setPath(target: object, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = target as Record<string, unknown>;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (!isPlainObject(next)) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts.at(-1) as string] = value;
}

/** Reads a dotted path, or undefined. */
export function getPath(source: unknown, path: string): unknown {
  let cur: unknown = source;
  for (const p of path.split('.')) {
    if (!isPlainObject(cur) && (typeof cur !== 'object' || cur === null)) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}
