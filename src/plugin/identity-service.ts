/**
 * Identity, built from what the process really serves: CloudNativePG calls GetCapabilities on every service
 * advertised here and fails to load the plugin when one answers UNIMPLEMENTED, so nothing is advertised that
 * is not in the served list (plus marker capabilities, which have no RPCs).
 */
import type { GetPluginMetadataResponse, PluginServiceType } from './protocol/messages.js';
import { service, type ServedService } from './protocol/service-types.js';
import { VERSION } from '../version.js';

/** Capabilities that are markers only (no service behind them). */
export const MARKER_CAPABILITIES: readonly PluginServiceType[] = ['TYPE_INSTANCE_SIDECAR_INJECTION', 'TYPE_INSTANCE_JOB_SIDECAR_INJECTION'];

export function pluginMetadata(name: string, overrides: Partial<GetPluginMetadataResponse> = {}): GetPluginMetadataResponse {
  return {
    name,
    version: VERSION,
    display_name: 'pgstow',
    description: 'Base backups and WAL archiving to object stores in one long-lived process, Barman Cloud compatible',
    project_url: '',
    repository_url: '',
    license: 'Apache-2.0',
    license_url: 'https://www.apache.org/licenses/LICENSE-2.0',
    maturity: 'beta',
    vendor: 'pgstow',
    manifest: {},
    ...overrides,
  };
}

export function identityService(metadata: GetPluginMetadataResponse, served: readonly ServedService[], markers: readonly PluginServiceType[] = []): ServedService<'Identity'> {
  for (const m of markers) {
    if (!MARKER_CAPABILITIES.includes(m)) throw new Error(`${m} is a service capability, not a marker: serve the service instead`);
  }
  const types = [...new Set([...served.flatMap((s) => (s.capability ? [s.capability] : [])), ...markers])];
  const capabilities = types.map((type) => ({ service: { type } }));
  return service('Identity', undefined, {
    GetPluginMetadata: () => metadata,
    GetPluginCapabilities: () => ({ capabilities }),
    Probe: () => ({ ready: true }),
  });
}
