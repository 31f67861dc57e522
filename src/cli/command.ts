/** What a command module exports. Commands parse, compose, call one service, print; main.ts maps errors. */
import type { Writable } from 'node:stream';
import type { CommandSpec, ParsedArgs } from '../config/argv.js';
import type { CliLogger as Logger } from './logger.js';

export interface CommandContext {
  /** barman-cloud-* name or "pgstow <sub>"; decides output style where Barman's differs from pgstow's. */
  invokedAs: string;
  /** True when run as a barman-cloud-* drop-in. */
  barmanMode: boolean;
  env: Readonly<Record<string, string | undefined>>;
  stdout: Writable;
  stderr: Writable;
  log: Logger;
  /** Secret values to scrub from anything printed. */
  secrets: string[];
  /** Aborted on SIGINT/SIGTERM: every long operation takes it. */
  signal: AbortSignal;
}

export interface Command {
  spec(invokedAs: string): CommandSpec;
  /** Returns the exit code (0 when undefined). Throws PgstowError for failures. */
  run(args: ParsedArgs, ctx: CommandContext): Promise<number | void>;
}
