/**
 * What the lean stores' listings share (S3's lean-reads.ts, Azure's lean-store.ts): the paging that hands over to
 * the SDK store mid-listing, and the strict reading of a page (S3's ListBucketResult, Azure's EnumerationResults,
 * each naming its own element names). Anything it does not fully understand (an entry without its name or size, markup
 * or CDATA inside a value, an unknown entity, an entry element it could not read whole) gives undefined, and the
 * driver lists through its SDK instead: a listing misread as shorter than it is would look like a missing WAL, so
 * this errs only towards the SDK.
 */
import type { CommonPrefix, ObjectInfo } from './object-store.js';

/** The element names of one listing format. */
export interface ListingTags {
  /** An object's element and its children. */
  object: string;
  key: string;
  size: string;
  modified: string;
  etag: string;
  /** A common prefix's element and its child holding the prefix. */
  prefixEntry: string;
  prefix: string;
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

/** The text of the first <name> element in `xml` (null when there is none, undefined when it is not plain text). */
export function field(xml: string, name: string): string | null | undefined {
  const m = new RegExp(`<${name}>([\\s\\S]*?)</${name}>|<${name}\\s*/>`).exec(xml);
  if (!m) return null;
  return text(m[1] ?? '');
}

/** The bodies of every <name> element; undefined when an element of that name could not be read whole. */
function blocks(xml: string, name: string): string[] | undefined {
  const found = [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, 'g'))].map((m) => m[1] ?? '');
  return found.length === (xml.match(new RegExp(`<${name}[\\s>/]`, 'g')) ?? []).length ? found : undefined;
}

function objectOf(block: string, tags: ListingTags): ObjectInfo | undefined {
  const key = field(block, tags.key);
  const size = field(block, tags.size);
  if (!key || size == null || !/^\d+$/.test(size)) return undefined;
  const modified = field(block, tags.modified);
  const etag = field(block, tags.etag);
  if (modified === undefined || etag === undefined) return undefined;
  const lastModified = modified === null ? undefined : new Date(modified);
  if (lastModified !== undefined && Number.isNaN(lastModified.getTime())) return undefined;
  return { key, size: Number(size), ...(lastModified ? { lastModified } : {}), ...(etag ? { etag } : {}) };
}

/**
 * A page's objects and common prefixes, merged into byte order (both stores return them as two sorted lists; the
 * SDK stores yield them merged), and the page's body with them cut out, for its top-level fields (a key may hold
 * any text). Undefined when any entry is not fully understood.
 */
export function listingEntries(body: string, tags: ListingTags): { entries: Array<ObjectInfo | CommonPrefix>; top: string } | undefined {
  const objects = blocks(body, tags.object);
  const prefixes = blocks(body, tags.prefixEntry);
  if (!objects || !prefixes) return undefined;
  const entries: Array<ObjectInfo | CommonPrefix> = [];
  for (const block of objects) {
    const o = objectOf(block, tags);
    if (!o) return undefined;
    entries.push(o);
  }
  for (const block of prefixes) {
    const prefix = field(block, tags.prefix);
    if (!prefix) return undefined;
    entries.push({ prefix });
  }
  entries.sort((a, b) => Buffer.compare(Buffer.from(entryKey(a)), Buffer.from(entryKey(b))));
  const cut = new RegExp(`<${tags.object}>[\\s\\S]*?</${tags.object}>|<${tags.prefixEntry}>[\\s\\S]*?</${tags.prefixEntry}>`, 'g');
  return { entries, top: body.replace(cut, '') };
}

function entryKey(e: ObjectInfo | CommonPrefix): string {
  return 'prefix' in e ? e.prefix : e.key;
}

/** One page a lean store read, with the cursor of the next (none at the end), or undefined: the SDK lists instead. */
export type LeanPage = { entries: Array<ObjectInfo | CommonPrefix>; next?: string } | undefined;

/**
 * Every entry of a listing, page by page from `readPage`; once a page cannot be read the lean way, the rest from
 * `sdkList` (the whole listing again, after what was already yielded: listings are in byte order). Entries at or
 * before `startAfter` are skipped here (for a store whose listing has no such parameter).
 */
export async function* leanListing(readPage: (cursor: string | undefined) => Promise<LeanPage>,
  sdkList: () => Promise<AsyncIterable<ObjectInfo | CommonPrefix>>, startAfter?: string): AsyncIterable<ObjectInfo | CommonPrefix> {
  let cursor: string | undefined;
  let last: Buffer | undefined;
  do {
    const page = await readPage(cursor);
    if (page === undefined) {
      for await (const e of await sdkList()) {
        if (last === undefined || Buffer.compare(Buffer.from(entryKey(e)), last) > 0) yield e;
      }
      return;
    }
    for (const e of page.entries) {
      last = Buffer.from(entryKey(e));
      if (startAfter !== undefined && entryKey(e) <= startAfter) continue;
      yield e;
    }
    cursor = page.next;
  } while (cursor);
}
