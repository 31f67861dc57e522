/**
 * GKE workload identity when the metadata server does not answer (it starts after the pod on some nodes):
 * a retryable network failure (exit 2), never exit 1 (restore_command would read 1 as "WAL not found").
 * Its own file, hence its own process: Google's library caches metadata-server detection module-wide.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { ExitCode } from '../../src/errors.js';
import { StorageUnavailableError } from '../../src/storage/errors.js';
import { openGcs } from './gcs-helpers.js';

it('an unreachable metadata server → StorageUnavailableError (exit 2) naming it', async () => {
  const store = await openGcs({ GCE_METADATA_HOST: '127.0.0.1:9' }, { endpointUrl: 'http://127.0.0.1:9' });
  const err = await store.exists('wi/x').catch((e: unknown) => e);
  assert.ok(err instanceof StorageUnavailableError, String(err));
  assert.equal(err.exitCode, ExitCode.NETWORK);
  assert.match(err.message, /metadata server at 127\.0\.0\.1:9 is not reachable \(ECONNREFUSED\)/);
});
