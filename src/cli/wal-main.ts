/**
 * Entry point of the WAL commands alone (archive_command and restore_command run one process per segment):
 * the same program as main.ts with a table of only wal-archive and wal-restore, so that a bundler starting
 * here (scripts/bundle-cli.mjs) takes in their code and nothing of the other commands. start.ts routes here
 * exactly the command lines isWalCommandLine() accepts.
 */
import { runAsProgram as runProgram, type CommandTable } from './program.js';

const WAL_COMMANDS: CommandTable = {
  'wal-archive': () => import('./commands/wal-archive.js'),
  'wal-restore': () => import('./commands/wal-restore.js'),
};

export function runAsProgram(program: string): Promise<void> {
  return runProgram(program, WAL_COMMANDS);
}
