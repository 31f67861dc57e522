/**
 * The AWS SDK modules the S3 driver uses, loaded through require(). Both are CommonJS: import() would run
 * Node's CommonJS export lexer over them (client-s3 is one 270 kB file) before evaluating them, which cost
 * ~50 ms of CPU per archive_command on Node 20 (117 → 65 ms for client-s3 alone).
 */
import { createRequire } from 'node:module';

const requireSdk = createRequire(import.meta.url);

export const s3sdk = requireSdk('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3');
export const httpHandler = requireSdk('@smithy/node-http-handler') as typeof import('@smithy/node-http-handler');
