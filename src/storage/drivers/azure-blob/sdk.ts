/**
 * The Azure SDK, loaded through require() (its CommonJS build): the ESM build is hundreds of small modules
 * and import() of it costs ~30 ms more CPU per archive_command on Node 20. @azure/identity comes from the
 * same CommonJS graph, so both share one copy of @azure/core-rest-pipeline and friends.
 */
import { createRequire } from 'node:module';

const requireSdk = createRequire(import.meta.url);

export const blobSdk = requireSdk('@azure/storage-blob') as typeof import('@azure/storage-blob');

/** Only for Entra ID credentials: large, and never needed with keys, SAS or connection strings. */
export const loadIdentity = (): typeof import('@azure/identity') => requireSdk('@azure/identity') as typeof import('@azure/identity');
