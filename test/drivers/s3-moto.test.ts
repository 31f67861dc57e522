import { describeObjectStoreConformance } from '../conformance/object-store.suite.js';
import { requireServer } from '../harness/test-env.js';
import { conformanceTarget } from './s3-helpers.js';

describeObjectStoreConformance('s3 on moto (IAM auth on, SDK default checksums off: when_required)', async () => conformanceTarget(requireServer(undefined, 'moto')));
