/** Virtual-host addressing (<bucket>.s3.localhost) on s3rver: every request must carry the bucket in Host. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as diagnostics from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import { describeObjectStoreConformance } from '../conformance/object-store.suite.js';
import { requireServer } from '../harness/test-env.js';
import { TEST_BUCKET } from '../harness/stores.js';
import { conformanceTarget } from './s3-helpers.js';

const hosts: string[] = [];
const onRequest = (msg: unknown): void => { hosts.push(String((msg as { request: ClientRequest }).request.getHeader('host'))); };

describe('virtual-host addressing', () => {
  before(() => diagnostics.subscribe('http.client.request.start', onRequest));
  after(() => diagnostics.unsubscribe('http.client.request.start', onRequest));

  describeObjectStoreConformance('s3 on s3rver, virtual-host style', async () => {
    const info = requireServer(undefined, 's3rver');
    if (!info) return undefined;
    return conformanceTarget(info, { endpoint: info.extra?.vhostEndpoint ?? '', s3: { addressingStyle: 'virtual' } });
  }, { skipLarge: true });

  it('sent every request to <bucket>.s3.localhost', () => {
    assert.ok(hosts.length > 20, `saw ${hosts.length} requests`);
    for (const h of hosts) assert.match(h, new RegExp(`^${TEST_BUCKET}\\.s3\\.localhost:\\d+$`));
  });
});
