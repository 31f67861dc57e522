/**
 * Checks a private CA bundle (--endpoint-ca, endpointCA, AWS_CA_BUNDLE, REQUESTS_CA_BUNDLE) holds certificates,
 * so a garbage file is reported as such (exit 3, naming the file) instead of being ignored and the TLS handshake
 * failing later with advice to give the very CA that was given. The file is read asynchronously by the caller
 * (src/app/compose.ts loadCa); messages name the source, never the content.
 */
import { X509Certificate } from 'node:crypto';
import { ConfigError } from '../errors.js';

const BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Throws ConfigError naming `source` and `field` when `pem` cannot serve as CA certificates. */
export function checkCaPem(pem: string, source: string, field: string): void {
  const blocks = pem.match(BLOCK) ?? [];
  if (blocks.length === 0) throw new ConfigError(`${source} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`, field);
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new ConfigError(`${source} holds a damaged certificate (number ${i + 1}): ${(err as Error).message}`, field, { cause: err });
    }
  });
}
