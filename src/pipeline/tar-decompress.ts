/**
 * Decompression of backup tar objects, chosen by the key's suffix only (as barman-cloud-restore does):
 * .tar, .tar.gz, .tar.bz2, .tar.snappy (Barman), .tar.lz4 and .tar.zst (pgstow). Codecs with a native or
 * heavy implementation are loaded only when a backup uses them.
 */
import { createGunzip } from 'node:zlib';
import { PassThrough, Transform, type Duplex } from 'node:stream';
import { createRequire } from 'node:module';
import { SnappyFramedDecoder } from './snappy-framed.js';
import type { TarCompression } from '../domain/backup/tar-compression.js';


/** A stream that turns the object's bytes into tar bytes. */
export async function createTarDecompressor(compression: TarCompression): Promise<Duplex> {
  switch (compression) {
    case 'none': return new PassThrough({ highWaterMark: 1 << 20 });
    case 'gzip': return createGunzip({ chunkSize: 256 * 1024 });
    case 'snappy': return new SnappyFramedDecoder();
    case 'bzip2': {
      // unbzip2-stream is CommonJS; loaded only for .bz2 backups.
      const require = createRequire(import.meta.url);
      const unbzip2 = require('unbzip2-stream') as () => NodeJS.ReadWriteStream;
      return wrapClassic(unbzip2());
    }
    case 'lz4':
    case 'zstd': {
      const codecs = await loadCodecs();
      return codecs(compression);
    }
  }
}

/** lz4/zstd come from the shared codec module (src/pipeline/codecs.ts, native bindings loaded on use). */
async function loadCodecs(): Promise<(c: 'lz4' | 'zstd') => Duplex> {
  // A computed specifier: the codec module is optional in builds that predate it.
  const specifier = ['.', 'codecs.js'].join('/');
  let mod: { getCodec?: (name: string) => { createDecompressor(): Duplex } };
  try {
    mod = await import(specifier) as typeof mod;
  } catch {
    throw new Error('lz4 and zstd backups need the codec module, which this build of pgstow does not include');
  }
  const getCodec = mod.getCodec;
  if (typeof getCodec !== 'function') throw new Error('lz4 and zstd backups are not supported by this build of pgstow');
  return (c) => getCodec(c).createDecompressor();
}

/** Adapts a classic (through) stream, whose end and errors stream.pipeline cannot follow, to a Transform. */
function wrapClassic(inner: NodeJS.ReadWriteStream): Transform {
  let flushed: ((err?: Error | null) => void) | undefined;
  let failed: Error | undefined;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (failed) { cb(failed); return; }
      inner.write(chunk);
      cb(failed ?? null);
    },
    flush(cb) {
      if (failed) { cb(failed); return; }
      flushed = cb;
      inner.end();
    },
  });
  inner.on('data', (d: Buffer) => t.push(d));
  inner.on('end', () => { flushed?.(failed ?? null); });
  inner.on('error', (err: Error) => { failed = err; if (flushed) flushed(err); else t.destroy(err); });
  return t;
}
