/** Starts azurite for the global test setup. Not built yet: reported as missing. */
import type { GlobalServerStarter } from '../global-setup.js';

export const startAzurite: GlobalServerStarter = async () => {
  throw new Error('azurite harness not built yet');
};
