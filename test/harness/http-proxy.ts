/**
 * An HTTP reverse proxy on 127.0.0.1 in front of a real store server that forwards every request unchanged
 * (headers included, so signatures still verify) except those `refuse` answers itself: the way a gateway or an
 * S3-compatible service that lacks one API (e.g. multi-object delete) behaves in front of a complete store.
 */
import * as http from 'node:http';

export interface Refusal {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

export interface HttpProxy {
  readonly url: string;
  /** Requests answered by `refuse`, as "METHOD path?query". */
  readonly refused: string[];
  close(): Promise<void>;
}

export async function startHttpProxy(target: string, refuse: (req: http.IncomingMessage) => Refusal | undefined): Promise<HttpProxy> {
  const upstream = new URL(target);
  const refused: string[] = [];
  const server = http.createServer((req, res) => {
    const answer = refuse(req);
    if (answer) {
      refused.push(`${req.method} ${req.url}`);
      req.resume();
      req.on('end', () => {
        res.writeHead(answer.status, { 'content-type': 'application/xml', ...answer.headers });
        res.end(answer.body ?? '');
      });
      return;
    }
    const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', () => { res.destroy(); });
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    refused,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
