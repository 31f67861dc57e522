/**
 * The CLI's Logger: barman-cloud's shape on stderr (`<time> [<pid>] LEVEL: message`); data output goes to
 * stdout. Every line passes through the redactor so a secret that leaks into an SDK message never reaches a
 * log. Warning codes are for library hosts; the CLI prints Barman's lines as they are.
 */
import type { Writable } from 'node:stream';
import type { Logger, LogLevel, WarningCode } from '../logger.js';
import { redact } from './redact.js';

export type { LogLevel };

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warning: 30, error: 40 };

export interface CliLogger extends Logger {
  readonly level: LogLevel;
}

/** Barman's level: WARNING - 10 × (verbose - quiet), floored at DEBUG. */
export function levelFromVerbosity(verbose = 0, quiet = 0): LogLevel {
  const n = 30 - 10 * (verbose - quiet);
  if (n <= 10) return 'debug';
  if (n <= 20) return 'info';
  if (n <= 30) return 'warning';
  return 'error';
}

export function createLogger(stream: Writable, level: LogLevel, secrets: readonly string[] = []): CliLogger {
  const write = (l: LogLevel, msg: string): void => {
    if (ORDER[l] < ORDER[level]) return;
    const ts = new Date().toISOString().replace('T', ' ').replace('Z', '');
    stream.write(`${ts} [${process.pid}] ${l.toUpperCase()}: ${redact(msg, secrets)}\n`);
  };
  return {
    level,
    debug: (m) => write('debug', m),
    info: (m) => write('info', m),
    warning: (_code: WarningCode, m: string) => write('warning', m),
    error: (m) => write('error', m),
  };
}

export const silentLogger: CliLogger = { level: 'error', debug() {}, info() {}, warning() {}, error() {} };
