/**
 * Limits every provider puts on object tags, checked before any request: S3 object tags and Azure blob index tags
 * allow at most 10 tags, keys of 1–128 and values of up to 256 characters (GCS keeps them as custom metadata, within
 * those limits too). A tag past them was sent and refused as "Unknown (HTTP 431)" (headers too large).
 */
import { UsageError } from '../errors.js';

export const MAX_TAGS = 10;
export const MAX_TAG_KEY = 128;
export const MAX_TAG_VALUE = 256;

function shown(s: string): string {
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** Throws UsageError (exit 3) naming the option and the tag that no store would accept. */
export function assertTagLimits(tags: Readonly<Record<string, string>>, option: string): void {
  const entries = Object.entries(tags);
  if (entries.length > MAX_TAGS) throw new UsageError(`argument ${option}: ${entries.length} tags, but object stores accept at most ${MAX_TAGS} per object`);
  for (const [key, value] of entries) {
    if (key.length === 0 || key.length > MAX_TAG_KEY) {
      throw new UsageError(`argument ${option}: tag key '${shown(key)}' has ${key.length} characters; object stores accept 1 to ${MAX_TAG_KEY}`);
    }
    if (value.length > MAX_TAG_VALUE) {
      throw new UsageError(`argument ${option}: the value of tag '${shown(key)}' has ${value.length} characters; object stores accept at most ${MAX_TAG_VALUE}`);
    }
  }
}
