/** Bodies for upload tests: streams of unknown length, as a backup's compressor hands them to a store. */
import { Readable } from 'node:stream';

/** A one-shot stream of `data` in 64 KiB pieces, failing after `failAfter` bytes when given. */
export function oneShot(data: Buffer, failAfter?: number): Readable {
  return Readable.from((async function* () {
    for (let off = 0; off < data.length; off += 65536) {
      if (failAfter !== undefined && off >= failAfter) throw new Error('source broke');
      yield data.subarray(off, off + 65536);
    }
  })(), { objectMode: false });
}
