import { describeObjectStoreConformance } from '../conformance/object-store.suite.js';
import { requireServer, testEnv } from '../harness/test-env.js';
import { conformanceTarget } from './s3-helpers.js';

// endpointCA path: the harness CA is added to the system roots, not replacing them.
describeObjectStoreConformance('s3 on s3rver over HTTPS with a private CA', async () => {
  const info = requireServer(undefined, 's3rverTls');
  return conformanceTarget(info, { caFile: testEnv().tls.caFile });
});
