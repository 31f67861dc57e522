import { stubCommand } from '../stub-command.js';

export const command = stubCommand('Archive, back up and restore a throwaway PostgreSQL into a local file:// store.', []);
