/**
 * `pgstow restore` options as parsed: --target-timeline is pgstow's alias of --recovery-target-timeline (the
 * PITR timeline), never Barman's --target-tli (which only chooses a backup), and the barman-cloud-restore
 * drop-in keeps Barman's exact option set.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs } from '../../../../src/config/argv.js';
import { command } from '../../../../src/cli/commands/restore.js';
import { UsageError } from '../../../../src/errors.js';
import { runCli } from '../../../harness/cli.js';

const POS = ['file:///tmp/none', 'pg', 'latest', '/tmp/none-restore'];

test('pgstow restore: --target-timeline sets the recovery timeline, --target-tli stays backup selection', () => {
  const spec = command.spec('pgstow restore');
  const a = parseArgs(spec, ['--target-timeline', '2', '--recovery-target-immediate', ...POS]);
  assert.equal(a.options.recoveryTargetTimeline, '2');
  assert.equal(a.options.targetTli, undefined);
  assert.equal(parseArgs(spec, ['--target-timeline=latest', ...POS]).options.recoveryTargetTimeline, 'latest');
  assert.equal(parseArgs(spec, ['--recovery-target-timeline', '3', ...POS]).options.recoveryTargetTimeline, '3');
  const b = parseArgs(spec, ['--target-tli', '2', ...POS]);
  assert.equal(b.options.targetTli, '2');
  assert.equal(b.options.recoveryTargetTimeline, undefined);
  assert.equal(parseArgs(spec, ['--target-time', '2026-01-01 00:00:00', ...POS]).options.targetTime, '2026-01-01 00:00:00');
});

test('barman-cloud-restore keeps Barman options: no --target-timeline, --target-tim still means --target-time', () => {
  const spec = command.spec('barman-cloud-restore');
  assert.throws(() => parseArgs(spec, ['--target-timeline', '2', ...POS]), (e: unknown) => e instanceof UsageError);
  assert.equal(parseArgs(spec, ['--target-tim', '2026-01-01 00:00:00', ...POS]).options.targetTime, '2026-01-01 00:00:00');
});

test('pgstow restore --help lists --target-timeline; a bad timeline is a usage error (exit 3, as in Barman)', async () => {
  const help = await runCli('pgstow', ['restore', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--target-timeline TLI\s+\(pgstow\) alias of --recovery-target-timeline/);
  const r = await runCli('pgstow', ['restore', '--cloud-provider', 'file', '--recovery-target-immediate', '--target-timeline', 'nope', ...POS]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /invalid recovery target timeline "nope"/);
});
