/**
 * What the S3 driver makes of a GetObject/HeadObject answer, and the capabilities of an S3 store: shared by the
 * SDK store (s3-store.ts) and the lean read path (lean-reads.ts), which must load without the AWS SDK.
 */
import type { ObjectInfo, StoreCapabilities } from '../../object-store.js';
import type { S3Settings } from './config.js';

/** The parts of a GetObject/HeadObject answer ObjectInfo is made of (the SDK's output field names). */
export interface S3ObjectHeaders {
  ContentLength?: number;
  LastModified?: Date;
  ETag?: string;
  Metadata?: Record<string, string>;
  ServerSideEncryption?: string;
  SSECustomerAlgorithm?: string;
}

export function s3Capabilities(settings: S3Settings): StoreCapabilities {
  return {
    // AWS enforces If-None-Match on PUT/Complete; S3-compatible servers may silently ignore it (probeCreateOnly).
    conditionalCreate: settings.endpoint === undefined,
    atomicReplace: true,
    serverSideEncryption: true,
    objectTags: true,
    maxBatchDelete: 1000,
    maxParts: settings.maxParts,
  };
}

/**
 * ObjectInfo from a GET or HEAD response. `md5` only where the ETag is the content's MD5 for certain: AWS itself
 * (S3-compatible servers with encryption answer opaque ETags of the same shape), a single-part upload, no SSE-KMS
 * or SSE-C, and the whole object.
 */
export function s3ObjectInfo(settings: S3Settings, key: string, r: S3ObjectHeaders, whole: boolean): ObjectInfo {
  const etag = r.ETag?.replace(/"/g, '');
  const md5 = whole && settings.endpoint === undefined && etag && /^[0-9a-f]{32}$/i.test(etag)
    && (r.ServerSideEncryption === undefined || r.ServerSideEncryption === 'AES256') && r.SSECustomerAlgorithm === undefined ? etag.toLowerCase() : undefined;
  return {
    key, size: r.ContentLength ?? 0,
    ...(r.LastModified ? { lastModified: r.LastModified } : {}),
    ...(r.ETag ? { etag: r.ETag } : {}),
    ...(md5 ? { md5 } : {}),
    ...(r.Metadata ? { metadata: r.Metadata } : {}),
  };
}
