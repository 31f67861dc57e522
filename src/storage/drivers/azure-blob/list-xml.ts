/**
 * A List Blobs answer (EnumerationResults XML) read without the SDK, for the lean store. Strict, as the S3 lean
 * listing: anything it does not fully understand (a Blob without Name or Content-Length, an encoded name, markup
 * or CDATA inside a value, an unknown entity) returns undefined and the SDK store lists instead. A listing misread
 * as shorter than it is would look like a missing WAL, so this errs only towards the SDK.
 */
import type { CommonPrefix, ObjectInfo } from '../../object-store.js';
import { field, listingEntries, type ListingTags } from '../../lean-listing.js';

export interface BlobListPage {
  /** Blobs and prefixes of the page, merged in byte order (as the SDK store yields them). */
  entries: Array<ObjectInfo | CommonPrefix>;
  /** The marker of the next page, when the listing goes on. */
  nextMarker?: string;
}

const TAGS: ListingTags = { object: 'Blob', key: 'Name', size: 'Content-Length', modified: 'Last-Modified', etag: 'Etag', prefixEntry: 'BlobPrefix', prefix: 'Name' };

export function parseBlobListPage(xml: string): BlobListPage | undefined {
  const root = /<EnumerationResults[\s>][\s\S]*<\/EnumerationResults>/.exec(xml);
  // An encoded name (characters XML cannot carry) and metadata are the SDK's to read.
  if (!root || xml.includes('<![CDATA[') || /<Name\s+Encoded/.test(xml) || xml.includes('<Metadata')) return undefined;
  const page = listingEntries(root[0], TAGS);
  if (!page) return undefined;
  const marker = field(page.top, 'NextMarker');
  if (marker === undefined) return undefined;
  return { entries: page.entries, ...(marker ? { nextMarker: marker } : {}) };
}
