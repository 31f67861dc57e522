import { stubCommand } from '../stub-command.js';

export const command = stubCommand('Validate a CloudNativePG manifest: pgstow config check FILE.', [{ name: 'action', help: 'check' }, { name: 'file', help: 'manifest file', optional: true }]);
