/**
 * The XML of S3's multipart requests as the lean store (lean-multipart.ts) sends and reads it: the
 * CompleteMultipartUpload body, and the answers of CreateMultipartUpload, CompleteMultipartUpload,
 * ListMultipartUploads and ListParts. A reader returns undefined for a document it does not recognise (another
 * root, an <Error> in a 200, a missing element it needs), and the lean store then asks the SDK client. No AWS SDK.
 */
import type { UploadedPart } from '../../multipart-upload.js';

/** The document without its XML declaration when its root element is one of `roots`, else undefined. */
function rooted(xml: string, ...roots: string[]): string | undefined {
  const doc = xml.replace(/^\uFEFF?\s*(<\?xml[^>]*\?>)?\s*/, '');
  return roots.some((root) => new RegExp(`^<${root}[\\s>]`).test(doc)) ? doc : undefined;
}

/** The text of the first `<name>` in `xml` (entities decoded), else undefined. */
function text(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return m?.[1] !== undefined ? decodeXml(m[1]) : undefined;
}

/** The bodies of every `<name>…</name>` element (not nested in one another: Upload, Part). */
function blocks(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, 'g'))].map((m) => m[1] as string);
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeXml(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (all, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
    return ENTITIES[e] ?? all;
  });
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The CompleteMultipartUpload body the SDK serializes for the same parts. */
export function completeXml(parts: UploadedPart[]): string {
  const items = parts.map((p) => `<Part>${p.ETag !== undefined ? `<ETag>${escapeXml(p.ETag)}</ETag>` : ''}<PartNumber>${p.PartNumber}</PartNumber></Part>`);
  return `<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${items.join('')}</CompleteMultipartUpload>`;
}

/** CreateMultipartUpload's upload id. */
export function parseCreated(xml: string): string | undefined {
  const doc = rooted(xml, 'InitiateMultipartUploadResult');
  return doc === undefined ? undefined : text(doc, 'UploadId') || undefined;
}

/** CompleteMultipartUpload's ETag of the object (S3 may answer 200 with an <Error>: then undefined). */
export function parseCompleted(xml: string): string | undefined {
  // moto names its root CompleteMultipartUploadResponse (the SDK reads either: it does not look at the root).
  const doc = rooted(xml, 'CompleteMultipartUploadResult', 'CompleteMultipartUploadResponse');
  return doc === undefined ? undefined : text(doc, 'ETag') || undefined;
}

export interface UploadsPage {
  uploads: Array<{ key: string; id: string; initiated?: Date }>;
  next?: { keyMarker: string; idMarker: string };
}

/** One page of ListMultipartUploads. */
export function parseUploadsPage(xml: string): UploadsPage | undefined {
  const doc = rooted(xml, 'ListMultipartUploadsResult');
  if (doc === undefined) return undefined;
  const uploads: UploadsPage['uploads'] = [];
  for (const b of blocks(doc, 'Upload')) {
    const key = text(b, 'Key');
    const id = text(b, 'UploadId');
    if (!key || !id) continue; // as the SDK store skips them
    const initiated = text(b, 'Initiated');
    const date = initiated ? new Date(initiated) : undefined;
    if (date && Number.isNaN(date.getTime())) return undefined;
    uploads.push({ key, id, ...(date ? { initiated: date } : {}) });
  }
  if (text(doc, 'IsTruncated') !== 'true') return { uploads };
  const keyMarker = text(doc, 'NextKeyMarker');
  const idMarker = text(doc, 'NextUploadIdMarker');
  return keyMarker === undefined || idMarker === undefined ? undefined : { uploads, next: { keyMarker, idMarker } };
}

export interface PartsPage { parts: Array<{ lastModified?: Date; size: number }>; nextMarker?: string }

/** One page of ListParts. */
export function parsePartsPage(xml: string): PartsPage | undefined {
  const doc = rooted(xml, 'ListPartsResult');
  if (doc === undefined) return undefined;
  const parts: PartsPage['parts'] = [];
  for (const b of blocks(doc, 'Part')) {
    const modified = text(b, 'LastModified');
    const date = modified ? new Date(modified) : undefined;
    const size = Number(text(b, 'Size') ?? 0);
    if ((date && Number.isNaN(date.getTime())) || !Number.isFinite(size)) return undefined;
    parts.push({ size, ...(date ? { lastModified: date } : {}) });
  }
  if (text(doc, 'IsTruncated') !== 'true') return { parts };
  const nextMarker = text(doc, 'NextPartNumberMarker');
  return nextMarker === undefined ? undefined : { parts, nextMarker };
}
