/**
 * Plays CloudNativePG's operator against `pgstow plugin operator` (cnpg-i.md §2.2, §7.1): certificates made as
 * cert-manager's selfSigned issuer makes them, the operator side started as its Deployment starts it (the
 * built binary, the manifest's flags), and the client CNPG would be: TLS 1.3 only, the client certificate
 * from the client Secret, the server certificate of the server Secret as its only trust, server name = the
 * Service name, 30 s per call.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import * as tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { credentials } from '@grpc/grpc-js';
import { CnpgiClient } from '../../../src/plugin/protocol/client.js';

export const SERVICE_NAME = 'barman-cloud';
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
export const PGSTOW = path.join(repo, 'dist', 'src', 'cli', 'bin', 'pgstow.js');

export interface CertPair { cert: string; key: string }

/** A self-signed certificate like cert-manager's selfSigned issuer with isCA: false. */
export function selfSigned(dir: string, name: string, commonName: string, usage: 'serverAuth' | 'clientAuth'): CertPair {
  fs.mkdirSync(dir, { recursive: true });
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '90', '-subj', `/CN=${commonName}`,
    '-addext', `subjectAltName=DNS:${commonName}`, '-addext', 'basicConstraints=critical,CA:FALSE',
    '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment', '-addext', `extendedKeyUsage=${usage}`], { stdio: 'pipe' });
  return { cert, key };
}

/** The Secrets as mounted in the Deployment: /server/tls.{crt,key}, /client/tls.crt. */
export interface Mounts { serverCert: string; serverKey: string; clientCert: string }

export function mountSecrets(dir: string, server: CertPair, client: CertPair): Mounts {
  fs.mkdirSync(path.join(dir, 'server'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'client'), { recursive: true });
  const m = { serverCert: path.join(dir, 'server', 'tls.crt'), serverKey: path.join(dir, 'server', 'tls.key'), clientCert: path.join(dir, 'client', 'tls.crt') };
  fs.copyFileSync(server.cert, m.serverCert);
  fs.copyFileSync(server.key, m.serverKey);
  fs.copyFileSync(client.cert, m.clientCert);
  return m;
}

export interface OperatorProcess {
  child: ChildProcess;
  port: number;
  logs: Array<Record<string, unknown>>;
  stop(): Promise<number | null>;
}

/** Starts the binary with the given args; resolves once it logs where it serves. */
export async function startOperator(args: string[], env: Record<string, string>): Promise<OperatorProcess> {
  const child = spawn(process.execPath, [PGSTOW, 'plugin', 'operator', ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`operator did not start in 20 s; stderr: ${stderr}`)), 20_000);
    readline.createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      try { logs.push(JSON.parse(line) as Record<string, unknown>); } catch { logs.push({ raw: line }); }
      const last = logs.at(-1) as Record<string, unknown>;
      if (last.msg === 'serving CNPG-I') { clearTimeout(timer); resolve(Number(String(last.address).split(':').at(-1))); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`operator exited with ${code}; stderr: ${stderr}`)); });
  });
  return {
    child, port, logs,
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null) { resolve(child.exitCode); return; }
      child.once('exit', (code) => resolve(code));
      child.kill('SIGTERM');
    }),
  };
}

/** The client CNPG's operator is: TLS 1.3, client certificate, the server Secret's tls.crt as root, server name = Service name. */
export function cnpgClient(port: number, trust: string, client: CertPair | undefined, serverName = SERVICE_NAME, maxVersion: tls.SecureVersion = 'TLSv1.3'): Promise<CnpgiClient> {
  const identity = client ? { cert: fs.readFileSync(client.cert), key: fs.readFileSync(client.key) } : {};
  const context = tls.createSecureContext({ ca: fs.readFileSync(trust), ...identity, minVersion: maxVersion === 'TLSv1.3' ? 'TLSv1.3' : 'TLSv1.2', maxVersion });
  const creds = credentials.createFromSecureContext(context);
  return CnpgiClient.connect(`127.0.0.1:${port}`, creds, { 'grpc.ssl_target_name_override': serverName, 'grpc.default_authority': serverName });
}

/** CNPG's per-call deadline on TCP plugins. */
export const DEADLINE = { timeoutMs: 30_000 };
