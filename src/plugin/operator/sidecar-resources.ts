/**
 * Default requests and limits for the injected sidecar, used when the ObjectStore sets none
 * (`spec.instanceSidecarConfiguration.resources`). plugin-barman-cloud injects none, and its users meet OOM
 * kills or unbounded growth (cnpg-i.md §5.4); a Node process with a measured peak can be bounded.
 *
 * Formula (docs/cnpg-plugin-operator.md "Sidecar resources"), rounded up to 64 MiB:
 *   memory request = peak RSS        (what the scheduler must reserve)
 *   memory limit   = 2 × peak RSS    (heap growth between collections, TLS and upload buffers of parallel
 *                                     uploads; a limit is a hard kill, so a 2× margin)
 *   cpu request    = 100m; no cpu limit (a throttled sidecar slows archiving and backups; the node's spare
 *                                     CPU is better used than left idle; the request keeps it scheduled fairly)
 * PEAK_RSS_MIB is the sidecar's highest RSS measured by bench/plugin-memory.ts (2026-12-06, engine facade with
 * the paced memory budget, the allocator/V8 variables the injection sets, s3rver): VmHWM 245 MiB while archiving
 * 16 MiB segments one at a time; a backup of a 1.1 GiB database peaked lower (173 MiB). docs/cnpg-plugin.md
 * "Resources" has the numbers. A request of 256Mi and a limit of 512Mi.
 */
import type { ResourceRequirements } from './object-store.js';

export const PEAK_RSS_MIB = 245;

const roundUp64 = (mib: number): number => Math.ceil(mib / 64) * 64;

export function defaultSidecarResources(peakMiB = PEAK_RSS_MIB): ResourceRequirements {
  return {
    requests: { cpu: '100m', memory: `${roundUp64(peakMiB)}Mi` },
    limits: { memory: `${roundUp64(2 * peakMiB)}Mi` },
  };
}
