import { describeObjectStoreConformance } from '../conformance/object-store.suite.js';
import { requireServer } from '../harness/test-env.js';
import { conformanceTarget, s3Env } from './s3-helpers.js';

describeObjectStoreConformance('s3 on moto (IAM auth on, SDK default checksums off: when_required)', async () => conformanceTarget(requireServer(undefined, 'moto')));

// AWS_REQUEST_CHECKSUM_CALCULATION=when_supported: the SDK's flexible checksums (CRC32) on a server that checks them.
describeObjectStoreConformance('s3 on moto with AWS_REQUEST_CHECKSUM_CALCULATION=when_supported', async () => {
  const info = requireServer(undefined, 'moto');
  if (!info) return undefined;
  return conformanceTarget(info, { env: { ...s3Env(info), AWS_REQUEST_CHECKSUM_CALCULATION: 'when_supported', AWS_RESPONSE_CHECKSUM_VALIDATION: 'when_supported' } });
});
