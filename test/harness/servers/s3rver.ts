/** Starts s3rver for the global test setup. Not built yet: reported as missing. */
import type { GlobalServerStarter } from '../global-setup.js';

export const startS3rver: GlobalServerStarter = async () => {
  throw new Error('s3rver harness not built yet');
};
