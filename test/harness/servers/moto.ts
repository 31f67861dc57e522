/** Starts moto for the global test setup. Not built yet: reported as missing. */
import type { GlobalServerStarter } from '../global-setup.js';

export const startMoto: GlobalServerStarter = async () => {
  throw new Error('moto harness not built yet');
};
