/**
 * Server credentials for the operator side: mutual TLS, TLS 1.3 only (as CNPG's client requires), the client
 * verified against --client-cert, and the three files re-read every `pollMs` so cert-manager's renewals take
 * effect on the next handshake without a restart (cnpg-i.md §2.2). A renewal caught half-written (key and
 * certificate not matching yet) is ignored until the files agree again: the previous context stays in use.
 */
import * as fsp from 'node:fs/promises';
import { createHash } from 'node:crypto';
import * as tls from 'node:tls';
import { ServerCredentials } from '@grpc/grpc-js';
import type { PluginLogger } from '../json-logger.js';

export interface TlsFiles { certFile: string; keyFile: string; clientCaFile: string }

interface Loaded { options: tls.SecureContextOptions; digest: string }

async function load(files: TlsFiles): Promise<Loaded> {
  const [cert, key, ca] = await Promise.all([fsp.readFile(files.certFile), fsp.readFile(files.keyFile), fsp.readFile(files.clientCaFile)]);
  const options: tls.SecureContextOptions = { cert, key, ca, minVersion: 'TLSv1.3' };
  tls.createSecureContext(options); // throws when the key does not match the certificate, or a PEM is cut
  return { options, digest: createHash('sha256').update(cert).update(key).update(ca).digest('hex') };
}

export class RotatingTlsCredentials extends ServerCredentials {
  private timer: NodeJS.Timeout | undefined;
  private digest: string;

  private constructor(private readonly files: TlsFiles, first: Loaded, private readonly log: PluginLogger) {
    super({ requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, first.options);
    this.digest = first.digest;
  }

  /** Reads and checks the files once (an error names the file problem), then polls them. */
  static async open(files: TlsFiles, log: PluginLogger, pollMs = 10_000): Promise<RotatingTlsCredentials> {
    let first: Loaded;
    try {
      first = await load(files);
    } catch (err) {
      throw new Error(`cannot use the TLS files (--server-cert ${files.certFile}, --server-key ${files.keyFile}, --client-cert ${files.clientCaFile}): ${(err as Error).message}`, { cause: err });
    }
    const creds = new RotatingTlsCredentials(files, first, log);
    creds.timer = setInterval(() => { void creds.reload(); }, pollMs);
    creds.timer.unref();
    return creds;
  }

  /** Re-reads the files; true when a new certificate set is now in use. */
  async reload(): Promise<boolean> {
    let next: Loaded;
    try {
      next = await load(this.files);
    } catch (err) {
      this.log.warning('TLS files unreadable or inconsistent, keeping the certificates in use', { error: (err as Error).message });
      return false;
    }
    if (next.digest === this.digest) return false;
    this.digest = next.digest;
    this.updateSecureContextOptions(next.options);
    this.log.info('TLS certificates reloaded', { certFile: this.files.certFile, clientCaFile: this.files.clientCaFile });
    return true;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  override _equals(other: ServerCredentials): boolean {
    return other === this;
  }
}
