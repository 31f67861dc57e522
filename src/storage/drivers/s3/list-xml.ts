/**
 * A ListObjectsV2 answer (ListBucketResult XML) read without the SDK, for the lean read path. Strict: anything
 * it does not fully understand (a Contents without Key or Size, markup or CDATA inside a value, an unknown
 * entity) returns undefined and the SDK store lists instead. A listing misread as shorter than it is would
 * look like a missing WAL, so this errs only towards the SDK.
 */
import type { CommonPrefix, ObjectInfo } from '../../object-store.js';
import { field, listingEntries, type ListingTags } from '../../lean-listing.js';

export interface ListPage {
  /** Keys and common prefixes of the page, merged in byte order (as the SDK store yields them). */
  entries: Array<ObjectInfo | CommonPrefix>;
  /** Set when the listing goes on (IsTruncated with a NextContinuationToken). */
  nextToken?: string;
}

const TAGS: ListingTags = { object: 'Contents', key: 'Key', size: 'Size', modified: 'LastModified', etag: 'ETag', prefixEntry: 'CommonPrefixes', prefix: 'Prefix' };

export function parseListPage(xml: string): ListPage | undefined {
  const root = /<ListBucketResult[\s>][\s\S]*<\/ListBucketResult>/.exec(xml);
  if (!root || xml.includes('<![CDATA[')) return undefined;
  const page = listingEntries(root[0], TAGS);
  if (!page) return undefined;
  const truncated = field(page.top, 'IsTruncated');
  if (truncated !== null && truncated !== 'true' && truncated !== 'false') return undefined;
  const token = field(page.top, 'NextContinuationToken');
  if (token === undefined) return undefined;
  return { entries: page.entries, ...(truncated === 'true' && token ? { nextToken: token } : {}) };
}
