/**
 * The JSON API requests a wal-restore or the sidecar makes on GCS, on node:http/https without the SDK: an object's
 * metadata, its media (ranged, pinned to a generation), a page of a listing, and a delete. Only the answers the
 * store understands are taken: a 2xx whose JSON reads strictly, and a 404 (a missing object, whose
 * classification depends on the status alone). Every other answer, a connection failure or a timeout before the
 * answer, is `UseSdk`: the store sends the request again through the SDK, so errors and messages stay the SDK
 * path's. Only an abort throws here. gcs-store.ts uses these; S3's lean-reads.ts and Azure's lean-store.ts are the
 * same design.
 */
import type * as httpT from 'node:http';
import type { Readable } from 'node:stream';
import { http, https } from '../../node-net.js';
import type { CommonPrefix, ObjectInfo } from '../../object-store.js';

/** Largest JSON answer read (a listing page of 1000 objects is ~1 MiB on GCS). */
const MAX_JSON = 16 * 1024 * 1024;

/** A request the lean path hands to the SDK (the reason only helps debugging). */
export class UseSdk { constructor(readonly why: string, readonly status?: number) {} }

export interface LeanTarget {
  /** The endpoint, no trailing slash (https://storage.googleapis.com or an emulator's). */
  endpoint: string;
  bucket: string;
  agent: httpT.Agent;
  timeoutMs: number;
}

/** The object metadata fields the store reads (the JSON API's object resource). */
export interface ObjectResource {
  name: string;
  size: string;
  updated?: string;
  etag?: string;
  md5Hash?: string;
  crc32c?: string;
  generation?: string;
  metadata?: Record<string, string>;
}

export function objectUrl(t: LeanTarget, key: string, query: Record<string, string> = {}): URL {
  const url = new URL(`${t.endpoint}/storage/v1/b/${encodeURIComponent(t.bucket)}/o/${encodeURIComponent(key)}`);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  return url;
}

export function listUrl(t: LeanTarget, query: Record<string, string>): URL {
  const url = new URL(`${t.endpoint}/storage/v1/b/${encodeURIComponent(t.bucket)}/o`);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  return url;
}

/**
 * One GET or DELETE: the response when it is a 2xx (its body unread), else UseSdk with the status (the body read
 * and dropped, so the socket goes back to the agent). `signal` aborted: rejects with its reason.
 */
export function leanRequest(t: LeanTarget, method: 'GET' | 'DELETE', url: URL, headers: Record<string, string>,
  signal?: AbortSignal): Promise<httpT.IncomingMessage | UseSdk> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(signal.reason); return; }
    const req = (url.protocol === 'https:' ? https : http).request(url, { method, headers, agent: t.agent, ...(signal ? { signal } : {}) }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) { resolve(res); return; }
      res.on('error', () => undefined);
      res.resume();
      resolve(new UseSdk(`HTTP ${status}`, status));
    });
    // No byte for this long: the SDK path has the same bound (its request timeout); it then tries again itself.
    req.setTimeout(t.timeoutMs, () => req.destroy(Object.assign(new Error(`no response within ${t.timeoutMs} ms`), { name: 'TimeoutError' })));
    req.on('error', (err) => (signal?.aborted ? reject(signal.reason) : resolve(new UseSdk(err.message))));
    req.end();
  });
}

/** A 2xx answer's body as JSON; UseSdk when it breaks off, is too long or is not JSON. */
export async function readJson(res: Readable, signal?: AbortSignal): Promise<unknown> {
  const chunks: Buffer[] = [];
  let got = 0;
  try {
    for await (const c of res as AsyncIterable<Buffer>) {
      got += c.length;
      if (got > MAX_JSON) { res.destroy(); return new UseSdk('answer too long'); }
      chunks.push(c);
    }
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    return new UseSdk(`answer broke off: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return new UseSdk('answer is not JSON');
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const optString = (v: unknown): boolean => v === undefined || typeof v === 'string';

/** An object resource read strictly: a name, a decimal size, the optional fields of the right types; else undefined. */
export function parseObject(v: unknown): ObjectResource | undefined {
  if (!isObject(v) || typeof v.name !== 'string' || v.name === '') return undefined;
  const size = typeof v.size === 'number' ? String(v.size) : v.size;
  if (typeof size !== 'string' || !/^\d+$/.test(size)) return undefined;
  if (!optString(v.updated) || !optString(v.etag) || !optString(v.md5Hash) || !optString(v.crc32c)) return undefined;
  if (v.updated !== undefined && Number.isNaN(new Date(v.updated as string).getTime())) return undefined;
  const generation = typeof v.generation === 'number' ? String(v.generation) : v.generation;
  if (generation !== undefined && (typeof generation !== 'string' || !/^\d+$/.test(generation))) return undefined;
  let metadata: Record<string, string> | undefined;
  if (v.metadata !== undefined && v.metadata !== null) {
    if (!isObject(v.metadata)) return undefined;
    metadata = {};
    // The SDK store reports a null value as absent (a key being removed) and any other value as text.
    for (const [k, x] of Object.entries(v.metadata)) if (x !== null && x !== undefined) metadata[k] = String(x);
  }
  return {
    name: v.name, size, ...(v.updated !== undefined ? { updated: v.updated as string } : {}), ...(v.etag !== undefined ? { etag: v.etag as string } : {}),
    ...(v.md5Hash !== undefined ? { md5Hash: v.md5Hash as string } : {}), ...(v.crc32c !== undefined ? { crc32c: v.crc32c as string } : {}),
    ...(generation !== undefined ? { generation } : {}), ...(metadata ? { metadata } : {}),
  };
}

/** ObjectInfo as the SDK store's toInfo builds it from the same resource. */
export function infoOf(key: string, o: ObjectResource): ObjectInfo {
  return {
    key, size: Number(o.size),
    ...(o.updated ? { lastModified: new Date(o.updated) } : {}),
    ...(o.etag ? { etag: o.etag } : {}),
    ...(o.md5Hash ? { md5: Buffer.from(o.md5Hash, 'base64').toString('hex') } : {}),
    ...(o.metadata && Object.keys(o.metadata).length > 0 ? { metadata: o.metadata } : {}),
  };
}

/** A listing page (objects#list) read strictly; undefined when any part of it is not understood. */
export function parseListPage(v: unknown): { objects: ObjectInfo[]; prefixes: string[]; next?: string } | undefined {
  if (!isObject(v) || !optString(v.nextPageToken)) return undefined;
  if (v.items !== undefined && !Array.isArray(v.items)) return undefined;
  if (v.prefixes !== undefined && !(Array.isArray(v.prefixes) && v.prefixes.every((p) => typeof p === 'string' && p !== ''))) return undefined;
  const objects: ObjectInfo[] = [];
  for (const item of (v.items ?? []) as unknown[]) {
    const o = parseObject(item);
    if (!o) return undefined;
    objects.push(infoOf(o.name, o));
  }
  const next = v.nextPageToken as string | undefined;
  return { objects, prefixes: (v.prefixes ?? []) as string[], ...(next ? { next } : {}) };
}

export type ListEntry = ObjectInfo | CommonPrefix;
