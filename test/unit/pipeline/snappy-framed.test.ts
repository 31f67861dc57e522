import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { crc32c, maskedCrc32c } from '../../../src/pipeline/crc32c.js';
import { SnappyFramedDecoder, snappyUncompress } from '../../../src/pipeline/snappy-framed.js';

const STREAM_ID = Buffer.from([0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59]);

function chunk(type: number, data: Buffer, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head[0] = type;
  head.writeUIntLE(body.length + 4, 1, 3);
  head.writeUInt32LE(maskedCrc32c(data), 4);
  return Buffer.concat([head, body]);
}

/** "abcd" as a literal then a copy of 60 bytes at offset 4 → "abcd" × 16. */
const BLOCK = Buffer.from([64, 3 << 2, 0x61, 0x62, 0x63, 0x64, ((60 - 1) << 2) | 2, 4, 0]);
const PLAIN = Buffer.from('abcd'.repeat(16));

async function decode(buf: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of Readable.from([buf.subarray(0, 7), buf.subarray(7)]).pipe(new SnappyFramedDecoder())) out.push(c as Buffer);
  return Buffer.concat(out);
}

test('crc32c matches the standard check value', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
});

test('raw snappy: literals and overlapping copies', () => {
  assert.deepEqual(snappyUncompress(BLOCK), PLAIN);
  assert.throws(() => snappyUncompress(BLOCK.subarray(0, 7)));
});

test('framed stream: compressed, uncompressed and padding chunks; corruption and truncation detected', async () => {
  const raw = Buffer.from('plain chunk');
  const stream = Buffer.concat([STREAM_ID, chunk(0x00, PLAIN, BLOCK), chunk(0x01, raw, raw), Buffer.from([0xfe, 2, 0, 0, 0, 0])]);
  assert.deepEqual(await decode(stream), Buffer.concat([PLAIN, raw]));
  const bad = Buffer.from(stream);
  bad[STREAM_ID.length + 9] = (bad[STREAM_ID.length + 9] as number) ^ 0xff;
  await assert.rejects(decode(bad));
  await assert.rejects(decode(stream.subarray(0, stream.length - 10)), /truncated/);
  await assert.rejects(decode(Buffer.from('not snappy at all')));
});
