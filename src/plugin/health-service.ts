/**
 * grpc.health.v1.Health for the sidecar's startup probe (`pgstow plugin healthcheck unix`). "" is the whole
 * server; each served service is listed under its full name. Shutdown turns everything NOT_SERVING first.
 */
import { status as GrpcCode, type ServerWritableStream, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { HealthCheckRequest, HealthCheckResponse, ServingStatus } from './protocol/messages.js';

export class HealthState {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Set<{ service: string; call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse> }>();

  constructor(services: Iterable<string>) {
    this.statuses.set('', 'SERVING');
    for (const s of services) this.statuses.set(s, 'SERVING');
  }

  get(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  /** Sets every known service (and the server) to one status. */
  setAll(status: ServingStatus): void {
    for (const k of this.statuses.keys()) this.statuses.set(k, status);
    for (const w of this.watchers) w.call.write({ status: this.statuses.get(w.service) ?? 'SERVICE_UNKNOWN' });
  }

  /** Ends every Watch stream (the server is going away). */
  endWatches(): void {
    for (const w of this.watchers) w.call.end();
    this.watchers.clear();
  }

  implementation(): UntypedServiceImplementation {
    return {
      Check: (call: { request: HealthCheckRequest }, callback: (err: { code: number; details: string } | null, res?: HealthCheckResponse) => void) => {
        const s = this.statuses.get(call.request.service);
        if (s === undefined) callback({ code: GrpcCode.NOT_FOUND, details: `unknown service ${call.request.service}` });
        else callback(null, { status: s });
      },
      Watch: (call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) => {
        const entry = { service: call.request.service, call };
        this.watchers.add(entry);
        call.write({ status: this.statuses.get(call.request.service) ?? 'SERVICE_UNKNOWN' });
        call.on('cancelled', () => this.watchers.delete(entry));
      },
    } as UntypedServiceImplementation;
  }
}
