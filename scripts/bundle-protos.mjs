// Build step after tsc: the CNPG-I .proto files (proto/) as one JSON descriptor beside the compiled loader,
// dist/src/plugin/protocol/cnpgi-descriptors.json, which protobufjs' light build reads at start. The sidecar
// then loads neither the .proto parser nor @grpc/proto-loader (which also built descriptor protos of every
// message for reflection): +5 MiB RSS and ~50 ms CPU at start less, measured for issue 12. Without the file
// the loader parses the .proto files at run time (src/plugin/protocol/load-protos.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const loader = path.join(root, 'dist', 'src', 'plugin', 'protocol', 'load-protos.js');
const { DESCRIPTOR_FILE, parseProtoFiles } = await import(loader);
const parsed = await parseProtoFiles(path.join(root, 'proto'));
parsed.resolveAll(); // an unknown type fails the build, not the sidecar's start
const out = path.join(path.dirname(loader), DESCRIPTOR_FILE);
fs.writeFileSync(out, JSON.stringify(parsed.toJSON()));
console.log(`bundle-protos: ${path.relative(root, out)} (${Math.round(fs.statSync(out).size / 1024)} KiB)`);
