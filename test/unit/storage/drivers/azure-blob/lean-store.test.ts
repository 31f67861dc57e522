/**
 * The lean Azure store's pieces that need no server: its Shared Key signature is the SDK's own policy's for the
 * same request (method, path, query, x-ms-* headers with metadata, tags and a range, conditions), and its List
 * Blobs reader takes what it understands (pages, prefixes, entities) and leaves the rest to the SDK store.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { storageSharedKeyCredentialPolicy } from '@azure/storage-common';
import { createHttpHeaders, createPipelineRequest, type PipelineRequest } from '@azure/core-rest-pipeline';
import { sharedKeyAuthorization } from '../../../../../src/storage/drivers/azure-blob/shared-key.js';
import { parseBlobListPage } from '../../../../../src/storage/drivers/azure-blob/list-xml.js';

const ACCOUNT = 'devstoreaccount1';
const KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** The Authorization the SDK's policy puts on a request (it also sets x-ms-date, returned with it). */
async function sdkSigned(method: 'GET' | 'PUT' | 'HEAD' | 'DELETE', url: string, headers: Record<string, string>): Promise<{ authorization: string; date: string }> {
  const policy = storageSharedKeyCredentialPolicy({ accountName: ACCOUNT, accountKey: Buffer.from(KEY, 'base64') });
  const request = createPipelineRequest({ url, method, headers: createHttpHeaders(headers) });
  let seen: PipelineRequest | undefined;
  await policy.sendRequest(request, async (r) => { seen = r; return { request: r, status: 200, headers: createHttpHeaders() }; });
  return { authorization: seen?.headers.get('authorization') ?? '', date: seen?.headers.get('x-ms-date') ?? '' };
}

describe('Shared Key signature (lean store)', () => {
  const cases: Array<{ name: string; method: 'GET' | 'PUT' | 'HEAD' | 'DELETE'; path: string; query: Record<string, string>; headers: Record<string, string> }> = [
    {
      name: 'a create-only Put Blob with metadata, tags and an encryption scope', method: 'PUT', path: '/devstoreaccount1/pgstow-test/pre/a/b%20c%2Bd', query: {},
      headers: {
        'content-type': 'application/octet-stream', 'content-length': '16777216', 'x-ms-blob-type': 'BlockBlob', 'x-ms-meta-pgstowmd5': '0123abcd',
        'if-none-match': '*', 'x-ms-tags': 'k=v%20w&a=1', 'x-ms-encryption-scope': 'scope1', 'x-ms-version': '2026-10-06', 'x-ms-client-request-id': 'id-1',
      },
    },
    { name: 'a ranged Get Blob with If-Match', method: 'GET', path: '/devstoreaccount1/c/wals/0000000100000000/000000010000000000000001.gz', query: {},
      headers: { 'x-ms-range': 'bytes=100-', 'if-match': '"0x8D"', 'x-ms-version': '2026-10-06' } },
    { name: 'a List Blobs page with a delimiter and a marker', method: 'GET', path: '/devstoreaccount1/c', query: { comp: 'list', prefix: 'pre/wals/ä b', maxresults: '5000', restype: 'container', delimiter: '/', marker: '2!96!MDAw' },
      headers: { 'x-ms-version': '2026-10-06' } },
    { name: 'a Delete Blob', method: 'DELETE', path: '/devstoreaccount1/c/k', query: {}, headers: { 'x-ms-version': '2026-10-06', 'content-length': '0' } },
    { name: 'a Get Blob Properties', method: 'HEAD', path: '/devstoreaccount1/c/k', query: {}, headers: { 'x-ms-version': '2026-10-06' } },
  ];
  for (const c of cases) {
    it(`${c.name}: the SDK's own signature`, async () => {
      const search = Object.entries(c.query).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
      const sdk = await sdkSigned(c.method, `http://127.0.0.1:10000${c.path}${search ? `?${search}` : ''}`, c.headers);
      const mine = sharedKeyAuthorization(ACCOUNT, Buffer.from(KEY, 'base64'), c.method, c.path, c.query, { ...c.headers, 'x-ms-date': sdk.date });
      assert.equal(mine, sdk.authorization);
    });
  }
});

const page = (blobs: string, marker = '<NextMarker />'): string => `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="http://x/" ContainerName="c"><Prefix>p/</Prefix><MaxResults>5000</MaxResults><Blobs>${blobs}</Blobs>${marker}</EnumerationResults>`;
const blob = (name: string, size = 3): string => `<Blob><Name>${name}</Name><Properties><Creation-Time>Mon, 07 Dec 2026 18:41:04 GMT</Creation-Time><Last-Modified>Mon, 07 Dec 2026 18:41:04 GMT</Last-Modified><Etag>0x1F86037A327CC90</Etag><Content-Length>${size}</Content-Length><Content-Type>application/octet-stream</Content-Type><Content-MD5>XrY7u+Ae7tCTyyK7j1rNww==</Content-MD5><BlobType>BlockBlob</BlobType></Properties></Blob>`;

describe('List Blobs reader (lean store)', () => {
  it('reads blobs and prefixes in byte order, with the next page\'s marker', () => {
    const r = parseBlobListPage(page(`${blob('p/b')}<BlobPrefix><Name>p/a/</Name></BlobPrefix>${blob('p/c &amp; d', 7)}`, '<NextMarker>2!96!MDAw</NextMarker>'));
    assert.deepEqual(r?.entries.map((e) => ('prefix' in e ? `prefix ${e.prefix}` : `${e.key} ${e.size} ${e.etag} ${e.lastModified?.toISOString()}`)), [
      'prefix p/a/', 'p/b 3 0x1F86037A327CC90 2026-12-07T18:41:04.000Z', 'p/c & d 7 0x1F86037A327CC90 2026-12-07T18:41:04.000Z',
    ]);
    assert.equal(r?.nextMarker, '2!96!MDAw');
  });

  it('an empty page ends the listing', () => {
    assert.deepEqual(parseBlobListPage(page('')), { entries: [] });
  });

  it('leaves to the SDK store what it does not fully understand', () => {
    assert.equal(parseBlobListPage(page('<Blob><Name Encoded="true">p%2Fx</Name><Properties><Content-Length>1</Content-Length></Properties></Blob>')), undefined, 'an encoded name');
    assert.equal(parseBlobListPage(page('<Blob><Name>p/x</Name><Properties></Properties></Blob>')), undefined, 'no Content-Length');
    assert.equal(parseBlobListPage(page(blob('p/&unknown;'))), undefined, 'an unknown entity');
    assert.equal(parseBlobListPage(page(blob('<![CDATA[p/x]]>'))), undefined, 'CDATA');
    assert.equal(parseBlobListPage('<Error><Code>AuthenticationFailed</Code></Error>'), undefined, 'not a listing');
    assert.equal(parseBlobListPage(page(`${blob('p/a')}<Blob><Name>p/b</Name>`)), undefined, 'a cut-off entry');
  });
});
