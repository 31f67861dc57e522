/**
 * GKE workload identity when the metadata server does not answer (on some nodes it starts after the pod):
 * a retryable network failure (exit 2), never exit 1 (restore_command would read 1 as "WAL not found"), and the
 * same store works once the metadata server is up. Its own file, hence its own process: Google's library
 * caches metadata-server detection module-wide.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { ExitCode } from '../../src/errors.js';
import { StorageUnavailableError } from '../../src/storage/errors.js';
import { requireServer } from '../harness/test-env.js';
import { startGcsEmulator } from '../harness/servers/gcs.js';
import { openGcs } from './gcs-helpers.js';

it('an unreachable metadata server → StorageUnavailableError (exit 2); the store recovers when it comes up', async (t) => {
  if (!requireServer(t, 'gcs')) return;
  const TOKEN = 'late-metadata-token';
  // Learn a free port, then leave it closed: the metadata server (and store) "not started yet".
  const probe = await startGcsEmulator();
  const port = Number(new URL(probe.endpoint).port);
  await probe.stop();
  const store = await openGcs({ GCE_METADATA_HOST: `127.0.0.1:${port}` }, { endpointUrl: `http://127.0.0.1:${port}` });
  const err = await store.exists('wi/x').catch((e: unknown) => e);
  assert.ok(err instanceof StorageUnavailableError, String(err));
  assert.equal(err.exitCode, ExitCode.NETWORK);
  assert.match(err.message, new RegExp(`metadata server at 127\\.0\\.0\\.1:${port} is not reachable \\(ECONNREFUSED\\)`));

  const late = await startGcsEmulator({ port, requireToken: TOKEN });
  try {
    assert.equal(await store.exists('wi/x'), false, 'the same store authenticates once the metadata server answers');
    await store.put('wi/x', Buffer.from('late'));
    assert.equal(await store.exists('wi/x'), true);
  } finally {
    await late.stop();
  }
});
