import { stubCommand } from '../stub-command.js';

export const command = stubCommand('Archive a PostgreSQL WAL file to an object store.', [{ name: 'destinationUrl', help: 'URL of the cloud destination, such as a bucket in AWS S3. For example: s3://bucket/path/to/folder' }, { name: 'serverName', help: 'the name of the server as configured in Barman' }, { name: 'walPath', help: 'the value of the %p keyword (according to archive_command)', optional: true }]);
