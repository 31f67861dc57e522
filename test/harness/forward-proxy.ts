/**
 * A forward HTTP proxy on 127.0.0.1, as a corporate proxy behaves: CONNECT tunnels for https:// targets, requests
 * in absolute form ("GET http://host:port/path") for http:// ones, optional Basic authentication (407 otherwise).
 * It records what went through it, so a test can tell that a command used the proxy (and which targets).
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { pipeline } from 'node:stream';

export interface ForwardProxy {
  readonly url: string;
  /** "CONNECT host:port" per tunnel, "METHOD http://host:port/path" per forwarded request. */
  readonly seen: string[];
  /** The headers of each entry of `seen`, in the same order (a forwarded request's, or the CONNECT's). */
  readonly headers: http.IncomingHttpHeaders[];
  /** Requests refused for missing or wrong credentials. */
  readonly refused: number;
  close(): Promise<void>;
}

export async function startForwardProxy(options: { user?: string; password?: string } = {}): Promise<ForwardProxy> {
  const seen: string[] = [];
  const headers: http.IncomingHttpHeaders[] = [];
  const tunnels = new Set<net.Socket>();
  let refused = 0;
  const expected = options.user === undefined ? undefined
    : `Basic ${Buffer.from(`${options.user}:${options.password ?? ''}`).toString('base64')}`;
  const allowed = (req: http.IncomingMessage): boolean => expected === undefined || req.headers['proxy-authorization'] === expected;
  const server = http.createServer((req, res) => {
    if (!allowed(req)) { refused++; res.writeHead(407, { 'proxy-authenticate': 'Basic realm="test"' }).end(); return; }
    seen.push(`${req.method} ${req.url}`);
    headers.push(req.headers);
    const target = new URL(req.url ?? '');
    const forwarded = { ...req.headers };
    delete forwarded['proxy-authorization'];
    const out = http.request({ host: target.hostname, port: target.port, method: req.method, path: `${target.pathname}${target.search}`, headers: forwarded }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      pipeline(up, res, () => undefined);
    });
    out.on('error', () => res.destroy());
    pipeline(req, out, () => undefined);
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    if (!allowed(req)) { refused++; client.end('HTTP/1.1 407 Proxy Authentication Required\r\nproxy-authenticate: Basic realm="test"\r\ncontent-length: 0\r\n\r\n'); return; }
    seen.push(`CONNECT ${req.url}`);
    headers.push(req.headers);
    tunnels.add(client);
    client.on('close', () => tunnels.delete(client));
    const [host, port] = (req.url ?? '').split(/:(?=\d+$)/);
    const upstream = net.connect(Number(port), host!, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      pipeline(client, upstream, client, () => undefined);
    });
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    headers,
    get refused() { return refused; },
    close: () => new Promise<void>((resolve) => {
      for (const socket of tunnels) socket.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
