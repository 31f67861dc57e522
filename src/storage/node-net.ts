/**
 * node:http, node:https and node:tls loaded through require(). An ESM import of a built-in module reads
 * every export, and node:http's include Node's lazily loaded WebSocket and fetch classes: importing it from
 * ESM loads undici, ~40 ms of CPU per archive_command/restore_command against ~4 ms with require()
 * (Node 24, measured for issue 15). The cloud SDKs require() them anyway.
 */
import { createRequire } from 'node:module';

const requireBuiltin = createRequire(import.meta.url);

export const http = requireBuiltin('node:http') as typeof import('node:http');
export const https = requireBuiltin('node:https') as typeof import('node:https');
export const tls = requireBuiltin('node:tls') as typeof import('node:tls');
