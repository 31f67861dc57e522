/**
 * The Azure SDK, loaded through require() (its CommonJS build): the ESM build is hundreds of small modules
 * and import() of it costs ~30 ms more CPU per archive_command on Node 20. The build bundles it into one file
 * (scripts/bundle-sdks.mjs, dist/src/vendor/), which halves the load again; without that file (a tsc-only
 * build) it comes from node_modules.
 */
import { createRequire } from 'node:module';

const requireSdk = createRequire(import.meta.url);

type BlobSdk = typeof import('@azure/storage-blob');

function loadBlobSdk(): BlobSdk {
  try {
    return requireSdk('../../../vendor/@azure/storage-blob.cjs') as BlobSdk;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
    return requireSdk('@azure/storage-blob') as BlobSdk;
  }
}

export const blobSdk = loadBlobSdk();

/**
 * Only for Entra ID credentials: large, and never needed with keys, SAS or connection strings. Its credentials
 * reach the blob client as TokenCredential, an interface (getToken), so a separate copy of the core packages
 * is harmless.
 */
export const loadIdentity = (): typeof import('@azure/identity') => requireSdk('@azure/identity') as typeof import('@azure/identity');
