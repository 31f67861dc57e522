/**
 * Default requests and limits for the injected sidecar, used when the ObjectStore sets none
 * (`spec.instanceSidecarConfiguration.resources`). plugin-barman-cloud injects none, and its users meet OOM
 * kills or unbounded growth (cnpg-i.md §5.4); a Node process with a known peak can be bounded.
 *
 * Formula (docs/cnpg-plugin-operator.md "Sidecar resources"):
 *   memory limit   = next power of two ≥ 2 × measured peak RSS   (heap growth between GCs, TLS and upload
 *                    buffers of parallel uploads; a limit is a hard kill, so it keeps a 2× margin)
 *   memory request = next power of two ≥ measured peak RSS       (what the scheduler must reserve)
 *   cpu request    = 100m; no cpu limit (a throttled sidecar slows archiving and backups, and the node's
 *                    spare CPU is better used than left idle; the request keeps it scheduled fairly)
 * The peak is the issue-15 target (100 MiB for archiving at full speed and a backup with its default
 * parallelism) until bench/ publishes a measured value; update PEAK_RSS_MIB from there.
 */
import type { ResourceRequirements } from './object-store.js';

export const PEAK_RSS_MIB = 100;

const nextPowerOfTwo = (n: number): number => 2 ** Math.ceil(Math.log2(n));

export function defaultSidecarResources(peakMiB = PEAK_RSS_MIB): ResourceRequirements {
  return {
    requests: { cpu: '100m', memory: `${nextPowerOfTwo(peakMiB)}Mi` },
    limits: { memory: `${nextPowerOfTwo(2 * peakMiB)}Mi` },
  };
}
