/**
 * The project's CNPG-I services (proto/cnpgi/, shipped in the npm package) and the gRPC health service as
 * grpc-js definitions, by short name. The build turns the .proto files into a JSON descriptor beside this
 * module (scripts/bundle-protos.mjs), which protobufjs' light build reads: the long-lived sidecar loads no
 * .proto parser and builds no descriptor protos for reflection (@grpc/proto-loader did both at start:
 * +5 MiB RSS and ~50 ms CPU, measured for issue 12). Without that file (a tsc-only build) the .proto files
 * are parsed at run time. The proto package, not the file, makes the wire path: RestoreJobHooks lives in
 * cnpgi.wal.v1 and Postgres in cnpgi.identity.v1, as CloudNativePG calls them.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import type { IConversionOptions, Root, Type } from 'protobufjs';
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

/** How messages are handed over, as messages.ts types them (field names as in the .proto files: keepCase). */
export const CONVERSION_OPTIONS: IConversionOptions = {
  enums: String,
  longs: Number,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
};

/** The build's descriptor (scripts/bundle-protos.mjs writes it beside the compiled module). */
export const DESCRIPTOR_FILE = 'cnpgi-descriptors.json';

export type CnpgiDefinitions = Readonly<Record<ServiceName, ServiceDefinition>>;

let loaded: Promise<CnpgiDefinitions> | undefined;

/** Every service definition, loaded once per process. */
export function loadCnpgiDefinitions(): Promise<CnpgiDefinitions> {
  loaded ??= (async () => {
    const root = await loadRoot();
    root.resolveAll();
    const out = {} as Record<ServiceName, ServiceDefinition>;
    for (const [short, full] of Object.entries(SERVICE_NAMES) as Array<[ServiceName, string]>) {
      const service = root.lookup(full);
      if (!service || !('methodsArray' in service)) throw new Error(`${full} is missing from the CNPG-I descriptors`);
      out[short] = serviceDefinition(full, service as unknown as { methodsArray: ProtoMethod[] });
    }
    return Object.freeze(out);
  })();
  loaded.catch(() => { loaded = undefined; });
  return loaded;
}

/** The descriptor the build wrote, read by protobufjs' light build; else the .proto files, parsed. */
async function loadRoot(): Promise<Root> {
  const fsp = await import('node:fs/promises');
  let json: string | undefined;
  try {
    json = await fsp.readFile(new URL(`./${DESCRIPTOR_FILE}`, import.meta.url), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (json !== undefined) {
    const light = (await import('protobufjs/light.js')).default;
    return light.Root.fromJSON(JSON.parse(json) as Parameters<typeof light.Root.fromJSON>[0]);
  }
  return parseProtoFiles(await protoRoot());
}

/** The .proto files under `root`, parsed with field names kept (what the build's descriptor holds). */
export async function parseProtoFiles(root: string): Promise<Root> {
  const full = (await import('protobufjs')).default;
  return new full.Root().load(PROTO_FILES.map((f) => path.join(root, f)), { keepCase: true });
}

interface ProtoMethod { name: string; requestStream?: boolean; responseStream?: boolean; resolvedRequestType: Type | null; resolvedResponseType: Type | null }

/** What @grpc/proto-loader builds for a service, without the descriptor protos only reflection reads. */
function serviceDefinition(fullName: string, service: { methodsArray: ProtoMethod[] }): ServiceDefinition {
  const def: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const m of service.methodsArray) {
    const req = m.resolvedRequestType as Type;
    const res = m.resolvedResponseType as Type;
    def[m.name] = {
      path: `/${fullName}/${m.name}`,
      requestStream: !!m.requestStream,
      responseStream: !!m.responseStream,
      requestSerialize: serializer(req),
      requestDeserialize: deserializer(req),
      responseSerialize: serializer(res),
      responseDeserialize: deserializer(res),
      originalName: m.name.charAt(0).toLowerCase() + m.name.slice(1),
    };
  }
  return def;
}

function serializer(type: Type): (value: unknown) => Buffer {
  return (value) => {
    if (Array.isArray(value)) throw new Error(`Failed to serialize message: expected object with ${type.name} structure, got array instead`);
    const bytes = type.encode(type.fromObject(value as Record<string, unknown>)).finish();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer(type: Type): (bytes: Buffer) => unknown {
  return (bytes) => type.toObject(type.decode(bytes), CONVERSION_OPTIONS);
}
