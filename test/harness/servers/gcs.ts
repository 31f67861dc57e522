/** Starts gcs for the global test setup. Not built yet: reported as missing. */
import type { GlobalServerStarter } from '../global-setup.js';

export const startGcs: GlobalServerStarter = async () => {
  throw new Error('gcs harness not built yet');
};
