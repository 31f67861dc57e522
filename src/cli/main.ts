/**
 * Entry point for `pgstow` and every barman-cloud-* drop-in: the table of every command, run by program.ts
 * (which parses the command name, loads only that command's module and maps errors to exit codes).
 */
import { runAsProgram as runProgram, runCli as runWithCommands, type CommandTable, type RunOptions } from './program.js';

export { BARMAN_COMMANDS, type RunOptions } from './program.js';

/** pgstow subcommands. `backup list|show|delete|keep` are routed in program.ts resolveCommand. */
const COMMANDS: CommandTable = {
  'wal-archive': () => import('./commands/wal-archive.js'),
  'wal-restore': () => import('./commands/wal-restore.js'),
  'backup': () => import('./commands/backup.js'),
  'restore': () => import('./commands/restore.js'),
  'backup-list': () => import('./commands/backup-list.js'),
  'backup-show': () => import('./commands/backup-show.js'),
  'backup-delete': () => import('./commands/backup-delete.js'),
  'backup-keep': () => import('./commands/backup-keep.js'),
  'check-wal-archive': () => import('./commands/check-wal-archive.js'),
  'check-store': () => import('./commands/check-store.js'),
  'config': () => import('./commands/config.js'),
  'demo': () => import('./commands/demo.js'),
  'plugin': () => import('../plugin/plugin-command.js'),
};

/** The bin scripts: runs the command with the process's arguments and sets the exit code (program.ts). */
export function runAsProgram(program: string): Promise<void> {
  return runProgram(program, COMMANDS);
}

/** Runs a command line; returns the exit code (never calls process.exit). */
export function runCli(program: string, argv: readonly string[], run: RunOptions = {}): Promise<number> {
  return runWithCommands(program, argv, run, COMMANDS);
}
