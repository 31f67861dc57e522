import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs, parseSize, type CommandSpec } from '../../../src/config/argv.js';
import { UsageError } from '../../../src/errors.js';

const spec: CommandSpec = {
  name: 't', summary: '', positionals: [{ name: 'url', help: '' }, { name: 'server', help: '' }, { name: 'wal', help: '', optional: true }],
  options: [
    { dest: 'gzip', flags: ['-z', '--gzip'], type: 'flag', help: '', exclusiveGroup: 'c' },
    { dest: 'bzip2', flags: ['-j', '--bzip2'], type: 'flag', help: '', exclusiveGroup: 'c' },
    { dest: 'verbose', flags: ['-v', '--verbose'], type: 'count', help: '' },
    { dest: 'tags', flags: ['--tags'], type: 'list', help: '' },
    { dest: 'endpointUrl', flags: ['--endpoint-url'], type: 'string', help: '' },
    { dest: 'jobs', flags: ['-J', '--jobs'], type: 'int', help: '' },
    { dest: 'provider', flags: ['--cloud-provider'], type: 'string', choices: ['aws-s3', 'azure-blob-storage'], help: '' },
  ],
};

test('parses Barman-style command lines', () => {
  const a = parseArgs(spec, ['-z', '-vv', '--tags', 'a,b', 'c,d', '--endpoint-url=http://x', '-J', '4', 's3://b', 'srv', '/p/0001']);
  assert.deepEqual(a.options, { gzip: true, verbose: 2, tags: ['a,b', 'c,d'], endpointUrl: 'http://x', jobs: 4 });
  assert.deepEqual(a.positionals, { url: 's3://b', server: 'srv', wal: '/p/0001' });
  assert.equal(parseArgs(spec, ['--endpoint', 'http://y', 'u', 's']).options.endpointUrl, 'http://y');
});

test('usage errors are UsageError (exit 3)', () => {
  assert.throws(() => parseArgs(spec, ['-z', '-j', 'u', 's']), /not allowed with/);
  assert.throws(() => parseArgs(spec, ['u']), /required: server/);
  assert.throws(() => parseArgs(spec, ['--nope', 'u', 's']), UsageError);
  assert.throws(() => parseArgs(spec, ['--cloud-provider', 'gcs', 'u', 's']), /invalid choice/);
  assert.throws(() => parseArgs(spec, ['-J', 'x', 'u', 's']), /invalid int/);
  assert.throws(() => parseArgs(spec, ['u', 's', 'w', 'extra']), /unrecognized/);
});

test('sizes follow Barman check_size (binary for KB/MB, decimal for KiB)', () => {
  assert.equal(parseSize('100GB'), 100 * 1024 ** 3);
  assert.equal(parseSize('5MB'), 5 * 1024 ** 2);
  assert.equal(parseSize('64KiB'), 64000);
  assert.equal(parseSize('1.5kb'), 1536);
  assert.equal(parseSize('42'), 42);
  assert.throws(() => parseSize('lots'), UsageError);
});
