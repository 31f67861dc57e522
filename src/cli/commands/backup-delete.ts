import { stubCommand } from '../stub-command.js';

export const command = stubCommand('Delete backups by id or by retention policy.', [{ name: 'sourceUrl', help: 'URL of the cloud source, such as a bucket in AWS S3. For example: s3://bucket/path/to/folder' }, { name: 'serverName', help: 'the name of the server as configured in Barman' }]);
