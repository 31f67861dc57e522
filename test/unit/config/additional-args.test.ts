import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filterAdditionalArgs } from '../../../src/config/additional-args.js';

test('CNPG rule: manifest args add flags but never override the command line', () => {
  assert.deepEqual(filterAdditionalArgs(['--read-timeout=60', '--min-chunk-size=5MB'], ['--gzip', 's3://b', 'srv']), ['--read-timeout=60', '--min-chunk-size=5MB']);
  assert.deepEqual(filterAdditionalArgs(['--read-timeout=60'], ['--read-timeout=5', 's3://b']), []);
  assert.deepEqual(filterAdditionalArgs(['--read-timeout=60'], ['--read-timeout', '5']), []);
  assert.deepEqual(filterAdditionalArgs(['--gzip', '--gzip', '=x'], []), ['--gzip']);
});

test('manifest options become flags only where the command takes them and the user did not set them', async () => {
  const { manifestArgv, manifestOptionsFor } = await import('../../../src/config/additional-args.js');
  const { parseArgs } = await import('../../../src/cli/args.js');
  const options = [
    { dest: 'gzip', flags: ['-z', '--gzip'], type: 'flag', help: '', exclusiveGroup: 'compression' },
    { dest: 'bzip2', flags: ['-j', '--bzip2'], type: 'flag', help: '', exclusiveGroup: 'compression' },
    { dest: 'encryption', flags: ['-e', '--encryption'], type: 'string', help: '' },
    { dest: 'tags', flags: ['--tags'], type: 'list', help: '' },
  ] as const;
  const spec = { name: 'x', summary: '', positionals: [{ name: 'wal', help: '' }], options };
  const config = {
    wal: { compression: 'gzip', encryption: 'AES256', maxParallel: 4, archiveAdditionalCommandArgs: [], restoreAdditionalCommandArgs: [] },
    data: { immediateCheckpoint: false, additionalCommandArgs: [], restoreAdditionalCommandArgs: [] },
    tags: { env: 'prod', team: 'dba' }, historyTags: {},
  } as unknown as Parameters<typeof manifestOptionsFor>[1];
  const units = manifestOptionsFor('wal-archive', config);
  assert.deepEqual(units, [['--gzip'], ['--encryption', 'AES256'], ['--tags', 'env,prod', 'team,dba'], ['--max-parallel', '4']]);
  // --max-parallel is not an option of this spec: dropped. Tags in --flag=value form cannot swallow the positional.
  const none = parseArgs(spec, ['w']);
  const argv = manifestArgv(units, options, none);
  assert.deepEqual(argv, ['--gzip', '--encryption=AES256', '--tags=env,prod', '--tags=team,dba']);
  assert.deepEqual(parseArgs(spec, [...argv, 'w']).options, { gzip: true, encryption: 'AES256', tags: ['env,prod', 'team,dba'] });
  // The command line wins: --bzip2 excludes the manifest's gzip, -e overrides encryption.
  assert.deepEqual(manifestArgv(units, options, parseArgs(spec, ['-j', '-e', 'aws:kms', 'w'])), ['--tags=env,prod', '--tags=team,dba']);
});
