/**
 * Loads the project's CNPG-I .proto files (proto/cnpgi/, shipped in the npm package) and the gRPC health
 * service at run time with @grpc/proto-loader, and hands out each service's definition by its short name.
 * The proto package, not the file, makes the wire path: RestoreJobHooks lives in cnpgi.wal.v1 and Postgres
 * in cnpgi.identity.v1, as CloudNativePG calls them.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServiceDefinition } from '@grpc/grpc-js';
import type { ServiceName } from './messages.js';

/** Fully-qualified gRPC service names (the first part of every method path). */
export const SERVICE_NAMES: Readonly<Record<ServiceName, string>> = {
  Identity: 'cnpgi.identity.v1.Identity',
  WAL: 'cnpgi.wal.v1.WAL',
  Backup: 'cnpgi.backup.v1.Backup',
  RestoreJobHooks: 'cnpgi.wal.v1.RestoreJobHooks',
  OperatorLifecycle: 'cnpgi.operator_lifecycle.v1.OperatorLifecycle',
  ReconcilerHooks: 'cnpgi.reconciler.v1.ReconcilerHooks',
  Operator: 'cnpgi.operator.v1.Operator',
  Metrics: 'cnpgi.metrics.v1.Metrics',
  Postgres: 'cnpgi.identity.v1.Postgres',
  Health: 'grpc.health.v1.Health',
};

export const PROTO_FILES = [
  'cnpgi/identity.proto', 'cnpgi/wal.proto', 'cnpgi/backup.proto', 'cnpgi/restore_job.proto',
  'cnpgi/operator_lifecycle.proto', 'cnpgi/reconciler.proto', 'cnpgi/operator.proto', 'cnpgi/metrics.proto',
  'cnpgi/postgres.proto', 'grpc/health/v1/health.proto',
] as const;

/** The package's proto/ folder: the nearest one above this module (src/… or dist/src/…). */
export async function protoRoot(): Promise<string> {
  const fsp = await import('node:fs/promises');
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'proto');
    try {
      await fsp.access(path.join(candidate, 'cnpgi', 'identity.proto'));
      return candidate;
    } catch {
      dir = path.dirname(dir);
    }
  }
  throw new Error(`cannot find the CNPG-I .proto files (proto/cnpgi/) above ${fileURLToPath(import.meta.url)}`);
}

/** The options this project's message types (messages.ts) are written for. */
export const LOADER_OPTIONS = {
  keepCase: true,
  enums: String,
  longs: Number,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
} as const;

export type CnpgiDefinitions = Readonly<Record<ServiceName, ServiceDefinition>>;

let loaded: Promise<CnpgiDefinitions> | undefined;

/** Every service definition, loaded once per process. */
export function loadCnpgiDefinitions(): Promise<CnpgiDefinitions> {
  loaded ??= (async () => {
    const protoLoader = await import('@grpc/proto-loader');
    const root = await protoRoot();
    const pkg = await protoLoader.load(PROTO_FILES.map((f) => path.join(root, f)), { ...LOADER_OPTIONS, includeDirs: [root] });
    const out = {} as Record<ServiceName, ServiceDefinition>;
    for (const [short, full] of Object.entries(SERVICE_NAMES) as Array<[ServiceName, string]>) {
      const def = pkg[full];
      if (!def || typeof def !== 'object' || 'format' in def) throw new Error(`${full} is missing from ${root}`);
      out[short] = def as unknown as ServiceDefinition;
    }
    return Object.freeze(out);
  })();
  loaded.catch(() => { loaded = undefined; });
  return loaded;
}
