/**
 * A typed CNPG-I client over one channel: what `pgstow plugin healthcheck unix` uses, and what the tests use
 * to play CloudNativePG. `unix:///path` or `host:port` (with TLS credentials for the operator side).
 */
import { Client, credentials as grpcCredentials, makeGenericClientConstructor, Metadata, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import { loadCnpgiDefinitions, type CnpgiDefinitions } from './load-protos.js';
import type { MethodName, RequestOf, ResponseOf, ServiceName } from './messages.js';

export interface CallOptions {
  /** Milliseconds; none by default (CNPG sets none on Unix sockets, 30 s on TCP). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export class CnpgiClient {
  private readonly clients = new Map<ServiceName, Client>();

  private constructor(private readonly defs: CnpgiDefinitions, readonly target: string, private readonly creds: ChannelCredentials, private readonly options: Record<string, unknown>) {}

  /** `unix:///abs/path` or `host:port`. */
  static async connect(target: string, creds: ChannelCredentials = grpcCredentials.createInsecure(), options: Record<string, unknown> = {}): Promise<CnpgiClient> {
    return new CnpgiClient(await loadCnpgiDefinitions(), target, creds, options);
  }

  call<S extends ServiceName, M extends MethodName<S>>(serviceName: S, method: M, request: RequestOf<S, M>, opts: CallOptions = {}): Promise<ResponseOf<S, M>> {
    const client = this.client(serviceName);
    return new Promise((resolve, reject) => {
      const callOptions = opts.timeoutMs !== undefined ? { deadline: Date.now() + opts.timeoutMs } : {};
      const fn = (client as unknown as Record<string, (...a: unknown[]) => { cancel(): void }>)[method];
      if (!fn) { reject(new Error(`${serviceName} has no method ${method}`)); return; }
      const call = fn.call(client, request, new Metadata(), callOptions, (err: ServiceError | null, res: ResponseOf<S, M>) => {
        opts.signal?.removeEventListener('abort', cancel);
        if (err) reject(err); else resolve(res);
      });
      const cancel = (): void => call.cancel();
      opts.signal?.addEventListener('abort', cancel, { once: true });
    });
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  private client(name: ServiceName): Client {
    let c = this.clients.get(name);
    if (!c) {
      const Ctor = makeGenericClientConstructor(this.defs[name], name);
      c = new Ctor(this.target, this.creds, this.options);
      this.clients.set(name, c);
    }
    return c;
  }
}
