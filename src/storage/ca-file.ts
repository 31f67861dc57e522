/**
 * Reads a private CA bundle (--endpoint-ca, endpointCA, AWS_CA_BUNDLE, REQUESTS_CA_BUNDLE) and checks it holds
 * certificates, so a garbage file is reported as such (exit 3, naming the file) instead of being ignored and the
 * TLS handshake failing later with advice to give the very CA that was given.
 */
import * as fs from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { ConfigError } from '../errors.js';

const BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The file's PEM text; throws ConfigError naming the file and `field` when it cannot serve as CA certificates. */
export function readCaFile(file: string, field: string): string {
  let pem: string;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the CA file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, field, { cause: err });
  }
  const blocks = pem.match(BLOCK) ?? [];
  if (blocks.length === 0) throw new ConfigError(`the CA file ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`, field);
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new ConfigError(`the CA file ${file} holds a damaged certificate (number ${i + 1}): ${(err as Error).message}`, field, { cause: err });
    }
  });
  return pem;
}
