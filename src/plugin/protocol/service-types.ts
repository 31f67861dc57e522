/** Typed server-side implementations of the CNPG-I services (see messages.ts for the message shapes). */
import type { Metadata } from '@grpc/grpc-js';
import type { MethodName, PluginServiceType, RequestOf, ResponseOf, ServiceName } from './messages.js';

export interface CallContext {
  /** `<service>/<method>`, for logs. */
  method: string;
  metadata: Metadata;
  /** Aborted when the client cancels or the server's shutdown grace period ends. */
  signal: AbortSignal;
}

export type Handler<S extends ServiceName, M extends MethodName<S>> =
  (request: RequestOf<S, M>, ctx: CallContext) => Promise<ResponseOf<S, M>> | ResponseOf<S, M>;

/** Methods left out answer UNIMPLEMENTED (grpc-js's default). */
export type ServiceImplementation<S extends ServiceName> = { [M in MethodName<S>]?: Handler<S, M> };

/** A service a plugin process serves, with the Identity capability that announces it. */
export interface ServedService<S extends ServiceName = ServiceName> {
  name: S;
  /** What Identity.GetPluginCapabilities lists for it; none for Identity and Health themselves. */
  capability?: PluginServiceType;
  implementation: ServiceImplementation<S>;
}

/** Helps TypeScript check an implementation against its service. */
export function service<S extends ServiceName>(name: S, capability: PluginServiceType | undefined, implementation: ServiceImplementation<S>): ServedService<S> {
  return capability === undefined ? { name, implementation } : { name, capability, implementation };
}
