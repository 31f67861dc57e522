import { stubCommand } from '../stub-command.js';

export const command = stubCommand('Show the details of one backup.', [{ name: 'sourceUrl', help: 'URL of the cloud source, such as a bucket in AWS S3. For example: s3://bucket/path/to/folder' }, { name: 'serverName', help: 'the name of the server as configured in Barman' }, { name: 'backupId', help: 'the backup ID' }]);
