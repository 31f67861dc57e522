import { stubCommand } from '../stub-command.js';

export const command = stubCommand('Preflight: try list, put, get and delete under the server prefix and say what works.', [{ name: 'destinationUrl', help: 'URL of the cloud destination, such as a bucket in AWS S3. For example: s3://bucket/path/to/folder' }, { name: 'serverName', help: 'the name of the server as configured in Barman' }]);
