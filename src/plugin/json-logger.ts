/**
 * The plugin's logger: one JSON object per line on stdout, as CloudNativePG's own containers log (level, ts,
 * logger, msg, then fields), so `kubectl logs` and log pipelines read the sidecar like the instance manager.
 * Every message and string field passes the redactor with the secret values of the configurations in use.
 */
import type { Writable } from 'node:stream';
import { redact } from '../cli/redact.js';
import { UsageError } from '../errors.js';

export const PLUGIN_LOG_LEVELS = ['error', 'warning', 'info', 'debug', 'trace'] as const;
export type PluginLogLevel = (typeof PLUGIN_LOG_LEVELS)[number];
const ORDER: Record<PluginLogLevel, number> = { error: 50, warning: 40, info: 30, debug: 20, trace: 10 };

export type LogFields = Readonly<Record<string, unknown>>;

export interface PluginLogger {
  readonly level: PluginLogLevel;
  trace(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warning(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger adding these fields to every line (e.g. the RPC, the WAL name). */
  child(fields: LogFields): PluginLogger;
  enabled(level: PluginLogLevel): boolean;
}

/** Secret values known so far; configurations add theirs as they are resolved. Shared by a logger and its children. */
export class SecretRegistry {
  private readonly values = new Set<string>();
  add(values: Iterable<string>): void {
    for (const v of values) if (v.length >= 4) this.values.add(v);
  }
  redact(text: string): string {
    return redact(text, [...this.values]);
  }
}

export function parseLogLevel(text: string): PluginLogLevel {
  // Upstream's sidecar takes "warning"; zap-style "warn" is accepted too.
  const t = text === 'warn' ? 'warning' : text;
  if ((PLUGIN_LOG_LEVELS as readonly string[]).includes(t)) return t as PluginLogLevel;
  throw new UsageError(`argument --log-level: invalid choice: '${text}' (choose from ${PLUGIN_LOG_LEVELS.map((l) => `'${l}'`).join(', ')})`);
}

export interface JsonLoggerOptions {
  stream: Writable;
  level: PluginLogLevel;
  secrets?: SecretRegistry;
  /** Name in the "logger" field. */
  name?: string;
  now?: () => Date;
}

export function createJsonLogger(options: JsonLoggerOptions, base: LogFields = {}): PluginLogger {
  const secrets = options.secrets ?? new SecretRegistry();
  const now = options.now ?? (() => new Date());
  const name = options.name ?? 'pgstow';
  const write = (level: PluginLogLevel, msg: string, fields?: LogFields): void => {
    if (ORDER[level] < ORDER[options.level]) return;
    const line: Record<string, unknown> = { level, ts: now().toISOString(), logger: name, msg: secrets.redact(msg) };
    for (const [k, v] of Object.entries({ ...base, ...fields })) {
      if (v === undefined || k in line) continue;
      line[k] = scrub(v, secrets);
    }
    options.stream.write(`${JSON.stringify(line)}\n`);
  };
  return {
    level: options.level,
    trace: (m, f) => write('trace', m, f),
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warning: (m, f) => write('warning', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => createJsonLogger({ ...options, secrets }, { ...base, ...fields }),
    enabled: (level) => ORDER[level] >= ORDER[options.level],
  };
}

function scrub(v: unknown, secrets: SecretRegistry): unknown {
  if (typeof v === 'string') return secrets.redact(v);
  if (v instanceof Error) return secrets.redact(v.message);
  if (Array.isArray(v)) return v.map((x) => scrub(x, secrets));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = scrub(x, secrets);
    return out;
  }
  return v;
}

export const silentPluginLogger: PluginLogger = {
  level: 'error', trace() {}, debug() {}, info() {}, warning() {}, error() {},
  child: () => silentPluginLogger, enabled: () => false,
};
