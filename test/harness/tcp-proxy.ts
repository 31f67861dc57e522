/**
 * A TCP proxy on 127.0.0.1 in front of a real store server, to make it misbehave the way networks and
 * overloaded stores do: forward normally, accept connections and then never answer ("hang"), stall or cut a
 * response after some bytes. The mode can change between requests (new connections take the current mode).
 */
import * as net from 'node:net';

export type ProxyMode =
  /** Pass bytes both ways. */
  | { kind: 'forward' }
  /** Accept, read and drop what the client sends, never connect upstream, never answer. */
  | { kind: 'hang' }
  /** Forward, but after `afterBytes` bytes of response stop forwarding (sockets stay open). */
  | { kind: 'stall'; afterBytes: number }
  /** Forward, but after `afterBytes` bytes of response destroy both sockets (a cut download). */
  | { kind: 'cut'; afterBytes: number };

export interface TcpProxy {
  readonly port: number;
  /** http://127.0.0.1:PORT (or https://… with scheme "https"). */
  url(scheme?: 'http' | 'https'): string;
  setMode(mode: ProxyMode): void;
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }, initial: ProxyMode = { kind: 'forward' }): Promise<TcpProxy> {
  let mode: ProxyMode = initial;
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket): void => { sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => undefined); };

  const server = net.createServer((client) => {
    connections++;
    track(client);
    const m = mode;
    if (m.kind === 'hang') {
      client.resume(); // read and drop: the request is "sent", no answer ever comes
      return;
    }
    const upstream = net.connect(target.port, target.host);
    track(upstream);
    client.pipe(upstream);
    if (m.kind === 'forward') {
      upstream.pipe(client);
    } else {
      let sent = 0;
      upstream.on('data', (chunk: Buffer) => {
        if (sent >= m.afterBytes) return;
        const room = m.afterBytes - sent;
        const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
        sent += part.length;
        client.write(part);
        if (sent >= m.afterBytes) {
          if (m.kind === 'cut') { client.destroy(); upstream.destroy(); }
          // stall: keep both sockets open and forward nothing more
        }
      });
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => { if (mode.kind === 'forward') client.end(); });
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', () => resolve()); });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: (scheme = 'http') => `${scheme}://127.0.0.1:${port}`,
    setMode: (next) => { mode = next; },
    get connections() { return connections; },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** host and port of an http(s)://host:port[/…] URL, for startTcpProxy. */
export function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)) };
}
