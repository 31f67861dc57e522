import { stubCommand } from '../stub-command.js';

export const command = stubCommand('Restore a PostgreSQL WAL file from an object store.', [{ name: 'sourceUrl', help: 'URL of the cloud source, such as a bucket in AWS S3. For example: s3://bucket/path/to/folder' }, { name: 'serverName', help: 'the name of the server as configured in Barman' }, { name: 'walName', help: 'the value of the %f keyword (according to restore_command)' }, { name: 'walDest', help: 'the value of the %p keyword (according to restore_command)' }]);
