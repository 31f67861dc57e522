/**
 * The AWS SDK modules the S3 driver uses, loaded through require(). Both are CommonJS: import() would run
 * Node's CommonJS export lexer over them (client-s3 is one 270 kB file) before evaluating them, which cost
 * ~50 ms of CPU per archive_command on Node 20 (117 → 65 ms for client-s3 alone). The build bundles them
 * into one file (scripts/bundle-sdks.mjs, dist/src/vendor/): less CPU to load and 8-11 MB less RSS than
 * ~40 packages from node_modules; without that file (a tsc-only build) they come from node_modules.
 */
import { createRequire } from 'node:module';

const requireSdk = createRequire(import.meta.url);

interface AwsSdk {
  s3: typeof import('@aws-sdk/client-s3');
  http: typeof import('@smithy/node-http-handler');
}

function loadAwsSdk(): AwsSdk {
  try {
    return requireSdk('../../../vendor/@aws-sdk/client-s3.cjs') as AwsSdk;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
    return { s3: requireSdk('@aws-sdk/client-s3') as AwsSdk['s3'], http: requireSdk('@smithy/node-http-handler') as AwsSdk['http'] };
  }
}

const sdk = loadAwsSdk();
export const s3sdk = sdk.s3;
export const httpHandler = sdk.http;
