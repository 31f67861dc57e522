/**
 * A ListObjectsV2 answer (ListBucketResult XML) read without the SDK, for the lean read path. Strict: anything
 * it does not fully understand (a Contents without Key or Size, markup or CDATA inside a value, an unknown
 * entity) returns undefined and the SDK store lists instead. A listing misread as shorter than it is would
 * look like a missing WAL, so this errs only towards the SDK.
 */
import type { CommonPrefix, ObjectInfo } from '../../object-store.js';

export interface ListPage {
  /** Keys and common prefixes of the page, merged in byte order (as the SDK store yields them). */
  entries: Array<ObjectInfo | CommonPrefix>;
  /** Set when the listing goes on (IsTruncated with a NextContinuationToken). */
  nextToken?: string;
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
function field(xml: string, name: string): string | null | undefined {
  const m = new RegExp(`<${name}>([\\s\\S]*?)</${name}>|<${name}\\s*/>`).exec(xml);
  if (!m) return null;
  return text(m[1] ?? '');
}

function blocks(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, 'g'))].map((m) => m[1] ?? '');
}

function objectOf(block: string): ObjectInfo | undefined {
  const key = field(block, 'Key');
  const size = field(block, 'Size');
  if (!key || size == null || !/^\d+$/.test(size)) return undefined;
  const modified = field(block, 'LastModified');
  const etag = field(block, 'ETag');
  if (modified === undefined || etag === undefined) return undefined;
  const lastModified = modified === null ? undefined : new Date(modified);
  if (lastModified !== undefined && Number.isNaN(lastModified.getTime())) return undefined;
  return { key, size: Number(size), ...(lastModified ? { lastModified } : {}), ...(etag ? { etag } : {}) };
}

export function parseListPage(xml: string): ListPage | undefined {
  const root = /<ListBucketResult[\s>][\s\S]*<\/ListBucketResult>/.exec(xml);
  if (!root || xml.includes('<![CDATA[')) return undefined;
  const body = root[0];
  const entries: Array<ObjectInfo | CommonPrefix> = [];
  const contents = blocks(body, 'Contents');
  if (contents.length !== (body.match(/<Contents[\s>/]/g) ?? []).length) return undefined;
  for (const block of contents) {
    const o = objectOf(block);
    if (!o) return undefined;
    entries.push(o);
  }
  const prefixes = blocks(body, 'CommonPrefixes');
  if (prefixes.length !== (body.match(/<CommonPrefixes[\s>/]/g) ?? []).length) return undefined;
  for (const block of prefixes) {
    const prefix = field(block, 'Prefix');
    if (!prefix) return undefined;
    entries.push({ prefix });
  }
  // Top-level fields, read with the entries cut out (a key may hold any text).
  const top = body.replace(/<Contents>[\s\S]*?<\/Contents>|<CommonPrefixes>[\s\S]*?<\/CommonPrefixes>/g, '');
  const truncated = field(top, 'IsTruncated');
  if (truncated !== null && truncated !== 'true' && truncated !== 'false') return undefined;
  const token = field(top, 'NextContinuationToken');
  if (token === undefined) return undefined;
  // S3 returns keys and prefixes in two sorted lists; one page merged is in order, pages follow each other.
  entries.sort((a, b) => Buffer.compare(Buffer.from(entryKey(a)), Buffer.from(entryKey(b))));
  return { entries, ...(truncated === 'true' && token ? { nextToken: token } : {}) };
}

function entryKey(e: ObjectInfo | CommonPrefix): string {
  return 'prefix' in e ? e.prefix : e.key;
}
