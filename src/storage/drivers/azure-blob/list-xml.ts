/**
 * A List Blobs answer (EnumerationResults XML) read without the SDK, for the lean store. Strict, as the S3 lean
 * listing: anything it does not fully understand (a Blob without Name or Content-Length, an encoded name, markup
 * or CDATA inside a value, an unknown entity) returns undefined and the SDK store lists instead. A listing misread
 * as shorter than it is would look like a missing WAL, so this errs only towards the SDK.
 */
import type { CommonPrefix, ObjectInfo } from '../../object-store.js';

export interface BlobListPage {
  /** Blobs and prefixes of the page, merged in byte order (as the SDK store yields them). */
  entries: Array<ObjectInfo | CommonPrefix>;
  /** The marker of the next page, when the listing goes on. */
  nextMarker?: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** XML character data to text; undefined for markup or an entity it does not know. */
function text(raw: string): string | undefined {
  if (raw.includes('<')) return undefined;
  let bad = false;
  const out = raw.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);|&/g, (m, name: string | undefined) => {
    if (name === undefined) { bad = true; return m; }
    if (name.startsWith('#')) {
      const code = name.startsWith('#x') ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      if (code > 0x10ffff) { bad = true; return m; }
      return String.fromCodePoint(code);
    }
    const v = ENTITIES[name];
    if (v === undefined) bad = true;
    return v ?? m;
  });
  return bad ? undefined : out;
}

/** The text of the first <name> element (null when there is none, undefined when it is not plain text). */
function field(xml: string, name: string): string | null | undefined {
  const m = new RegExp(`<${name}>([\\s\\S]*?)</${name}>|<${name}\\s*/>`).exec(xml);
  if (!m) return null;
  return text(m[1] ?? '');
}

function blocks(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, 'g'))].map((m) => m[1] ?? '');
}

function blobOf(block: string): ObjectInfo | undefined {
  const key = field(block, 'Name');
  const size = field(block, 'Content-Length');
  if (!key || size == null || !/^\d+$/.test(size)) return undefined;
  const modified = field(block, 'Last-Modified');
  const etag = field(block, 'Etag');
  if (modified === undefined || etag === undefined) return undefined;
  const lastModified = modified === null ? undefined : new Date(modified);
  if (lastModified !== undefined && Number.isNaN(lastModified.getTime())) return undefined;
  return { key, size: Number(size), ...(lastModified ? { lastModified } : {}), ...(etag ? { etag } : {}) };
}

export function parseBlobListPage(xml: string): BlobListPage | undefined {
  const root = /<EnumerationResults[\s>][\s\S]*<\/EnumerationResults>/.exec(xml);
  // An encoded name (characters XML cannot carry) and metadata are the SDK's to read.
  if (!root || xml.includes('<![CDATA[') || /<Name\s+Encoded/.test(xml) || xml.includes('<Metadata')) return undefined;
  const body = root[0];
  const entries: Array<ObjectInfo | CommonPrefix> = [];
  const blobs = blocks(body, 'Blob');
  if (blobs.length !== (body.match(/<Blob[\s>/]/g) ?? []).length) return undefined;
  for (const block of blobs) {
    const o = blobOf(block);
    if (!o) return undefined;
    entries.push(o);
  }
  const prefixes = blocks(body, 'BlobPrefix');
  if (prefixes.length !== (body.match(/<BlobPrefix[\s>/]/g) ?? []).length) return undefined;
  for (const block of prefixes) {
    const prefix = field(block, 'Name');
    if (!prefix) return undefined;
    entries.push({ prefix });
  }
  // Top-level fields, read with the entries cut out (a name may hold any text).
  const top = body.replace(/<Blob>[\s\S]*?<\/Blob>|<BlobPrefix>[\s\S]*?<\/BlobPrefix>/g, '');
  const marker = field(top, 'NextMarker');
  if (marker === undefined) return undefined;
  // Within a page Azure returns prefixes and blobs in two lists; merged back into byte order as the SDK store does.
  entries.sort((a, b) => Buffer.compare(Buffer.from(entryKey(a)), Buffer.from(entryKey(b))));
  return { entries, ...(marker ? { nextMarker: marker } : {}) };
}

function entryKey(e: ObjectInfo | CommonPrefix): string {
  return 'prefix' in e ? e.prefix : e.key;
}
