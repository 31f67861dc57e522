/**
 * The program around every command: resolves the command name, lazily loads only that command's module from
 * the table it is given (archive_command start-up time matters), and is the one place that maps errors to
 * exit codes and prints them: one line, no stack trace unless --debug, secrets scrubbed. main.ts gives it every
 * command; wal-main.ts (bundled into one file for restore_command and archive_command) only the WAL commands.
 */
import { setMaxListeners } from 'node:events';
import { ExitCode, isPgstowError, UsageError } from '../errors.js';
import { formatHelp } from '../config/argv.js';
import { parseCommandArgs } from './common-options.js';
import type { Command, CommandContext } from './command.js';
import { createLogger, levelFromVerbosity } from './logger.js';
import { redact, secretsFromArgv, secretsFromEnv } from './redact.js';
import { barmanRefusalExitCode } from '../storage/errors.js';
import { VERSION } from '../version.js';

/** Command name → loader of its module (`backup list|show|delete|keep` are routed to backup-* in resolveCommand). */
export type CommandTable = Readonly<Record<string, () => Promise<{ command: Command }>>>;
/** barman-cloud-* program names → pgstow command. */
export const BARMAN_COMMANDS: Record<string, string> = {
  'barman-cloud-wal-archive': 'wal-archive',
  'barman-cloud-wal-restore': 'wal-restore',
  'barman-cloud-backup': 'backup',
  'barman-cloud-restore': 'restore',
  'barman-cloud-backup-list': 'backup-list',
  'barman-cloud-backup-show': 'backup-show',
  'barman-cloud-backup-delete': 'backup-delete',
  'barman-cloud-backup-keep': 'backup-keep',
  'barman-cloud-check-wal-archive': 'check-wal-archive',
};

const BACKUP_SUBCOMMANDS = new Set(['list', 'show', 'delete', 'keep']);

/** Commands that exit with barmanRefusalExitCode when the store refuses the credentials (not the WAL commands: 4). */
const BARMAN_REFUSAL_COMMANDS = new Set(['check-wal-archive', 'backup-list', 'backup-show', 'backup-delete', 'backup-keep', 'restore', 'backup']);

const PGSTOW_HELP = `usage: pgstow <command> [options] ...

PostgreSQL base backups and continuous WAL archiving to object stores (S3, Azure Blob, GCS, filesystem),
layout-compatible with Barman Cloud.

commands:
  wal-archive         archive one WAL file (archive_command)
  wal-restore         restore one WAL file (restore_command)
  backup              take a base backup
  backup list         list backups
  backup show         show one backup
  backup delete       delete backups by id or retention policy
  backup keep         keep a backup forever (or release it)
  restore             restore a base backup, optionally with point-in-time recovery settings
  check-wal-archive   check that a WAL archive is empty (or has nothing on newer timelines)
  check-store         preflight: try list, put, get and delete on a destination
  config check        validate a CloudNativePG manifest and show what it resolves to
  demo                archive, back up and restore a throwaway PostgreSQL into a local store
  plugin              run as a CloudNativePG CNPG-I plugin (instance, restore, healthcheck unix)

Every barman-cloud-* command is also installed under its Barman name.
Run 'pgstow <command> --help' for a command's options.
`;

export interface RunOptions {
  env?: Readonly<Record<string, string | undefined>>;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

/**
 * The bin scripts: runs the command with the process's arguments and sets the exit code. A request an SDK cannot
 * abort (GCS) must not keep archive_command running past the store deadline, so once the command has finished
 * the process gets 2 s to flush its output, then ends even if a socket is still open.
 */
export async function runAsProgram(program: string, commands: CommandTable): Promise<void> {
  quietSdkWarnings();
  process.exitCode = await runCli(program, process.argv.slice(2), {}, commands);
  setTimeout(() => process.exit(), 2000).unref();
}

/**
 * @google-cloud/storage 8 (teeny-request) puts more than Node's default of 10 listeners on one PassThrough per
 * request, and Node prints a MaxListenersExceededWarning on every GCS command (googleapis/google-cloud-node#9185):
 * a line in PostgreSQL's log per WAL. The program (never the library) drops that one warning; every other
 * warning is printed as Node prints it.
 */
function quietSdkWarnings(): void {
  const printers = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (w) => {
    if (w.name === 'MaxListenersExceededWarning' && w.message.includes('[PassThrough]')) return;
    for (const print of printers) print(w);
  });
}

