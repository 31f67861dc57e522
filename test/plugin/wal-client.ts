#!/usr/bin/env node
/**
 * A small CNPG-I client for PostgreSQL's archive_command / restore_command in tests, calling the plugin the
 * way CloudNativePG's `manager wal-archive` / `manager wal-restore` do: a new connection per call, Probe, then
 * one unary call with the Cluster JSON, an absolute path and (for restore) the mode. Exit 0 on success, 1 on
 * any gRPC error (its text on stderr), as the manager does.
 *
 *   node wal-client.js archive <socket> <cluster.json> <%p> [--check-empty true|false]
 *   node wal-client.js restore <socket> <cluster.json> <%f> <%p> [--rewind]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CnpgiClient } from '../../src/plugin/protocol/client.js';

async function main(argv: string[]): Promise<number> {
  const [op, socket, clusterFile, ...rest] = argv;
  if (!op || !socket || !clusterFile) { process.stderr.write('usage: wal-client archive|restore <socket> <cluster.json> ...\n'); return 2; }
  const cluster = fs.readFileSync(clusterFile);
  const client = await CnpgiClient.connect(`unix://${socket}`, undefined, { 'grpc.use_local_subchannel_pool': 1 });
  try {
    await client.call('Identity', 'Probe', {});
    if (op === 'archive') {
      const file = path.resolve(rest[0] as string);
      const i = rest.indexOf('--check-empty');
      const check = i >= 0 ? rest[i + 1] === 'true' : undefined;
      await client.call('WAL', 'Archive', { cluster_definition: cluster, source_file_name: file, parameters: {}, ...(check !== undefined ? { check_empty_wal_archive: check } : {}) });
    } else {
      const [walName, dest] = rest as [string, string];
      await client.call('WAL', 'Restore', {
        cluster_definition: cluster, source_wal_name: walName, destination_file_name: path.resolve(dest), parameters: {},
        mode: rest.includes('--rewind') ? 'MODE_REWIND' : 'MODE_UNSPECIFIED',
      });
    }
    return 0;
  } catch (err) {
    process.stderr.write(`wal-client ${op}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    client.close();
  }
}

process.exitCode = await main(process.argv.slice(2));
