#!/usr/bin/env node
/**
 * A small CNPG-I client for PostgreSQL's archive_command / restore_command in tests and benches, calling the
 * plugin the way CloudNativePG's `manager wal-archive` / `manager wal-restore` do: a new connection per call,
 * Probe, then one unary call with the Cluster JSON, an absolute path and (for restore) the mode. Exit 0 on
 * success, 1 on any gRPC error (its text on stderr), as the manager does.
 *
 * It speaks gRPC over node:http2 with the few protobuf fields it needs encoded by hand (field numbers from
 * proto/cnpgi/wal.proto), so that a process per WAL segment starts in tens of milliseconds instead of loading
 * grpc-js and parsing the .proto files each time (that start-up, not the plugin, limited archiving under load).
 *
 *   node wal-client.js archive <socket> <cluster.json> <%p> [--check-empty true|false]
 *   node wal-client.js restore <socket> <cluster.json> <%f> <%p> [--rewind]
 */
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as path from 'node:path';

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128); }
  out.push(n);
  return Buffer.from(out);
}

/** A length-delimited field (bytes, string). */
const bytesField = (num: number, value: Buffer): Buffer => Buffer.concat([varint(num * 8 + 2), varint(value.length), value]);
/** A varint field (bool, enum). */
const varintField = (num: number, value: number): Buffer => Buffer.concat([varint(num * 8), varint(value)]);

function frame(message: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

/** One unary call on its own connection; resolves on grpc-status 0, rejects with the status text otherwise. */
function call(socket: string, method: string, message: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const session = http2.connect('http://localhost', { createConnection: () => net.connect(socket) });
    session.on('error', reject);
    const req = session.request({ ':method': 'POST', ':path': method, 'content-type': 'application/grpc', te: 'trailers' });
    let status: string | undefined;
    let text = '';
    const take = (h: http2.IncomingHttpHeaders): void => {
      if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
      if (h['grpc-message'] !== undefined) text = decodeURIComponent(String(h['grpc-message']));
    };
    req.on('response', take);
    req.on('trailers', take);
    req.on('data', () => undefined);
    req.on('error', reject);
    req.on('end', () => {
      session.close();
      if (status === '0') resolve();
      else reject(new Error(`${method}: code ${status ?? 'none'}${text ? `: ${text}` : ''}`));
    });
    req.end(frame(message));
  });
}

async function main(argv: string[]): Promise<number> {
  const [op, socket, clusterFile, ...rest] = argv;
  if (!op || !socket || !clusterFile) { process.stderr.write('usage: wal-client archive|restore <socket> <cluster.json> ...\n'); return 2; }
  const cluster = fs.readFileSync(clusterFile);
  try {
    await call(socket, '/cnpgi.identity.v1.Identity/Probe', Buffer.alloc(0));
    if (op === 'archive') {
      const file = path.resolve(rest[0] as string);
      const i = rest.indexOf('--check-empty');
      // WALArchiveRequest: 1 cluster_definition, 2 source_file_name, 4 optional check_empty_wal_archive.
      const parts = [bytesField(1, cluster), bytesField(2, Buffer.from(file))];
      if (i >= 0) parts.push(varintField(4, rest[i + 1] === 'true' ? 1 : 0));
      await call(socket, '/cnpgi.wal.v1.WAL/Archive', Buffer.concat(parts));
    } else {
      const [walName, dest] = rest as [string, string];
      // WALRestoreRequest: 1 cluster_definition, 2 source_wal_name, 3 destination_file_name, 5 mode (2 = REWIND).
      const parts = [bytesField(1, cluster), bytesField(2, Buffer.from(walName)), bytesField(3, Buffer.from(path.resolve(dest)))];
      if (rest.includes('--rewind')) parts.push(varintField(5, 2));
      await call(socket, '/cnpgi.wal.v1.WAL/Restore', Buffer.concat(parts));
    }
    return 0;
  } catch (err) {
    process.stderr.write(`wal-client ${op}: ${(err as Error).message}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