/** Runs a command line; returns the exit code (never calls process.exit). */
export async function runCli(program: string, argv: readonly string[], run: RunOptions, commands: CommandTable): Promise<number> {
  const env = run.env ?? process.env;
  // The AWS SDK warns on stderr about old Node versions on every run; that line would land in PostgreSQL's log
  // per WAL. This is the command's own process (the engine never writes process.env).
  if (run.env === undefined) process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const stdout = (run.stdout ?? process.stdout) as CommandContext['stdout'];
  const stderr = (run.stderr ?? process.stderr) as CommandContext['stderr'];
  const secrets = [...secretsFromEnv(env), ...secretsFromArgv(argv)];
  const debug = argv.includes('--debug');
  const controller = new AbortController();
  // Every in-flight request (catalog reads run 8 at a time, plus retries and streams) listens on this one
  // signal; Node's default of 10 printed a MaxListenersExceededWarning on the drop-ins' stderr.
  setMaxListeners(64, controller.signal);
  const onSignal = (sig: NodeJS.Signals): void => controller.abort(new Error(`interrupted by ${sig}`));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let invokedAs = program;
  let commandName: string | undefined;
  try {
    const resolved = resolveCommand(program, argv);
    if (!resolved) {
      if (argv.includes('--version') || argv.includes('-V')) { stdout.write(`pgstow ${VERSION}\n`); return ExitCode.OK; }
      if (argv.length === 0 || argv.includes('--help') || argv[0] === 'help') { stdout.write(PGSTOW_HELP); return argv.length === 0 ? ExitCode.USAGE : ExitCode.OK; }
      throw new UsageError(`unknown command "${argv[0]}" (run 'pgstow --help')`);
    }
    invokedAs = resolved.invokedAs;
    commandName = resolved.name;
    const loader = commands[resolved.name];
    if (!loader) throw new UsageError(`unknown command "${resolved.name}"`);
    const { command } = await loader();
    const spec = command.spec(invokedAs);
    if (resolved.args.includes('--help')) { stdout.write(formatHelp(spec)); return ExitCode.OK; }
    if (resolved.args.includes('--version') || resolved.args.includes('-V')) {
      stdout.write(resolved.barmanMode ? `${invokedAs} 3.4.0 (pgstow ${VERSION})\n` : `pgstow ${VERSION}\n`);
      return ExitCode.OK;
    }
    const args = parseCommandArgs(spec, resolved.args, env, resolved.barmanMode);
    const level = levelFromVerbosity(args.options.verbose as number | undefined, args.options.quiet as number | undefined);
    const log = createLogger(stderr, debug ? 'debug' : level, secrets);
    const ctx: CommandContext = { invokedAs, barmanMode: resolved.barmanMode, env, stdout, stderr, log, secrets, signal: controller.signal };
    const code = await command.run(args, ctx);
    return code ?? ExitCode.OK;
  } catch (err) {
    const code = reportError(err, invokedAs, stderr, secrets, debug);
    // Refused credentials or permissions exit as barman-cloud's connectivity test makes them (S3 4, Azure/GCS 2).
    return BARMAN_REFUSAL_COMMANDS.has(commandName ?? '') ? barmanRefusalExitCode(err) ?? code : code;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

interface ResolvedCommand { name: string; invokedAs: string; barmanMode: boolean; args: readonly string[] }

function resolveCommand(program: string, argv: readonly string[]): ResolvedCommand | undefined {
  const barman = BARMAN_COMMANDS[program];
  if (barman) return { name: barman, invokedAs: program, barmanMode: true, args: argv };
  const first = argv[0];
  if (first === undefined || first.startsWith('-') || first === 'help') return undefined;
  if (first === 'backup' && argv[1] !== undefined && BACKUP_SUBCOMMANDS.has(argv[1])) {
    return { name: `backup-${argv[1]}`, invokedAs: `pgstow backup ${argv[1]}`, barmanMode: false, args: argv.slice(2) };
  }
  if (first === 'config') return { name: 'config', invokedAs: 'pgstow config', barmanMode: false, args: argv.slice(1) };
  return { name: first, invokedAs: `pgstow ${first}`, barmanMode: false, args: argv.slice(1) };
}

function reportError(err: unknown, invokedAs: string, stderr: NodeJS.WritableStream, secrets: string[], debug: boolean): number {
  const exitCode = isPgstowError(err) ? err.exitCode : ExitCode.GENERAL;
  const message = err instanceof Error ? err.message : String(err);
  stderr.write(redact(`${invokedAs}: error: ${message}\n`, secrets));
  if (debug) {
    let cur: unknown = err;
    while (cur) {
      const text = cur instanceof Error ? (cur.stack ?? cur.message) : String(cur);
      stderr.write(redact(`${text}\n`, secrets));
      cur = cur instanceof Error ? cur.cause : undefined;
      if (cur) stderr.write('caused by: ');
    }
  }
  return exitCode;
}
