import { stubCommand } from '../stub-command.js';

export const command = stubCommand('Take a base backup of a PostgreSQL server into an object store.', [{ name: 'destinationUrl', help: 'URL of the cloud destination, such as a bucket in AWS S3. For example: s3://bucket/path/to/folder' }, { name: 'serverName', help: 'the name of the server as configured in Barman' }]);
