/**
 * AWS Signature Version 4 for the lean read path (lean-reads.ts), with @smithy/signature-v4, the signer the AWS
 * SDK itself uses. Loaded from its own bundle (scripts/bundle-sdks.mjs: only SignatureV4 and what it needs,
 * ~24 KiB instead of the ~900 KiB client bundle); from node_modules in a tsc-only build.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { createRequire } from 'node:module';
import type { SignatureV4 as SignatureV4Type } from '@smithy/signature-v4';

const requireSdk = createRequire(import.meta.url);

function loadSignatureV4(): typeof SignatureV4Type {
  try {
    return (requireSdk('../../../vendor/@smithy/signature-v4.cjs') as { SignatureV4: typeof SignatureV4Type }).SignatureV4;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
    return (requireSdk('@smithy/signature-v4') as { SignatureV4: typeof SignatureV4Type }).SignatureV4;
  }
}

type SourceData = string | ArrayBuffer | ArrayBufferView;

function bytesOf(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** The SHA-256 (keyed: HMAC) the signer is given, on node:crypto. */
class Sha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret));
  }

  update(data: SourceData): void { this.hash.update(bytesOf(data)); }

  digest(): Promise<Uint8Array> { return Promise.resolve(new Uint8Array(this.hash.digest())); }
}

export interface StaticKeys { accessKeyId: string; secretAccessKey: string; sessionToken?: string }

/** A request as the signer takes it; the signed copy carries authorization, x-amz-date and x-amz-content-sha256. */
export interface SignableRequest {
  method: string;
  protocol: string;
  hostname: string;
  port?: number;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  /** A body in memory, hashed into the signature (x-amz-content-sha256); a streamed one is sent UNSIGNED-PAYLOAD. */
  body?: Buffer;
}

/** Signs S3 requests as the AWS SDK does (service s3, path not escaped again, payload hash sent). */
export function s3Signer(keys: () => StaticKeys, region: string): (req: SignableRequest) => Promise<SignableRequest> {
  const SignatureV4 = loadSignatureV4();
  const credentials = async (): Promise<StaticKeys> => {
    const k = keys();
    return { accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey, ...(k.sessionToken ? { sessionToken: k.sessionToken } : {}) };
  };
  const signer = new SignatureV4({ credentials, region, service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: true });
  return async (req) => await signer.sign(req as never) as unknown as SignableRequest;
}

/** RFC 3986 escaping as S3 wants it in paths and query strings (what the SDK and the signer use). */
export function escapeUri(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
