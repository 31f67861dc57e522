/** The lean read path's ListObjectsV2 reader: what it returns, and that it gives up (undefined) rather than guess. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseListPage } from '../../../../../src/storage/drivers/s3/list-xml.js';

const HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">';
const obj = (key: string, size = 16, etag = '&quot;abc&quot;'): string =>
  `<Contents><Key>${key}</Key><LastModified>2026-12-07T02:56:19.000Z</LastModified><ETag>${etag}</ETag><Size>${size}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
const page = (body: string, tail = '<IsTruncated>false</IsTruncated>'): string => `${HEAD}<Name>b</Name><Prefix>p/</Prefix><KeyCount>1</KeyCount>${body}${tail}</ListBucketResult>`;

describe('ListObjectsV2 XML (lean S3 reads)', () => {
  it('reads keys, sizes, dates and ETags, with entities decoded', () => {
    const p = parseListPage(page(obj('p/a&amp;b &lt;1&gt; &#233;&#x4E2D;', 16777216)));
    assert.deepEqual(p, { entries: [{ key: 'p/a&b <1> é中', size: 16777216, lastModified: new Date('2026-12-07T02:56:19.000Z'), etag: '"abc"' }] });
  });

  it('merges keys and common prefixes in byte order, and follows the continuation token only when truncated', () => {
    const p = parseListPage(page(`${obj('p/b')}${obj('p/d')}<CommonPrefixes><Prefix>p/c/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>p/a/</Prefix></CommonPrefixes>`,
      '<IsTruncated>true</IsTruncated><NextContinuationToken>tok&amp;en</NextContinuationToken>'));
    assert.deepEqual(p?.entries.map((e) => ('prefix' in e ? `[${e.prefix}]` : e.key)), ['[p/a/]', 'p/b', '[p/c/]', 'p/d']);
    assert.equal(p?.nextToken, 'tok&en');
    assert.equal(parseListPage(page(obj('p/b'), '<IsTruncated>false</IsTruncated><NextContinuationToken>x</NextContinuationToken>'))?.nextToken, undefined);
  });

  it('an empty listing is an empty page (a missing WAL), not a failure', () => {
    assert.deepEqual(parseListPage(page('')), { entries: [] });
    assert.deepEqual(parseListPage(`${HEAD}<Name>b</Name><Prefix>p/</Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>`), { entries: [] });
  });

  it('a key that reads like markup of the listing is still one key', () => {
    const p = parseListPage(page(obj('p/&lt;/Contents&gt;&lt;Key&gt;x')));
    assert.deepEqual(p?.entries.map((e) => ('key' in e ? e.key : '')), ['p/</Contents><Key>x']);
  });

  it('gives up on anything it does not fully understand, so the SDK lists instead', () => {
    const bad = [
      'not xml at all',
      '<Error><Code>AccessDenied</Code></Error>',
      page('<Contents><LastModified>2026-12-07T02:56:19.000Z</LastModified><Size>1</Size></Contents>'), // no Key
      page('<Contents><Key>p/a</Key><Size>big</Size></Contents>'), // Size not a number
      page('<Contents><Key>p/a</Key></Contents>'), // no Size
      page(obj('p/&unknown;')), // unknown entity
      page(obj('p/a & b')), // bare ampersand
      page(obj('p/&#x110000;')), // not a code point
      page('<Contents><Key><![CDATA[p/a]]></Key><Size>1</Size></Contents>'),
      page('<Contents><Key>p/a</Key><Size>1</Size>'), // cut off
      page(`${obj('p/a')}<Contents />`), // an element it cannot read
      page(obj('p/a'), '<IsTruncated>maybe</IsTruncated>'),
      page('<CommonPrefixes></CommonPrefixes>'),
      page(obj('p/a', 1).replace('2026-12-07T02:56:19.000Z', 'yesterday')),
    ];
    for (const xml of bad) assert.equal(parseListPage(xml), undefined, xml);
  });
});
