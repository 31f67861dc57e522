import { describeObjectStoreConformance } from '../conformance/object-store.suite.js';
import { requireServer } from '../harness/test-env.js';
import { conformanceTarget } from './s3-helpers.js';

describeObjectStoreConformance('s3 on s3rver over HTTP (strict SigV4)', async () => conformanceTarget(requireServer(undefined, 's3rver')));
