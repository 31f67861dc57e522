import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
/** Opens the real S3 driver (through the registry, as commands do) on a test server with a unique prefix. */
import { openStoreFromEnv, type EnvStoreDescription } from '../harness/store-options.js';
import type { ObjectStore } from '../../src/storage/object-store.js';

import type { S3ServerInfo } from '../harness/test-env.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';
import type { ConformanceTarget } from '../conformance/object-store.suite.js';

export interface OpenS3Options {
  endpoint?: string;
  caFile?: string;
  bucket?: string;
  prefix?: string;
  env?: Record<string, string | undefined>;
  s3?: EnvStoreDescription['s3'];
  readTimeoutSeconds?: number;
}

export function s3Env(info: S3ServerInfo): Record<string, string> {
  return { AWS_ACCESS_KEY_ID: info.accessKeyId, AWS_SECRET_ACCESS_KEY: info.secretAccessKey, AWS_DEFAULT_REGION: info.region };
}

export async function openS3(info: S3ServerInfo, o: OpenS3Options = {}): Promise<{ store: ObjectStore; prefix: string }> {
  const prefix = o.prefix ?? uniquePrefix('s3');
  const options: EnvStoreDescription = {
    provider: 'aws-s3',
    destinationUrl: `s3://${o.bucket ?? TEST_BUCKET}/${prefix}`,
    endpointUrl: o.endpoint ?? info.endpoint,
    env: o.env ?? s3Env(info),
    s3: o.s3 ?? {},
    ...(o.caFile ? { caFile: o.caFile } : {}),
    ...(o.readTimeoutSeconds ? { readTimeoutSeconds: o.readTimeoutSeconds } : {}),
  };
  const { store } = await openStoreFromEnv(options);
  return { store, prefix };
}

export async function conformanceTarget(info: S3ServerInfo | undefined, o: OpenS3Options = {}): Promise<ConformanceTarget | undefined> {
  if (!info) return undefined;
  const { store, prefix } = await openS3(info, o);
  return { store, prefix: `${prefix}/` };
}

/** A stream read whole. */
export async function bytes(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** What a call that must fail failed with (name, message, exit code); fails the test when it succeeds. */
export async function failure(p: Promise<unknown>): Promise<{ name: string; message: string; exitCode: unknown }> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; message: string; exitCode?: unknown };
    return { name: e.name, message: e.message, exitCode: e.exitCode };
  }
  assert.fail('expected a failure');
}

/**
 * A TCP server that answers each request with `parts` written one after the other (a pause between them), then
 * ends the connection, or with `end` false stays silent.
 */
export async function scriptedServer(parts: Array<string | Buffer>, end = true): Promise<{ endpoint: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    let seen = '';
    socket.on('error', () => {});
    socket.on('data', (d: Buffer) => {
      seen += d.toString('latin1');
      if (!seen.includes('\r\n\r\n')) return;
      seen = '';
      void (async () => {
        for (const p of parts) { socket.write(p); await sleep(20); }
        if (end) socket.end();
      })();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}
