import { stubCommand } from '../stub-command.js';

export const command = stubCommand('Restore a base backup from an object store.', [{ name: 'sourceUrl', help: 'URL of the cloud source, such as a bucket in AWS S3. For example: s3://bucket/path/to/folder' }, { name: 'serverName', help: 'the name of the server as configured in Barman' }, { name: 'backupId', help: 'the backup ID (or latest, or a backup name)' }, { name: 'recoveryDir', help: 'the path to a directory for recovery' }]);
