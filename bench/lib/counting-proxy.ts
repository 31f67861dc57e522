/**
 * A loopback HTTP proxy in front of a store that counts the requests passing through it by kind (method and
 * what it asks for: list, object, or a sub-resource such as ?uploads), so the bench can say how many store
 * requests one call makes. Requests are forwarded unchanged (Host header included, so signatures still verify).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';

export interface CountingProxy {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  /** Counts since start, by kind ("PUT object", "GET list", "HEAD object", ...). */
  counts(): Map<string, number>;
  close(): Promise<void>;
}

/** What a request asks the store for, in a word: S3 and Azure list by query, everything else is an object. */
function kindOf(req: http.IncomingMessage): string {
  const url = new URL(req.url ?? '/', 'http://proxy');
  const q = url.searchParams;
  if (q.has('list-type') || q.get('comp') === 'list' || (req.method === 'GET' && q.has('prefix'))) return `${req.method} list`;
  const sub = ['uploads', 'uploadId', 'tagging', 'delete', 'comp'].find((k) => q.has(k));
  return `${req.method} ${sub ? `object ?${sub}` : 'object'}`;
}

export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const to = new URL(target);
  const counts = new Map<string, number>();
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const kind = kindOf(req);
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
    const upstream = http.request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      pipeline(answer, res).catch(() => res.destroy());
    });
    upstream.on('error', () => res.destroy());
    pipeline(req, upstream).catch(() => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    counts: () => new Map(counts),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

/** Requests per call between two snapshots, by kind. */
export function perCall(before: Map<string, number>, after: Map<string, number>, calls: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of after) {
    const n = v - (before.get(k) ?? 0);
    if (n > 0) out[k] = n / calls;
  }
  return out;
}
