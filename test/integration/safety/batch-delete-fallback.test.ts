/**
 * Defect 9: a store that refuses multi-object delete must not stop retention. Azurite answers a Blob Batch signed
 * with an account SAS with HTTP 500 (pgstow reported the store unavailable, exit 2, and deleted nothing); an S3
 * gateway without DeleteObjects answers 501. Both now fall back to one delete per key and finish.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../../harness/cli.js';
import { storeTarget, type StoreTarget } from '../../harness/stores.js';
import { requireServer } from '../../harness/test-env.js';
import { startHttpProxy } from '../../harness/http-proxy.js';
import { IDS, allKeys, openTarget, seedBarmanCatalog, SERVER } from '../catalog/catalog-fixture.js';

async function seeded(target: StoreTarget): Promise<{ keysOf: (id: string) => Promise<string[]>; close: () => Promise<void> }> {
  const s = await openTarget(target);
  await seedBarmanCatalog(s);
  return {
    keysOf: async (id) => (await allKeys(s)).filter((k) => k.includes(`/base/${id}/`)),
    close: () => s.store.close(),
  };
}

describe('retention when the store refuses batch deletes', () => {
  it('Azure with an account SAS (Azurite: Blob Batch → HTTP 500): single deletes, exit 0', async (t) => {
    const az = requireServer(t, 'azurite');
    const target = storeTarget(t, 'azurite', 'sas-batch');
    if (!az || !target) return;
    const s = await seeded(target);
    t.after(() => s.close());
    assert.ok((await s.keysOf(IDS[1])).length > 0);
    const { AccountSASPermissions, AccountSASResourceTypes, AccountSASServices, StorageSharedKeyCredential, generateAccountSASQueryParameters } = await import('@azure/storage-blob');
    const sas = generateAccountSASQueryParameters({
      permissions: AccountSASPermissions.parse('rwdlac'), services: AccountSASServices.parse('b').toString(),
      resourceTypes: AccountSASResourceTypes.parse('sco').toString(), expiresOn: new Date(Date.now() + 3600_000),
    }, new StorageSharedKeyCredential(az.account, az.accountKey)).toString();
    const r = await runCli('barman-cloud-backup-delete', [...target.args, target.url, SERVER, '-r', 'REDUNDANCY 1'],
      { env: { AZURE_STORAGE_CONNECTION_STRING: '', AZURE_STORAGE_SAS_TOKEN: sas } });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await s.keysOf(IDS[1]), [], 'the obsolete backup is gone');
    assert.ok((await s.keysOf(IDS[2])).length > 0, 'the newest backup stays');
  });

  for (const kind of ['s3rver', 'moto'] as const) {
    it(`S3 (${kind}) behind a gateway answering DeleteObjects with 501: single deletes, exit 0`, async (t) => {
      const target = storeTarget(t, kind, 'batch-501');
      if (!target) return;
      const s = await seeded(target);
      t.after(() => s.close());
      const endpoint = target.args[target.args.indexOf('--endpoint-url') + 1] as string;
      const proxy = await startHttpProxy(endpoint, (req) => (req.method === 'POST' && /[?&]delete(=|&|$)/.test(req.url ?? '')
        ? { status: 501, body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NotImplemented</Code><Message>multi-object delete is not implemented</Message></Error>' }
        : undefined));
      t.after(() => proxy.close());
      const args = target.args.map((a) => (a === endpoint ? proxy.url : a));
      const r = await runCli('barman-cloud-backup-delete', [...args, target.url, SERVER, '-r', 'REDUNDANCY 1'], { env: target.env });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(proxy.refused.length >= 1, 'the batch was tried first');
      assert.deepEqual(await s.keysOf(IDS[1]), [], 'the obsolete backup is gone');
      assert.ok((await s.keysOf(IDS[2])).length > 0, 'the newest backup stays');
    });
  }
});
